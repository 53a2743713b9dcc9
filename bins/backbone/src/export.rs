//! `backbone database export [--sensitive]` (admin-and-services §3): the most important tables
//! as CSVs in one zip, `<tmp>/enmeshed/backbone/export-yyyyMMdd_HHmmss.zip`, replacing older
//! exports. Rows are streamed from the database through the CSV and zip writers, so memory
//! stays flat however large the tables are. A progress bar per table is drawn only on a
//! terminal.

mod tables;

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use backbone_db::sqlx;
use backbone_db::Database;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use zip::write::SimpleFileOptions;
use zip::ZipWriter;

use tables::{Table, Values, TABLES};

/// Where the exports go: `<tmp>/enmeshed/backbone`.
pub fn export_directory() -> PathBuf {
    std::env::temp_dir().join("enmeshed").join("backbone")
}

/// Writes the zip and returns its path.
pub async fn export(db: &Database, sensitive: bool, now: DateTime<Utc>) -> anyhow::Result<PathBuf> {
    let directory = export_directory();
    std::fs::create_dir_all(&directory).with_context(|| format!("creating {}", directory.display()))?;
    delete_old_exports(&directory)?;
    let path = directory.join(format!("export-{}.zip", now.format("%Y%m%d_%H%M%S")));
    // Written under a temporary name, so an interrupted export never looks complete.
    let partial = path.with_extension("zip.partial");
    let file = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut zip = ZipWriter::new(file);
    for table in TABLES {
        export_table(db, table, sensitive, &mut zip)
            .await
            .with_context(|| format!("exporting {}", table.file))?;
    }
    zip.finish().context("finishing the zip file")?;
    std::fs::rename(&partial, &path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(path)
}

/// Only the names this command writes itself (`export-….zip`, `export-….zip.partial`).
#[expect(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "exactly the names this command writes, never another file's"
)]
fn is_own_export(name: &str) -> bool {
    name.starts_with("export-") && (name.ends_with(".zip") || name.ends_with(".zip.partial"))
}

fn delete_old_exports(directory: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if is_own_export(name) {
            std::fs::remove_file(&path).with_context(|| format!("deleting {}", path.display()))?;
        }
    }
    Ok(())
}

async fn export_table(
    db: &Database,
    table: &Table,
    sensitive: bool,
    zip: &mut ZipWriter<File>,
) -> anyhow::Result<()> {
    let total: i64 = sqlx::query_scalar(table.count_sql).fetch_one(db.pool()).await?;
    let progress = progress_bar(table.label, u64::try_from(total).unwrap_or_default());
    // Zip64 headers: a table may well be larger than 4 GiB.
    zip.start_file(table.file, SimpleFileOptions::default().large_file(true))?;
    let mut writer = csv::Writer::from_writer(&mut *zip);
    writer.write_record(table.header)?;
    let mut rows = sqlx::query(table.sql).fetch(db.pool());
    while let Some(row) = rows.try_next().await? {
        let record = (table.record)(&Values { row: &row, sensitive })?;
        writer.write_record(&record)?;
        progress.inc(1);
    }
    writer.flush()?;
    progress.finish();
    Ok(())
}

/// A bar on a terminal; nothing when stderr is piped or redirected.
fn progress_bar(label: &str, total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{msg:28} [{bar:40}] {pos}/{len} ({percent}%)").map_or_else(
        |_| ProgressStyle::default_bar(),
        |style| style.progress_chars("=> "),
    );
    bar.set_style(style);
    bar.set_message(label.to_owned());
    bar
}

/// The line upstream prints at the end.
pub fn print_done(path: &Path) {
    let path = path.display();
    let _ = writeln!(
        std::io::stdout(),
        "Export completed. The zip file was saved at the following location: {path}. If you ran this \
         command from Kubernetes, you can copy it to your local system by running the following command:\n\
         kubectl cp <namespace-name>/<pod-name>:{path} <local-destination-path>"
    );
}
