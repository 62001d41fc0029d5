//! Credentials reach the server and nothing else: a stdio server gets `secret_env` in its
//! environment, an HTTP server gets the bearer token in `Authorization`. The ledger server
//! stands in for a server that needs them (`--require-env`, `--require-bearer-file`).

use std::collections::BTreeMap;

use crate::common::{CALL, CONNECT, HttpLedgerServer, LEDGER_TOOLS};
use warden_mcp::{McpSession, Secret, ServerSpec};

const CREDENTIAL: &str = "credential-5f1d8a0c93b2";

fn stdio(ledger: &std::path::Path, required: &std::path::Path, token: Option<&str>) -> ServerSpec {
    ServerSpec::Stdio {
        command: LEDGER_TOOLS.to_owned(),
        args: vec![
            "--ledger".to_owned(),
            ledger.display().to_string(),
            "--require-env".to_owned(),
            format!("API_TOKEN={}", required.display()),
        ],
        env: BTreeMap::new(),
        secret_env: token
            .map(|token| ("API_TOKEN".to_owned(), Secret::new(token.to_owned())))
            .into_iter()
            .collect(),
        read_paths: vec![required.to_owned()],
        write_paths: ledger
            .parent()
            .map(std::path::Path::to_path_buf)
            .into_iter()
            .collect(),
    }
}

#[tokio::test]
async fn a_stdio_server_gets_its_secret_env() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.jsonl");
    let required = dir.path().join("required");
    std::fs::write(&required, format!("{CREDENTIAL}\n")).expect("write the credential");

    let session = McpSession::connect(
        &stdio(&ledger, &required, Some(CREDENTIAL)),
        CONNECT,
        &crate::common::egress(),
    )
    .await
    .expect("the server starts with its credential");
    assert!(
        !session
            .list_tools(CALL)
            .await
            .expect("list tools")
            .is_empty()
    );
    session.close().await;

    for wrong in [None, Some("another-credential")] {
        let spec = stdio(&ledger, &required, wrong);
        let error = match McpSession::connect(&spec, CONNECT, &crate::common::egress()).await {
            Ok(_) => panic!("the server started with credential {wrong:?}"),
            Err(error) => format!("{error} {error:?} {spec:?}"),
        };
        assert!(error.contains("API_TOKEN"), "{error}");
        assert!(!error.contains(CREDENTIAL), "{error}");
        assert!(!error.contains("another-credential"), "{error}");
    }
}

#[tokio::test]
async fn an_http_server_gets_the_bearer_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let required = dir.path().join("required");
    std::fs::write(&required, CREDENTIAL).expect("write the credential");
    let server = HttpLedgerServer::start_with(
        &dir.path().join("ledger.jsonl"),
        &dir.path().join("ready"),
        &[
            "--require-bearer-file".to_owned(),
            required.display().to_string(),
        ],
    )
    .await;
    let spec = |token: Option<&str>| ServerSpec::Http {
        url: server.url.clone(),
        bearer_token: token.map(|token| Secret::new(token.to_owned())),
    };

    let session = McpSession::connect(&spec(Some(CREDENTIAL)), CONNECT, &crate::common::egress())
        .await
        .expect("connect with the bearer token");
    assert!(
        !session
            .list_tools(CALL)
            .await
            .expect("list tools")
            .is_empty()
    );
    session.close().await;

    for wrong in [None, Some("another-credential")] {
        let spec = spec(wrong);
        let error = match McpSession::connect(&spec, CONNECT, &crate::common::egress()).await {
            Ok(_) => panic!("connected with bearer token {wrong:?}"),
            Err(error) => format!("{error} {error:?} {spec:?}"),
        };
        assert!(!error.contains(CREDENTIAL), "{error}");
        assert!(!error.contains("another-credential"), "{error}");
    }
}
