//! Provider clients: the API key comes from the sealed record or an allowlisted variable,
//! and a variable off the allowlist is refused without being read.

use warden_core::{ProviderName, WorkspaceId};
use warden_egress::{Allow, Class, Policy};

use super::*;

fn record(base_url: &str, api_key_env: Option<&str>) -> Provider {
    Provider {
        workspace: WorkspaceId::parse("acme").expect("workspace"),
        name: ProviderName::parse("model").expect("name"),
        kind: ProviderKind::OpenAi,
        base_url: base_url.to_owned(),
        model: "m".to_owned(),
        api_key_env: api_key_env.map(str::to_owned),
        api_key: None,
        request_timeout_ms: 1000,
        max_retries: 0,
        max_output_tokens: 16,
        version: 1,
        updated_ms: 0,
    }
}

fn options(allowlist: &[&str]) -> RuntimeOptions {
    RuntimeOptions {
        api_key_env_allowlist: allowlist.iter().map(|name| (*name).to_owned()).collect(),
        ..RuntimeOptions::default()
    }
}

#[test]
fn a_variable_off_the_allowlist_is_refused_without_being_read() {
    // PATH and HOME are set in every test process: a refusal that mentions neither value
    // and names the rule shows the variable was not read and sent.
    let values: Vec<String> = ["PATH", "HOME"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    for variable in ["PATH", "HOME", "WARDEN_MASTER_KEY"] {
        for allowlist in [&[][..], &["OPENAI_API_KEY"][..]] {
            let provider = record("https://api.example.com/v1", Some(variable));
            let error = client(&provider, None, &options(allowlist))
                .expect_err("a variable off the allowlist must not be read");
            assert!(
                error.contains(&format!(
                    "api_key_env {variable} is not on this node's allowlist"
                )),
                "{error}"
            );
            assert!(error.contains("providers.api_key_env_allowlist"), "{error}");
            for value in &values {
                assert!(!error.contains(value.as_str()), "{error}");
            }
        }
    }
}

#[test]
fn an_allowlisted_variable_is_read() {
    let provider = record("https://api.example.com/v1", Some("PATH"));
    let built = client(&provider, None, &options(&["PATH"]));
    assert!(built.is_ok(), "{:?}", built.err());
    let unset = record(
        "https://api.example.com/v1",
        Some("WARDEN_TEST_UNSET_VARIABLE"),
    );
    let error = client(&unset, None, &options(&["WARDEN_TEST_UNSET_VARIABLE"]))
        .expect_err("an unset variable");
    assert!(error.contains("is not set on this node"), "{error}");
}

#[test]
fn a_sealed_key_needs_no_allowlist() {
    let provider = record("https://api.example.com/v1", None);
    let opened = Some(SecretString::new("sk-sealed".to_owned()));
    assert!(client(&provider, opened, &options(&[])).is_ok());
}

#[test]
fn the_client_is_bound_to_the_egress_policy() {
    let metadata = record("http://169.254.169.254/v1", None);
    let error = client(&metadata, None, &options(&[])).expect_err("link-local");
    assert!(
        error.contains("egress to 169.254.169.254 refused: link-local"),
        "{error}"
    );
    let local = record("http://127.0.0.1:9/v1", None);
    assert!(client(&local, None, &options(&[])).is_err());
    let allowing = RuntimeOptions {
        egress: Policy::allowing([Allow::Class(Class::Loopback)]),
        ..RuntimeOptions::default()
    };
    assert!(client(&local, None, &allowing).is_ok());
}
