//! The cluster catalog: only cluster admins put and delete entries; a stdio server is
//! registered by entry, with only the extra arguments and variables the entry allows,
//! unpinned until a second command pins the listed tools for that registration.

use super::fixtures::*;
use crate::*;

fn entry_name(name: &str) -> CatalogName {
    CatalogName::parse(name).expect("valid entry")
}

fn register(catalog: &str, args: &[&str], env: &[&str]) -> Command {
    Command::RegisterMcpServer {
        workspace: ws("acme"),
        name: ServerName::parse("other").expect("valid server"),
        transport: McpTransport::Stdio {
            catalog: entry_name(catalog),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            env: env
                .iter()
                .map(|name| ((*name).to_owned(), "x".to_owned()))
                .collect(),
            secret_env: vec![],
        },
        workspace_key: None,
    }
}

fn other(h: &Harness) -> Option<McpServer> {
    h.state
        .mcp_servers
        .get(&(ws("acme"), ServerName::parse("other").expect("valid")))
        .cloned()
}

/// A cluster admin `user/root` with a token.
fn cluster_admin(h: &mut Harness) -> (Principal, TokenId) {
    let principal = Principal::parse("user/root").expect("valid principal");
    let token = TokenId([9; 8]);
    h.ok(Command::CreateToken {
        token,
        secret_hash: Hash::of(b"root"),
        principal: principal.clone(),
        description: String::new(),
        expires_at_ms: None,
    });
    h.ok(Command::SetRoles {
        scope: Scope::Cluster,
        principal: principal.clone(),
        roles: vec![Role::Admin],
    });
    (principal, token)
}

#[test]
fn only_cluster_admins_put_or_delete_catalog_entries_and_refusals_are_audited() {
    let mut h = Harness::new(Limits::default());
    // A workspace admin and operator are not cluster admins.
    for roles in [&[Role::Operator][..], &[Role::Admin][..]] {
        let name = format!("user/ws-{}", roles[0].as_str());
        let who = h.user(&name, roles);
        let outcome = h.run_as(
            &who,
            Command::PutCatalogEntry {
                spec: catalog_spec("shell"),
            },
        );
        let Outcome::Rejected(rejection) = outcome else {
            panic!("{name} put a catalog entry: {outcome:?}");
        };
        assert_eq!(rejection.code, Code::PermissionDenied, "{rejection}");
        let record = h.state.audit.last().expect("audited");
        assert_eq!(record.action, "catalog.put");
        assert_eq!(record.resource, "catalog/shell");
        assert_eq!(record.outcome, "rejected");
        assert!(!h.state.catalog.contains_key(&entry_name("shell")));
        let outcome = h.run_as(
            &who,
            Command::DeleteCatalogEntry {
                name: entry_name("tools"),
            },
        );
        assert!(matches!(outcome, Outcome::Rejected(ref r) if r.code == Code::PermissionDenied));
        assert!(h.state.catalog.contains_key(&entry_name("tools")));
    }
    let root = cluster_admin(&mut h);
    let outcome = h.run_as(
        &root,
        Command::PutCatalogEntry {
            spec: catalog_spec("shell"),
        },
    );
    let Outcome::CatalogEntryPut(entry) = outcome else {
        panic!("a cluster admin could not put an entry: {outcome:?}");
    };
    assert_eq!((entry.version, entry.updated_by), (1, root.0.clone()));
    let outcome = h.run_as(
        &root,
        Command::DeleteCatalogEntry {
            name: entry_name("shell"),
        },
    );
    assert!(
        matches!(outcome, Outcome::CatalogEntryDeleted(_)),
        "{outcome:?}"
    );
    let message = h.refused(
        Command::DeleteCatalogEntry {
            name: entry_name("shell"),
        },
        Code::NotFound,
    );
    assert!(message.contains("catalog entry shell"), "{message}");
}

#[test]
fn registration_names_an_existing_entry_and_only_what_it_allows() {
    let mut h = Harness::new(Limits::default());
    let message = h.refused(register("missing", &[], &[]), Code::NotFound);
    assert!(
        message.contains("catalog entry missing not found"),
        "{message}"
    );
    let message = h.refused(
        register("tools", &["--level=3", "-c", "id"], &[]),
        Code::PermissionDenied,
    );
    assert!(message.contains("argument \"-c\""), "{message}");
    let message = h.refused(
        register("tools", &["--level=3x"], &[]),
        Code::PermissionDenied,
    );
    assert!(message.contains("--level=3x"), "{message}");
    let message = h.refused(
        register("tools", &[], &["LD_PRELOAD"]),
        Code::PermissionDenied,
    );
    assert!(message.contains("LD_PRELOAD"), "{message}");
    assert_eq!(other(&h), None);

    h.ok(register("tools", &["--verbose", "--level=3"], &["TOKEN"]));
    let server = other(&h).expect("registered");
    assert!(!server.pinned && server.tools.is_empty(), "{server:?}");
}

#[test]
fn tools_are_pinned_only_for_the_registration_they_were_listed_for() {
    let mut h = Harness::new(Limits::default());
    h.ok(register("tools", &[], &[]));
    let first = other(&h).expect("registered").version;
    // Registered again before the first listing's pin arrived: that pin is refused.
    h.ok(register("tools", &["--verbose"], &[]));
    let pin = |version| Command::PinMcpTools {
        workspace: ws("acme"),
        name: ServerName::parse("other").expect("valid"),
        expected_version: version,
        tools: vec![],
        trust_annotations: false,
    };
    let message = h.refused(pin(first), Code::Aborted);
    assert!(message.contains("mcp server other"), "{message}");
    let current = other(&h).expect("registered").version;
    h.ok(pin(current));
    let pinned = other(&h).expect("registered");
    assert!(pinned.pinned);
    // The pin raised the version: the same pin cannot land twice.
    h.refused(pin(current), Code::Aborted);
}

#[test]
fn tools_of_an_unpinned_server_cannot_be_granted() {
    let mut h = Harness::new(Limits::default());
    // Re-registering `tools` unpins it until the listing is pinned again.
    h.ok(Command::RegisterMcpServer {
        workspace: ws("acme"),
        name: ServerName::parse("tools").expect("valid"),
        transport: McpTransport::Stdio {
            catalog: entry_name("tools"),
            args: vec![],
            env: vec![],
            secret_env: vec![],
        },
        workspace_key: None,
    });
    let mut spec = agent_spec(Limits::default());
    spec.name = AgentName::parse("second").expect("valid");
    let message = h.refused(
        Command::CreateAgent {
            workspace: ws("acme"),
            spec,
        },
        Code::NotFound,
    );
    assert!(
        message.contains("not registered on mcp server tools"),
        "{message}"
    );
}

#[test]
fn deleting_an_entry_keeps_the_servers_registered_with_it() {
    let mut h = Harness::new(Limits::default());
    h.ok(Command::DeleteCatalogEntry {
        name: entry_name("tools"),
    });
    let server =
        h.state.mcp_servers[&(ws("acme"), ServerName::parse("tools").expect("valid"))].clone();
    assert!(server.pinned);
    // New registrations with it are refused, naming it.
    let message = h.refused(register("tools", &[], &[]), Code::NotFound);
    assert!(message.contains("catalog entry tools"), "{message}");
}

#[test]
fn invalid_entries_are_refused_naming_the_field() {
    let mut h = Harness::new(Limits::default());
    let mut spec = catalog_spec("shell");
    spec.executable = "sh".to_owned();
    let message = h.refused(Command::PutCatalogEntry { spec }, Code::InvalidArgument);
    assert!(message.starts_with("executable"), "{message}");
    let mut spec = catalog_spec("shell");
    spec.allowed_args = vec!["[".to_owned()];
    let message = h.refused(Command::PutCatalogEntry { spec }, Code::InvalidArgument);
    assert!(message.starts_with("allowed_args"), "{message}");
}
