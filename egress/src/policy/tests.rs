//! The egress policy: what the default admits, what a refusal names, and what classes and
//! networks admit.

use super::*;
use crate::class::Class;

fn address(text: &str) -> IpAddr {
    text.parse().expect("address")
}

fn url(text: &str) -> Url {
    Url::parse(text).expect("url")
}

fn loopback_only() -> Policy {
    Policy::allowing([Allow::Class(Class::Loopback)])
}

#[test]
fn the_default_refuses_everything_but_public_unicast() {
    let policy = Policy::default();
    assert_eq!(policy.check(address("8.8.8.8"), None), Ok(()));
    assert_eq!(policy.check(address("2606:4700::1111"), None), Ok(()));
    for internal in [
        "127.0.0.1",
        "169.254.169.254",
        "10.0.0.1",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:169.254.169.254",
        "::ffff:127.0.0.1",
    ] {
        assert!(
            policy.check(address(internal), None).is_err(),
            "{internal} passed"
        );
    }
}

#[test]
fn a_refusal_names_the_host_the_address_and_the_rule() {
    let error = Policy::default()
        .check(address("169.254.169.254"), Some("metadata.internal"))
        .expect_err("link-local");
    assert_eq!(
        error.to_string(),
        "egress to 169.254.169.254 (metadata.internal) refused: link-local addresses are not allowed unless egress.allow lists \"link_local\""
    );
    let error = Policy::default()
        .check(address("::ffff:127.0.0.1"), None)
        .expect_err("loopback");
    assert_eq!(
        error.to_string(),
        "egress to ::ffff:127.0.0.1 refused: loopback addresses are not allowed unless egress.allow lists \"loopback\""
    );
}

#[test]
fn classes_and_networks_admit_only_what_they_name() {
    let policy = Policy::allowing([
        Allow::Class(Class::Loopback),
        "10.20.0.0/16".parse().expect("network"),
        "fd00:1::/48".parse().expect("network"),
    ]);
    let table = [
        ("127.0.0.1", true),
        ("::1", true),
        ("::ffff:127.0.0.1", true),
        ("10.20.3.4", true),
        ("::ffff:10.20.3.4", true),
        ("10.21.0.1", false),
        ("fd00:1::5", true),
        ("fd00:2::5", false),
        ("169.254.169.254", false),
        ("::ffff:169.254.169.254", false),
        ("192.168.0.1", false),
        ("8.8.8.8", true),
    ];
    for (text, allowed) in table {
        assert_eq!(policy.check(address(text), None).is_ok(), allowed, "{text}");
    }
}

#[test]
fn ip_literal_urls_are_checked_and_names_left_to_the_resolver() {
    let policy = Policy::default();
    let refused = [
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:169.254.169.254]/",
        "http://127.0.0.1:8080/v1",
        "http://[::1]:8080/v1",
        "http://10.0.0.1/v1",
        // The URL parser reads these as 127.0.0.1, as a browser would.
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://127.1/",
    ];
    for text in refused {
        assert!(policy.check_url(&url(text)).is_err(), "{text} passed");
    }
    for text in ["https://api.openai.com/v1", "http://localhost:8080/v1"] {
        assert_eq!(policy.check_url(&url(text)), Ok(()), "{text}");
    }
    assert_eq!(
        loopback_only().check_url(&url("http://127.0.0.1:1/")),
        Ok(())
    );
}

#[tokio::test]
async fn a_name_is_judged_by_the_addresses_it_resolves_to() {
    let error = Policy::default()
        .resolve("localhost")
        .await
        .expect_err("localhost is loopback");
    let text = error.to_string();
    assert!(text.contains("(localhost) refused: loopback"), "{text}");
    let allowed = loopback_only()
        .resolve("localhost")
        .await
        .expect("loopback allowed");
    assert!(!allowed.is_empty());
    assert!(allowed.iter().all(|address| address.ip().is_loopback()));
}

#[test]
fn allow_entries_are_read_from_config() {
    let policy: Policy =
        serde_json::from_str(r#"{"allow": ["loopback", "10.0.0.0/8"]}"#).expect("parse");
    assert_eq!(policy.allow.len(), 2);
    assert!(serde_json::from_str::<Policy>(r#"{"allow": ["intranet"]}"#).is_err());
    assert!(serde_json::from_str::<Policy>(r#"{"deny": []}"#).is_err());
    assert_eq!(
        serde_json::to_string(&policy).expect("serialize"),
        r#"{"allow":["loopback","10.0.0.0/8"]}"#
    );
}
