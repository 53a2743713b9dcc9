//! The SQLite file on disk: created readable by its owner only.
//!
//! SQLite creates a missing database file with the process umask (usually `-rw-r--r--`), so
//! anyone on the host could read every identity's data. We create the file ourselves, mode
//! 0600, before the pool opens it; SQLite gives its `-wal` and `-shm` files the mode of the
//! main file, so they follow.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The file an `sqlite:` URL points at; `None` for an in-memory database or another scheme.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Creates the SQLite file of `url` (and missing parent directories, mode 0700) with mode 0600
/// if it does not exist yet. An existing file is left as it is. Does nothing for PostgreSQL.
pub fn create_private_sqlite_file(url: &str) -> anyhow::Result<()> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)
            .with_context(|| format!("creating the database directory {}", parent.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error).with_context(|| format!("creating the database file {}", path.display())),
    }
}

/// Creates `path` and its missing parents with mode 0700; an existing directory is kept as it is.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_taken_from_both_url_forms() {
        assert_eq!(
            sqlite_path("sqlite://./data/b.db?mode=rwc"),
            Some("./data/b.db".into())
        );
        assert_eq!(sqlite_path("sqlite:///tmp/b.db"), Some("/tmp/b.db".into()));
        assert_eq!(sqlite_path("sqlite:b.db"), Some("b.db".into()));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://localhost/db"), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_and_its_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("backbone-db-files-{}", std::process::id()));
        let dir = root.join("nested");
        let file = dir.join("b.db");
        create_private_sqlite_file(&format!("sqlite://{}", file.display())).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir), 0o700);
        // A second start keeps the existing file (and its contents).
        std::fs::write(&file, b"data").unwrap();
        create_private_sqlite_file(&format!("sqlite://{}", file.display())).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"data");
        std::fs::remove_dir_all(root).unwrap();
    }
}
