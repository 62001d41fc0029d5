//! What a delivery sends: its JSON body, its console links and its signature.
//!
//! The signature is `X-Warden-Signature: t=<unix ms>,v1=<hex>`, where `<hex>` is the
//! HMAC-SHA256, under the webhook's secret, of `<t>.<body>`: a receiver recomputes it
//! over the raw body, compares in constant time and refuses a `t` too far from its clock
//! (a replay).

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use warden_core::{Delivery, WebhookEvent};

/// Where the console is, for the links in bodies: `https://host:port`, no trailing `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    pub console: Option<String>,
}

impl Links {
    /// The console's base: `public_url` when set, else this node's console listener.
    pub fn new(public_url: Option<&str>, console: Option<&str>, tls: bool) -> Links {
        let scheme = if tls { "https" } else { "http" };
        // A listener on every interface (0.0.0.0, ::) names no address to link to.
        let reachable = console.filter(|address| {
            address
                .parse::<std::net::SocketAddr>()
                .map_or(true, |socket| !socket.ip().is_unspecified())
        });
        let console = public_url
            .map(|url| url.trim_end_matches('/').to_owned())
            .or_else(|| reachable.map(|address| format!("{scheme}://{address}")));
        Links { console }
    }
}

/// The body of `delivery`, as sent (every attempt sends the same one).
pub fn body(delivery: &Delivery, links: &Links) -> Vec<u8> {
    let notice = &delivery.notice;
    let mut object = Map::new();
    let mut put = |key: &str, value: Value| {
        object.insert(key.to_owned(), value);
    };
    put("id", json!(delivery.id.to_string()));
    put("event", json!(notice.event.as_str()));
    put("time_ms", json!(notice.time_ms));
    put("workspace", json!(delivery.workspace.as_str()));
    put("webhook", json!(delivery.webhook.as_str()));
    put("task_id", json!(notice.task.to_string()));
    put("agent", json!(notice.agent.as_str()));
    put("status", json!(notice.status));
    let optional = [
        ("call_id", notice.call_id.clone().map(Value::from)),
        ("server", notice.server.as_ref().map(|s| json!(s.as_str()))),
        ("tool", notice.tool.as_ref().map(|t| json!(t.as_str()))),
        (
            "arguments_hash",
            notice.arguments_hash.map(|hash| json!(hash.to_string())),
        ),
        ("rule", notice.rule.clone().map(Value::from)),
        ("expires_at_ms", notice.expires_at_ms.map(Value::from)),
        ("approved", notice.approved.map(Value::from)),
        ("by", notice.by.as_ref().map(|by| json!(by.as_str()))),
        ("reason", notice.reason.clone().map(Value::from)),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            put(key, value);
        }
    }
    if let Some(base) = &links.console {
        let workspace = delivery.workspace.as_str();
        let mut task = format!("{base}/console/w/{workspace}/tasks/{}", notice.task);
        if let Some(call) = &notice.call_id {
            task.push_str("#call-");
            task.push_str(&fragment(call));
        }
        let mut linked = Map::new();
        linked.insert("task".to_owned(), json!(task));
        if notice.event == WebhookEvent::ApprovalRequested {
            linked.insert(
                "approvals".to_owned(),
                json!(format!("{base}/console/approvals?workspace={workspace}")),
            );
        }
        put("links", Value::Object(linked));
    }
    serde_json::to_vec(&Value::Object(object)).unwrap_or_default()
}

/// The `X-Warden-Signature` value of `body` sent at `time_ms`.
pub fn signature(secret: &[u8], time_ms: u64, body: &[u8]) -> String {
    format!("t={time_ms},v1={}", hex::encode(mac(secret, time_ms, body)))
}

fn mac(secret: &[u8], time_ms: u64, body: &[u8]) -> Vec<u8> {
    signed(secret, time_ms, body)
        .finalize()
        .into_bytes()
        .to_vec()
}

/// The HMAC-SHA256 under `secret` of `<time_ms>.<body>`, before it is finalized: what a
/// signature is, whether Warden sends it (webhooks) or checks it (triggers, `hooks.rs`).
pub fn signed(secret: &[u8], time_ms: u64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(time_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// `text` with every byte but `[A-Za-z0-9_.-]` percent-encoded, for a URL fragment.
fn fragment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_an_hmac_of_the_time_and_the_body() {
        // RFC 4231 test case 2's key and data, framed as "<t>.<body>": computed
        // independently with `printf '1.what do ya want for nothing?' | openssl dgst
        // -sha256 -hmac Jefe`.
        let signed = signature(b"Jefe", 1, b"what do ya want for nothing?");
        assert_eq!(
            signed,
            "t=1,v1=a9049465ce89cfb8e9aac62333abda66f80e3403f51f57f6bae3c3a4485eca38"
        );
        assert_ne!(signature(b"Jefe", 2, b"x"), signature(b"Jefe", 1, b"x"));
        assert_ne!(signature(b"other", 1, b"x"), signature(b"Jefe", 1, b"x"));
    }

    #[test]
    fn fragments_keep_only_safe_bytes() {
        assert_eq!(fragment("call_1.a-b"), "call_1.a-b");
        assert_eq!(fragment("a b\"<"), "a%20b%22%3C");
    }
}
