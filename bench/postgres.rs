//! The PostgreSQL a benchmark runs on: found the way scripts/test finds it, with a fresh database
//! per run.

use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// Which stores a benchmark measures (`--store`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Stores {
    Sqlite,
    Postgres,
    Both,
}

impl Stores {
    pub(crate) fn sqlite(self) -> bool {
        matches!(self, Self::Sqlite | Self::Both)
    }

    /// The PostgreSQL server to use when it is measured, found before anything else runs, so
    /// that a missing server fails at once rather than after minutes on SQLite.
    pub(crate) fn postgres_url(self) -> anyhow::Result<Option<String>> {
        match self {
            Self::Postgres | Self::Both => admin_url().map(Some),
            Self::Sqlite => Ok(None),
        }
    }
}

/// The PostgreSQL server to use, found the way scripts/test finds it.
pub(crate) fn admin_url() -> anyhow::Result<String> {
    if let Ok(url) = std::env::var("PERSONAE_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        return Ok(url);
    }
    let output = Command::new("bash")
        .args([
            "-c",
            r#"source scripts/pg-test-env && printf %s "$PERSONAE_TEST_DATABASE_URL""#,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running bash to source scripts/pg-test-env")?;
    let url = String::from_utf8(output.stdout)?;
    if !output.status.success() || url.is_empty() {
        bail!(
            "PostgreSQL is unavailable: scripts/pg-test-env failed (its message is above). \
             Install postgresql-15 or set PERSONAE_TEST_DATABASE_URL to a role with CREATEDB; \
             or measure SQLite alone with --store sqlite."
        );
    }
    Ok(url)
}

/// `url` with its database name replaced by `name`.
pub(crate) fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (server, _) = base.rsplit_once('/').unwrap_or((base, ""));
    if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    }
}
