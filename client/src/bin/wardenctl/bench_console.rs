//! `wardenctl bench console`: the console's pages timed as a signed-in user sees them,
//! each fetched many times from concurrent workers, with p50, p99 and max per page.
//!
//! It signs in the way a browser does (the sign-in form's double-submitted nonce, then
//! the session cookie) with wardenctl's own token, so the pages show what that token
//! may see. Fill the workspace first, e.g. with `bench submit` to a paused agent.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use tokio::task::JoinSet;
use warden_client::{Client, Consistency};

use crate::bench::{millis, percentile};
use crate::output::{Format, Table, emit, emit_json};

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The console's address, e.g. https://127.0.0.1:9443 (a node's console.listen)
    #[arg(long)]
    console: String,
    /// Workspace whose task list, first task and configuration are fetched
    #[arg(long, short)]
    workspace: String,
    /// Fetches of each page
    #[arg(long, short = 'n', default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    requests: u32,
    /// Fetches in flight at once
    #[arg(long, short, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
}

/// What wardenctl was started with that the console needs: the token it signs in with
/// and the CA its certificate chains to.
pub struct Credentials {
    pub token: String,
    pub ca_pem: Option<Vec<u8>>,
}

/// A signed-in console user: an HTTP client and the session cookie it sends.
#[derive(Clone)]
struct Session {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Session {
    async fn sign_in(base: &str, credentials: &Credentials) -> anyhow::Result<Session> {
        let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &credentials.ca_pem {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_pem(pem).context("reading the CA certificate")?,
            );
        }
        let http = builder.build().context("building the HTTP client")?;
        let base = base.trim_end_matches('/').to_owned();
        let form = http
            .get(format!("{base}/console/sign-in"))
            .send()
            .await
            .with_context(|| format!("opening {base}/console/sign-in"))?;
        // Under TLS the console's cookies carry the `__Host-` prefix.
        let prefix = if base.starts_with("https://") {
            "__Host-"
        } else {
            ""
        };
        let nonce_cookie = set_cookie(&form, &format!("{prefix}warden_sign_in"))
            .context("the sign-in page set no warden_sign_in cookie: is this a Warden console?")?;
        let body = form.text().await.context("reading the sign-in page")?;
        let nonce = hidden_field(&body, "nonce").context("the sign-in page has no nonce field")?;
        let signed_in = http
            .post(format!("{base}/console/sign-in"))
            .header("cookie", format!("{prefix}warden_sign_in={nonce_cookie}"))
            .form(&[
                ("token", credentials.token.as_str()),
                ("nonce", nonce.as_str()),
            ])
            .send()
            .await
            .context("signing in")?;
        if signed_in.status() != reqwest::StatusCode::SEE_OTHER {
            bail!(
                "the console refused the sign-in ({}): is the token valid?",
                signed_in.status()
            );
        }
        let session = set_cookie(&signed_in, &format!("{prefix}warden_session"))
            .context("signing in set no warden_session cookie")?;
        Ok(Session {
            http,
            base,
            cookie: format!("{prefix}warden_session={session}"),
        })
    }

    /// Fetches `path` once; its time to the whole body, or why it failed.
    async fn fetch(&self, path: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status();
        response
            .bytes()
            .await
            .with_context(|| format!("reading {path}"))?;
        if !status.is_success() {
            bail!("GET {path} answered {status}");
        }
        Ok(started.elapsed())
    }
}

/// The value of the `name` cookie a response sets.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|line| {
            let pair = line.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            (key.trim() == name).then(|| value.trim().to_owned())
        })
}

/// The value of the first hidden input named `name` in `html`.
fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

pub async fn run(
    client: &Client,
    credentials: Credentials,
    format: Format,
    args: ConsoleArgs,
) -> anyhow::Result<ExitCode> {
    let first_task = client
        .list_tasks(&args.workspace, 1, "", Consistency::Linearizable)
        .await
        .with_context(|| format!("listing the tasks of {}", args.workspace))?
        .tasks
        .into_iter()
        .next()
        .with_context(|| format!("workspace {} has no task to show", args.workspace))?;
    let workspace = &args.workspace;
    let pages = [
        ("approvals", "/console/approvals".to_owned()),
        ("tasks", format!("/console/tasks?workspace={workspace}")),
        (
            "task",
            format!("/console/w/{workspace}/tasks/{}", first_task.id),
        ),
        ("audit", "/console/audit".to_owned()),
        ("cluster", "/console/cluster".to_owned()),
        ("workspace", format!("/console/w/{workspace}")),
    ];
    let session = Session::sign_in(&args.console, &credentials).await?;
    let mut results = Vec::new();
    for (name, path) in pages {
        // One fetch first, so the page is known to work before it is timed.
        session.fetch(&path).await?;
        let mut latencies = fetch_many(&session, &path, args.requests, args.concurrency).await?;
        latencies.sort_unstable();
        results.push((name, path, latencies));
    }
    match format {
        Format::Table => {
            let mut table = Table::new(vec!["PAGE", "FETCHES", "P50", "P99", "MAX", "PATH"]);
            for (name, path, latencies) in &results {
                table.push(vec![
                    (*name).to_owned(),
                    latencies.len().to_string(),
                    format!("{:.2} ms", millis(percentile(latencies, 0.50))),
                    format!("{:.2} ms", millis(percentile(latencies, 0.99))),
                    format!(
                        "{:.2} ms",
                        millis(latencies.last().copied().unwrap_or_default())
                    ),
                    path.clone(),
                ]);
            }
            emit(&table.render())?;
        }
        Format::Json => emit_json(&json!({
            "concurrency": args.concurrency,
            "pages": results.iter().map(|(name, path, latencies)| json!({
                "page": name,
                "path": path,
                "fetches": latencies.len(),
                "p50_ms": millis(percentile(latencies, 0.50)),
                "p99_ms": millis(percentile(latencies, 0.99)),
                "max_ms": millis(latencies.last().copied().unwrap_or_default()),
            })).collect::<Vec<_>>(),
        }))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Fetches `path` `requests` times, `concurrency` at a time; every fetch must succeed.
async fn fetch_many(
    session: &Session,
    path: &str,
    requests: u32,
    concurrency: u32,
) -> anyhow::Result<Vec<Duration>> {
    let mut workers = JoinSet::new();
    for worker in 0..concurrency {
        let share = requests / concurrency + u32::from(worker < requests % concurrency);
        let session = session.clone();
        let path = path.to_owned();
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(share as usize);
            for _ in 0..share {
                latencies.push(session.fetch(&path).await?);
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(requests as usize);
    while let Some(joined) = workers.join_next().await {
        latencies.extend(joined.context("a console bench worker panicked")??);
    }
    Ok(latencies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_fields_are_read_by_exact_name() {
        let html = r#"<input type="hidden" name="nonce_x" value="no"><input type="hidden" name="nonce" value="abc">"#;
        assert_eq!(hidden_field(html, "nonce").as_deref(), Some("abc"));
        assert_eq!(hidden_field(html, "csrf"), None);
    }
}
