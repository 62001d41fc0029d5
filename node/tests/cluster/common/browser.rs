//! Headless Chromium driven over WebDriver (Debian's `chromium` and `chromedriver`,
//! installed by scripts/browsers.sh): one chromedriver per test, one WebDriver session
//! per user (each its own profile and cookies), screenshots saved as test artifacts.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::process::{Child, Command};

use crate::common::eventually;

/// A running chromedriver, stopped on drop.
pub struct Driver {
    url: String,
    _process: Child,
    profiles: tempfile::TempDir,
}

impl Driver {
    pub async fn start() -> Driver {
        let port = free_port();
        let process = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver: run scripts/browsers.sh to install chromium and chromium-driver");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        eventually("chromedriver to answer", Duration::from_secs(30), || {
            let status = status.clone();
            async move {
                let response = reqwest::get(&status).await.ok()?;
                response.status().is_success().then_some(())
            }
        })
        .await;
        Driver {
            url,
            _process: process,
            profiles: tempfile::tempdir().expect("profiles dir"),
        }
    }

    /// A new browser: its own profile, so its own cookies. The console's certificate is
    /// issued by the cluster's own CA, which the browser is told to accept.
    pub async fn browser(&self, name: &str) -> Client {
        let profile = self.profiles.path().join(name);
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("an object");
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a WebDriver session")
    }
}

/// Waits up to 60 s for an element matching `css`; on a timeout, panics with the page the
/// browser shows instead.
pub async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let found = browser
            .wait()
            .at_most(left)
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => return element,
            // The page went away under the search (a reload the page's script started):
            // search the next one.
            Err(error)
                if !left.is_zero()
                    && !matches!(error, fantoccini::error::CmdError::WaitTimeout) =>
            {
                tracing::debug!(%error, css, "searching again after the page changed");
            }
            Err(error) => {
                let url = browser.current_url().await.map(|url| url.to_string());
                let source = browser.source().await.unwrap_or_default();
                panic!("no {css} within 60 s ({error}); the browser shows {url:?}:\n{source}")
            }
        }
    }
}

/// The page's visible text.
pub async fn page_text(browser: &Client) -> String {
    browser
        .find(Locator::Css("body"))
        .await
        .expect("a body")
        .text()
        .await
        .expect("its text")
}

/// Saves a screenshot of the current page as `name`.png under the test artifacts
/// directory ($CARGO_TARGET_DIR/console-screenshots); its path.
pub async fn screenshot(browser: &Client, name: &str) -> PathBuf {
    let png = browser.screenshot().await.expect("screenshot");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}
