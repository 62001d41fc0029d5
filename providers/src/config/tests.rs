//! Tests of config validation and deserialization.

use super::*;

fn config(kind: ProviderKind, base_url: &str) -> ProviderConfig {
    ProviderConfig {
        kind,
        base_url: base_url.to_owned(),
        model: "m".to_owned(),
        api_key: Some(ApiKey::new("sk-test")),
        request_timeout: Duration::from_secs(1),
        max_retries: 1,
        retry_backoff: Duration::from_millis(10),
        max_output_tokens: 100,
    }
}

fn field_of(result: Result<Url, Error>) -> Option<&'static str> {
    match result {
        Err(Error::InvalidConfig { field, .. }) => Some(field),
        _ => None,
    }
}

#[test]
fn endpoints_append_the_provider_path() -> Result<(), Error> {
    let openai = config(ProviderKind::OpenAi, "http://127.0.0.1:8080/v1/").endpoint()?;
    assert_eq!(openai.as_str(), "http://127.0.0.1:8080/v1/chat/completions");
    let anthropic = config(ProviderKind::Anthropic, "https://api.anthropic.com/v1").endpoint()?;
    assert_eq!(anthropic.as_str(), "https://api.anthropic.com/v1/messages");
    Ok(())
}

/// Breaks one field of a valid config.
type Breakage = fn(&mut ProviderConfig);

#[test]
fn each_bad_field_is_named() {
    let table: [(&str, Breakage); 10] = [
        ("base_url", |c| c.base_url = "not a url".into()),
        ("base_url", |c| c.base_url = "ftp://host/v1".into()),
        ("base_url", |c| c.base_url = "http://user:pw@host/v1".into()),
        ("base_url", |c| c.base_url = "http://host/v1?key=x".into()),
        ("model", |c| c.model = " ".into()),
        ("api_key", |c| c.api_key = Some(ApiKey::new(""))),
        ("api_key", |c| {
            c.api_key = Some(ApiKey::new("sk with space"))
        }),
        ("request_timeout", |c| c.request_timeout = Duration::ZERO),
        ("max_retries", |c| c.max_retries = MAX_RETRIES_LIMIT + 1),
        ("max_output_tokens", |c| c.max_output_tokens = 0),
    ];
    for (expected_field, break_config) in table {
        let mut broken = config(ProviderKind::OpenAi, "http://127.0.0.1:1/v1");
        break_config(&mut broken);
        assert_eq!(
            field_of(broken.endpoint()),
            Some(expected_field),
            "{broken:?}"
        );
    }
}

#[test]
fn credentials_in_the_url_are_not_echoed() {
    let broken = config(ProviderKind::OpenAi, "http://user:hunter2@host/v1");
    let message = broken
        .endpoint()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("base_url"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn deserializes_with_defaults_and_human_durations() -> Result<(), serde_json::Error> {
    let parsed: ProviderConfig = serde_json::from_str(
        r#"{"kind": "anthropic", "base_url": "http://h/v1", "model": "m",
            "api_key": "sk-x", "request_timeout": "30s"}"#,
    )?;
    assert_eq!(parsed.kind, ProviderKind::Anthropic);
    assert_eq!(parsed.request_timeout, Duration::from_secs(30));
    assert_eq!(parsed.retry_backoff, Duration::from_millis(500));
    assert_eq!(parsed.max_retries, 2);
    assert!(!format!("{parsed:?}").contains("sk-x"));
    let unknown = serde_json::from_str::<ProviderConfig>(
        r#"{"kind": "openai", "base_url": "http://h/v1", "model": "m", "tmeout": "1s"}"#,
    );
    assert!(unknown.is_err());
    Ok(())
}
