//! The Admin CLI's announcement, token and database commands (admin-and-services §3). They
//! run the same use cases as the Admin API, directly on the database; events they raise are
//! relayed before the command ends.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use backbone_announcements::domain::{AnnouncementText, NewAnnouncement, Severity};
use backbone_announcements::AnnouncementDto;
use backbone_core::encoding::parse_date;

use crate::app::Application;
use crate::cli::{AnnouncementCommand, DatabaseCommand, SendAnnouncementArgs, TokenCommand};

pub async fn announcement(app: &Application, command: AnnouncementCommand) -> anyhow::Result<()> {
    match command {
        AnnouncementCommand::Send(args) => send_announcement(app, args).await,
        AnnouncementCommand::Delete { id } => {
            app.announcements.delete(&id).await?;
            println!("Announcement '{id}' deleted.");
            Ok(())
        }
    }
}

pub async fn token(app: &Application, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::ResetAccessFailedCount { id } => {
            app.tokens.reset_access_failed_count(&id).await?;
            println!("The access failed count of token '{id}' was reset.");
            Ok(())
        }
    }
}

pub async fn database(app: &Application, command: DatabaseCommand) -> anyhow::Result<()> {
    match command {
        DatabaseCommand::Export { sensitive } => {
            let path = crate::export::export(&app.db, sensitive, app.clock.now()).await?;
            crate::export::print_done(&path);
            Ok(())
        }
    }
}

async fn send_announcement(app: &Application, args: SendAnnouncementArgs) -> anyhow::Result<()> {
    let severity = Severity::parse(&args.severity)
        .ok_or_else(|| anyhow::anyhow!("unknown severity '{}' (Low, Medium, High)", args.severity))?;
    let expires_at = args
        .expiration
        .as_deref()
        .map(|text| parse_date(text).ok_or_else(|| anyhow::anyhow!("'{text}' is not a date")))
        .transpose()?;
    let interactive = args.title.is_none() && std::io::stdin().is_terminal();
    let texts = if interactive {
        let texts = prompt_texts()?;
        if !confirm(&texts)? {
            println!("Aborted.");
            return Ok(());
        }
        texts
    } else {
        texts_from_flags(&args)?
    };
    let announcement = app
        .announcements
        .create(NewAnnouncement {
            severity: Some(severity),
            is_silent: args.silent,
            expires_at,
            iql_query: args.iql_query,
            texts,
            actions: Vec::new(),
            recipients: args.recipients,
        })
        .await?;
    // The push to the recipients goes out before the command ends.
    app.relay.relay_all().await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&AnnouncementDto::from(announcement)).context("formatting output")?
    );
    Ok(())
}

/// `--title`/`--body` for English, `--text LANGUAGE TITLE BODY` for each further language.
fn texts_from_flags(args: &SendAnnouncementArgs) -> anyhow::Result<Vec<AnnouncementText>> {
    let (Some(title), Some(body)) = (&args.title, &args.body) else {
        anyhow::bail!("without a terminal, --title and --body give the English text");
    };
    let mut texts = vec![text("en", title, body)];
    for chunk in args.texts.chunks(3) {
        if let [language, title, body] = chunk {
            texts.push(text(language, title, body));
        }
    }
    Ok(texts)
}

fn text(language: &str, title: &str, body: &str) -> AnnouncementText {
    AnnouncementText {
        language: language.trim().to_owned(),
        title: title.to_owned(),
        body: body.to_owned(),
    }
}

/// Asks for the English text, then for further languages until an empty code; `x` aborts.
fn prompt_texts() -> anyhow::Result<Vec<AnnouncementText>> {
    let title = ask("Title (English): ")?;
    let body = ask("Body (English): ")?;
    let mut texts = vec![text("en", &title, &body)];
    loop {
        let language = ask("Another language (ISO 639-1 code; empty to finish, x to abort): ")?;
        match language.as_str() {
            "" => return Ok(texts),
            "x" => anyhow::bail!("aborted"),
            _ => {
                let title = ask(&format!("Title ({language}): "))?;
                let body = ask(&format!("Body ({language}): "))?;
                texts.push(text(&language, &title, &body));
            }
        }
    }
}

fn confirm(texts: &[AnnouncementText]) -> anyhow::Result<bool> {
    println!("The announcement will have these texts:");
    for t in texts {
        println!("  [{}] {}: {}", t.language, t.title, t.body);
    }
    let answer = ask("Send it? [y/N] ")?;
    Ok(answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes"))
}

fn ask(prompt: &str) -> anyhow::Result<String> {
    print!("{prompt}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line)?;
    anyhow::ensure!(read > 0, "the input ended");
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
