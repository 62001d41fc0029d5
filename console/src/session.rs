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

/// The session cookie. Under TLS its name carries the `__Host-` prefix, so browsers
/// accept it only as set here (Secure, `Path=/`, no `Domain`): a sibling domain cannot
/// plant one.
const SESSION_COOKIE: &str = "warden_session";
/// The sign-in form's double-submit cookie (prefixed like the session's under TLS).
const SIGN_IN_COOKIE: &str = "warden_sign_in";
const HOST_PREFIX: &str = "__Host-";
/// Bound to every sealed session, so a ciphertext made for anything else never opens.
const SEAL_CONTEXT: &[u8] = b"warden console session v1";
/// The most sessions one node remembers as signed out (until they would have expired).
const MAX_SIGNED_OUT: usize = 100_000;
/// The most sign-outs remembered for one principal: signing in and out in a loop evicts
/// only that principal's own oldest entries, never others'.
const MAX_SIGNED_OUT_PER_PRINCIPAL: usize = 256;

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
    /// Sessions signed out on this node.
    signed_out: Mutex<SignedOut>,
    /// Woken at every sign-out, for the streams of signed-out sessions to end.
    sign_outs: tokio::sync::Notify,
}

/// Sessions signed out on this node: each with its expiry and principal, and how many
/// each principal has.
#[derive(Default)]
struct SignedOut {
    sessions: HashMap<String, (u64, String)>,
    per_principal: HashMap<String, usize>,
}

impl SignedOut {
    fn remove(&mut self, id: &str) {
        if let Some((_, principal)) = self.sessions.remove(id)
            && let Some(count) = self.per_principal.get_mut(&principal)
        {
            *count -= 1;
            if *count == 0 {
                self.per_principal.remove(&principal);
            }
        }
    }

    /// The entry that expires first, among those `keep` selects.
    fn first_to_expire(&self, keep: impl Fn(&str) -> bool) -> Option<String> {
        self.sessions
            .iter()
            .filter(|(_, (_, principal))| keep(principal))
            .min_by_key(|(_, (expires_ms, _))| *expires_ms)
            .map(|(id, _)| id.clone())
    }

    fn insert(&mut self, id: String, expires_ms: u64, principal: &str, now: u64) {
        if self.sessions.len() >= MAX_SIGNED_OUT {
            let expired: Vec<String> = self
                .sessions
                .iter()
                .filter(|(_, (expires_ms, _))| *expires_ms <= now)
                .map(|(id, _)| id.clone())
                .collect();
            for id in expired {
                self.remove(&id);
            }
        }
        if self.per_principal.get(principal).copied().unwrap_or(0) >= MAX_SIGNED_OUT_PER_PRINCIPAL
            && let Some(oldest) = self.first_to_expire(|owner| owner == principal)
        {
            self.remove(&oldest);
        }
        if self.sessions.len() >= MAX_SIGNED_OUT
            && let Some(oldest) = self.first_to_expire(|_| true)
        {
            tracing::warn!(
                "{MAX_SIGNED_OUT} signed-out console sessions remembered: forgetting the one closest to expiry"
            );
            self.remove(&oldest);
        }
        *self.per_principal.entry(principal.to_owned()).or_default() += 1;
        self.sessions.insert(id, (expires_ms, principal.to_owned()));
    }
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
            signed_out: Mutex::new(SignedOut::default()),
            sign_outs: tokio::sync::Notify::new(),
        }
    }

    /// The session cookie's name: `__Host-warden_session` under TLS.
    pub fn session_cookie(&self) -> String {
        self.named(SESSION_COOKIE)
    }

    /// The sign-in cookie's name: `__Host-warden_sign_in` under TLS.
    pub fn sign_in_cookie(&self) -> String {
        self.named(SIGN_IN_COOKIE)
    }

    fn named(&self, name: &str) -> String {
        match self.secure {
            true => format!("{HOST_PREFIX}{name}"),
            false => name.to_owned(),
        }
    }

    /// A new session for `token`, and its `Set-Cookie` value.
    pub fn start(&self, token: &str) -> (Session, String) {
        let session = Session {
            id: hex::encode(rand::random::<[u8; 16]>()),
            token: token.to_owned(),
            expires_ms: now_ms().saturating_add(self.ttl.as_millis() as u64),
        };
        let cookie = self.cookie(
            &self.session_cookie(),
            &self.seal(&session),
            self.ttl.as_secs(),
        );
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
        match self.is_over(&session) {
            true => None,
            false => Some(session),
        }
    }

    /// Whether `session` expired or was signed out here: a stream opened in it stops.
    pub fn is_over(&self, session: &Session) -> bool {
        session.expires_ms <= now_ms()
            || self
                .signed_out
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .sessions
                .contains_key(&session.id)
    }

    /// Remembers `session` (of `principal`) as signed out until it expires; the
    /// `Set-Cookie` value that clears it from the browser.
    pub fn end(&self, session: &Session, principal: &str) -> String {
        self.signed_out
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(session.id.clone(), session.expires_ms, principal, now_ms());
        self.sign_outs.notify_waiters();
        self.clear()
    }

    /// Completes at the next sign-out on this node (of any session).
    pub fn signed_out_somewhere(&self) -> tokio::sync::futures::Notified<'_> {
        self.sign_outs.notified()
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear(&self) -> String {
        self.cookie(&self.session_cookie(), "", 0)
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
        let cookie = self.cookie(&self.sign_in_cookie(), &nonce, 3600);
        (nonce, cookie)
    }

    pub fn clear_sign_in_nonce(&self) -> String {
        self.cookie(&self.sign_in_cookie(), "", 0)
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

/// The value of cookie `name` in a `Cookie` header; none when the header carries it more
/// than once (another path's or site's cookie of the same name), since which one is ours
/// cannot be told.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    let mut values = header.split(';').filter_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    });
    let value = values.next()?;
    values.next().is_none().then_some(value)
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
        assert!(cookie.starts_with("__Host-warden_session=") && cookie.contains("Path=/;"));
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
        ours.end(&session, "user/ann");
        assert!(ours.open(value(&cookie)).is_none(), "signed out");
    }

    #[test]
    fn one_principal_signing_out_in_a_loop_cannot_make_others_sign_outs_forgotten() {
        let ours = sessions(1);
        // The attacker signs in and out as often as the node would remember sign-outs...
        let later = now_ms() + 3_600_000;
        for n in 0..=MAX_SIGNED_OUT {
            let session = Session {
                id: format!("attacker-{n}"),
                token: String::new(),
                expires_ms: later,
            };
            ours.end(&session, "user/mallory");
        }
        // ... yet the victim's sign-out is remembered, and a copy of their cookie is dead.
        let (victim, cookie) = ours.start("wdn_victim");
        ours.end(&victim, "user/ann");
        assert!(
            ours.open(value(&cookie)).is_none(),
            "the victim's sign-out holds"
        );
        let remembered = ours.signed_out.lock().expect("lock").sessions.len();
        assert!(
            remembered <= MAX_SIGNED_OUT_PER_PRINCIPAL + 1,
            "one principal fills only its own share: {remembered}"
        );
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
        // A planted second cookie of the name makes it unreadable, not the attacker's.
        let planted = "warden_session=planted; warden_session=3";
        assert_eq!(cookie_value(planted, "warden_session"), None);
    }
}
