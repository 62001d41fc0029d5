//! Sessions: the signed-in token sealed (XChaCha20-Poly1305) into a cookie with a session
//! id and an expiry, so any node holding the same key accepts it and nothing is stored
//! per session. The token is checked again on every request by the gRPC layer, so a
//! revoked or expired token ends the session at once. CSRF tokens are an HMAC of the
//! session id; the sign-in form, which has no session yet, uses a double-submitted
//! random cookie.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// The session cookie.
pub const SESSION_COOKIE: &str = "warden_session";
/// The sign-in form's double-submit cookie.
pub const SIGN_IN_COOKIE: &str = "warden_sign_in";
/// Bound to every sealed session, so a ciphertext made for anything else never opens.
const SEAL_CONTEXT: &[u8] = b"warden console session v1";
/// The most sessions one node remembers as signed out (until they would have expired).
const MAX_SIGNED_OUT: usize = 100_000;

/// One signed-in user, as the cookie holds it.
#[derive(Serialize, Deserialize)]
pub struct Session {
    /// Random, names the session in CSRF tokens and sign-outs.
    pub id: String,
    pub token: String,
    pub expires_ms: u64,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.token.zeroize();
    }
}

pub struct Sessions {
    cipher: XChaCha20Poly1305,
    csrf_key: Zeroizing<[u8; 32]>,
    secure: bool,
    ttl: Duration,
    /// Sessions signed out on this node, with their expiry.
    signed_out: Mutex<HashMap<String, u64>>,
}

impl Sessions {
    pub fn new(key: Zeroizing<[u8; 32]>, secure: bool, ttl: Duration) -> Sessions {
        let mut csrf_key = Zeroizing::new([0u8; 32]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_slice())
            .expect("HMAC takes a key of any length");
        mac.update(b"warden console csrf key v1");
        csrf_key.copy_from_slice(&mac.finalize().into_bytes());
        Sessions {
            cipher: XChaCha20Poly1305::new(key.as_slice().into()),
            csrf_key,
            secure,
            ttl,
            signed_out: Mutex::new(HashMap::new()),
        }
    }

    /// A new session for `token`, and its `Set-Cookie` value.
    pub fn start(&self, token: &str) -> (Session, String) {
        let session = Session {
            id: hex::encode(rand::random::<[u8; 16]>()),
            token: token.to_owned(),
            expires_ms: now_ms().saturating_add(self.ttl.as_millis() as u64),
        };
        let cookie = self.cookie(SESSION_COOKIE, &self.seal(&session), self.ttl.as_secs());
        (session, cookie)
    }

    /// The session a cookie value holds, unless it was not sealed by this key, has
    /// expired, or was signed out here.
    pub fn open(&self, cookie: &str) -> Option<Session> {
        let sealed = URL_SAFE_NO_PAD.decode(cookie).ok()?;
        if sealed.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(24);
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: SEAL_CONTEXT,
                    },
                )
                .ok()?,
        );
        let session: Session = serde_json::from_slice(&plain).ok()?;
        if session.expires_ms <= now_ms() {
            return None;
        }
        let signed_out = self
            .signed_out
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if signed_out.contains_key(&session.id) {
            return None;
        }
        Some(session)
    }

    /// Remembers `session` as signed out until it expires; the `Set-Cookie` value that
    /// clears it from the browser.
    pub fn end(&self, session: &Session) -> String {
        let now = now_ms();
        let mut signed_out = self
            .signed_out
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        signed_out.retain(|_, expires_ms| *expires_ms > now);
        if signed_out.len() < MAX_SIGNED_OUT {
            signed_out.insert(session.id.clone(), session.expires_ms);
        }
        self.clear()
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear(&self) -> String {
        self.cookie(SESSION_COOKIE, "", 0)
    }

    /// The CSRF token of a session: forms carry it, and every POST must.
    pub fn csrf(&self, session: &Session) -> String {
        self.mac(b"session ", session.id.as_bytes())
    }

    pub fn csrf_matches(&self, session: &Session, presented: &str) -> bool {
        let expected = self.csrf(session);
        bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// A fresh value for the sign-in form and its cookie.
    pub fn sign_in_nonce(&self) -> (String, String) {
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let cookie = self.cookie(SIGN_IN_COOKIE, &nonce, 3600);
        (nonce, cookie)
    }

    pub fn clear_sign_in_nonce(&self) -> String {
        self.cookie(SIGN_IN_COOKIE, "", 0)
    }

    fn mac(&self, label: &[u8], message: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.csrf_key.as_slice())
            .expect("HMAC takes a key of any length");
        mac.update(label);
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    fn seal(&self, session: &Session) -> String {
        let nonce: [u8; 24] = rand::random();
        let plain = Zeroizing::new(serde_json::to_vec(session).expect("a session serializes"));
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: SEAL_CONTEXT,
                },
            )
            .expect("sealing a session cannot fail");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        URL_SAFE_NO_PAD.encode(sealed)
    }

    fn cookie(&self, name: &str, value: &str, max_age_secs: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}")
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(key: u8) -> Sessions {
        Sessions::new(Zeroizing::new([key; 32]), true, Duration::from_secs(60))
    }

    fn value(set_cookie: &str) -> &str {
        set_cookie
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('=').map(|(_, value)| value))
            .expect("a cookie")
    }

    #[test]
    fn a_session_opens_with_its_key_only_and_not_after_sign_out() {
        let ours = sessions(1);
        let (session, cookie) = ours.start("wdn_secret");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert!(!cookie.contains("wdn_secret"), "the token is sealed");
        let opened = ours.open(value(&cookie)).expect("opens");
        assert_eq!(
            (opened.id.as_str(), opened.token.as_str()),
            (session.id.as_str(), "wdn_secret")
        );
        assert!(sessions(2).open(value(&cookie)).is_none(), "another key");
        let mut tampered = value(&cookie).to_owned();
        tampered.replace_range(40..41, if &tampered[40..41] == "A" { "B" } else { "A" });
        assert!(ours.open(&tampered).is_none(), "tampered");
        ours.end(&session);
        assert!(ours.open(value(&cookie)).is_none(), "signed out");
    }

    #[test]
    fn an_expired_session_does_not_open() {
        let ours = Sessions::new(Zeroizing::new([1; 32]), false, Duration::ZERO);
        let (_, cookie) = ours.start("wdn_secret");
        assert!(!cookie.contains("Secure"));
        assert!(ours.open(value(&cookie)).is_none());
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let ours = sessions(1);
        let (first, _) = ours.start("wdn_a");
        let (second, _) = ours.start("wdn_a");
        let token = ours.csrf(&first);
        assert!(ours.csrf_matches(&first, &token));
        assert!(!ours.csrf_matches(&second, &token));
        assert!(!ours.csrf_matches(&first, ""));
    }

    #[test]
    fn cookie_values_are_found_by_exact_name() {
        let header = "a=1; warden_session_x=2; warden_session=3";
        assert_eq!(cookie_value(header, "warden_session"), Some("3"));
        assert_eq!(cookie_value(header, "b"), None);
    }
}
