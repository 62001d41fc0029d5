//! Sealed secrets in configuration records: where `apply()` stores them, how a later
//! write replaces them, and how a workspace gets its one key.

use warden_secrets::{SealedSecret, WrappedKey};

use super::fixtures::{catalog_spec, request, ws};
use crate::memory::MemoryState;
use crate::*;

fn wrapped(tag: u8) -> WrappedKey {
    WrappedKey {
        master_key_id: "0011223344556677".to_owned(),
        nonce: vec![tag; 24],
        ciphertext: vec![tag; 48],
    }
}

fn sealed(tag: u8) -> SealedSecret {
    SealedSecret {
        nonce: vec![tag; 24],
        ciphertext: vec![tag; 40],
    }
}

fn provider(api_key: Option<SealedSecret>, workspace_key: Option<WrappedKey>) -> Command {
    Command::PutProvider {
        workspace: ws("acme"),
        name: ProviderName::parse("model").expect("valid provider"),
        kind: ProviderKind::OpenAi,
        base_url: "http://127.0.0.1:9/v1".to_owned(),
        model: "scripted".to_owned(),
        api_key_env: None,
        api_key,
        request_timeout_ms: 1000,
        max_retries: 0,
        max_output_tokens: 256,
        workspace_key,
    }
}

fn stdio(secret_env: Vec<(&str, SealedSecret)>, env: Vec<(&str, &str)>) -> McpTransport {
    McpTransport::Stdio {
        catalog: CatalogName::parse("tools").expect("valid entry"),
        args: vec![],
        env: env
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        secret_env: secret_env
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
    }
}

fn register(transport: McpTransport, workspace_key: Option<WrappedKey>) -> Command {
    Command::RegisterMcpServer {
        workspace: ws("acme"),
        name: ServerName::parse("tools").expect("valid server"),
        transport,
        workspace_key,
    }
}

/// A state with workspace acme, created with `key`.
struct Secrets {
    state: MemoryState,
}

impl Secrets {
    fn new(key: Option<WrappedKey>) -> Secrets {
        let mut secrets = Secrets {
            state: MemoryState::default(),
        };
        secrets.ok(Command::CreateWorkspace {
            workspace: ws("acme"),
            key,
        });
        let mut spec = catalog_spec("tools");
        spec.allowed_env.push("MODE".to_owned());
        secrets.ok(Command::PutCatalogEntry { spec });
        secrets
    }

    fn run(&mut self, command: Command) -> Outcome {
        let index = self.state.applied_index + 1;
        self.state.apply(index, &request(index * 10, command))
    }

    fn ok(&mut self, command: Command) -> Outcome {
        let outcome = self.run(command.clone());
        assert!(
            !matches!(outcome, Outcome::Rejected(_)),
            "{command:?} was rejected: {outcome:?}"
        );
        outcome
    }

    fn refused(&mut self, command: Command, code: Code) -> String {
        let before = self.state.clone();
        match self.run(command.clone()) {
            Outcome::Rejected(rejection) => {
                assert_eq!(rejection.code, code, "{command:?}: {rejection}");
                assert_eq!(self.state.workspaces, before.workspaces);
                assert_eq!(self.state.providers, before.providers);
                assert_eq!(self.state.mcp_servers, before.mcp_servers);
                rejection.message
            }
            other => panic!("{command:?} was accepted: {other:?}"),
        }
    }

    fn workspace_key(&self) -> Option<WrappedKey> {
        self.state.workspaces[&ws("acme")].key.clone()
    }

    fn provider(&self) -> Provider {
        self.state.providers[&(ws("acme"), ProviderName::parse("model").expect("valid"))].clone()
    }

    fn server(&self) -> McpServer {
        self.state.mcp_servers[&(ws("acme"), ServerName::parse("tools").expect("valid"))].clone()
    }
}

#[test]
fn a_created_workspace_keeps_the_key_it_was_created_with() {
    assert_eq!(
        Secrets::new(Some(wrapped(1))).workspace_key(),
        Some(wrapped(1))
    );
    assert_eq!(Secrets::new(None).workspace_key(), None);
}

#[test]
fn a_sealed_api_key_is_stored_and_a_put_without_one_clears_it() {
    let mut secrets = Secrets::new(Some(wrapped(1)));
    match secrets.ok(provider(Some(sealed(7)), None)) {
        Outcome::ProviderPut(put) => assert_eq!(put.api_key, Some(sealed(7))),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(secrets.provider().api_key, Some(sealed(7)));
    assert_eq!(secrets.provider().version, 1);

    // A put replaces the whole record, the key included.
    secrets.ok(provider(None, None));
    assert_eq!(secrets.provider().api_key, None);
    assert_eq!(secrets.provider().version, 2);
    assert_eq!(
        secrets.workspace_key(),
        Some(wrapped(1)),
        "the workspace key stays"
    );
}

#[test]
fn a_provider_has_a_stored_key_or_a_key_variable_not_both() {
    let mut secrets = Secrets::new(Some(wrapped(1)));
    let mut both = provider(Some(sealed(7)), None);
    if let Command::PutProvider { api_key_env, .. } = &mut both {
        *api_key_env = Some("OPENAI_API_KEY".to_owned());
    }
    let message = secrets.refused(both, Code::InvalidArgument);
    assert!(message.contains("api_key"), "{message}");
}

#[test]
fn the_first_secret_write_gives_a_keyless_workspace_its_key_and_the_first_key_wins() {
    let mut secrets = Secrets::new(None);
    let message = secrets.refused(provider(Some(sealed(7)), None), Code::FailedPrecondition);
    assert!(message.contains("no key"), "{message}");

    secrets.ok(provider(Some(sealed(7)), Some(wrapped(2))));
    assert_eq!(secrets.workspace_key(), Some(wrapped(2)));
    assert_eq!(secrets.provider().api_key, Some(sealed(7)));

    // A racing first write sealed its secret with another key, which would never open.
    let message = secrets.refused(
        register(stdio(vec![("TOKEN", sealed(8))], vec![]), Some(wrapped(3))),
        Code::Aborted,
    );
    assert!(message.contains("retry"), "{message}");
    assert_eq!(secrets.workspace_key(), Some(wrapped(2)));

    // Offering the stored key again, or none, is fine.
    secrets.ok(provider(Some(sealed(9)), Some(wrapped(2))));
    secrets.ok(register(stdio(vec![("TOKEN", sealed(8))], vec![]), None));
    assert_eq!(secrets.workspace_key(), Some(wrapped(2)));
}

#[test]
fn a_key_offered_without_secrets_is_not_stored() {
    let mut secrets = Secrets::new(None);
    secrets.ok(provider(None, Some(wrapped(2))));
    assert_eq!(secrets.workspace_key(), None);
}

#[test]
fn mcp_secrets_are_stored_with_their_transport() {
    let mut secrets = Secrets::new(Some(wrapped(1)));
    secrets.ok(register(
        stdio(vec![("TOKEN", sealed(8))], vec![("MODE", "test")]),
        None,
    ));
    assert_eq!(
        secrets.server().transport,
        stdio(vec![("TOKEN", sealed(8))], vec![("MODE", "test")])
    );

    let http = McpTransport::Http {
        url: "http://127.0.0.1:9/mcp".to_owned(),
        bearer: Some(sealed(9)),
    };
    secrets.ok(register(http.clone(), None));
    assert_eq!(secrets.server().transport, http);
    assert_eq!(secrets.server().version, 2);
}

#[test]
fn secret_variables_are_checked() {
    let mut secrets = Secrets::new(Some(wrapped(1)));
    for (transport, expected) in [
        (
            stdio(vec![("NOT-A-NAME", sealed(1))], vec![]),
            "not an environment variable name",
        ),
        (
            stdio(vec![("TOKEN", sealed(1)), ("TOKEN", sealed(2))], vec![]),
            "twice",
        ),
        (
            stdio(vec![("TOKEN", sealed(1))], vec![("TOKEN", "plain")]),
            "both env and secret_env",
        ),
    ] {
        let message = secrets.refused(register(transport, None), Code::InvalidArgument);
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn the_audit_payload_hash_covers_the_ciphertext() {
    let with = provider(Some(sealed(7)), None);
    let other = provider(Some(sealed(8)), None);
    assert_ne!(with.payload_hash(), other.payload_hash());
    let mut secrets = Secrets::new(Some(wrapped(1)));
    secrets.ok(with.clone());
    let record = secrets.state.audit.last().expect("an audit record");
    assert_eq!(record.payload_hash, with.payload_hash());
    assert_eq!(record.action, "provider.put");
}
