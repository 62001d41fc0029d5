//! Who may apply what: bootstrap, the token check at the request's time, the role
//! matrix, workspaces hidden from non-members, node and agent principals, revoking
//! tokens and changing roles. Every command goes through `run`, which checks that it
//! left exactly one audit record naming its principal and that a refusal changed
//! nothing else.

use super::fixtures::*;
use crate::memory::MemoryState;
use crate::*;

/// The time user requests are stamped with unless a case says otherwise.
const NOW: u64 = 10_000;
/// The time of the setup commands the system applies.
const SETUP: u64 = 1_000;

fn user(name: &str) -> Principal {
    Principal::parse(&format!("user/{name}")).expect("valid user")
}

fn anonymous() -> Principal {
    serde_json::from_str("\"anonymous\"").expect("a principal from an old log")
}

fn task(id: u128) -> TaskId {
    TaskId::from_u128(id)
}

fn in_acme() -> Scope {
    Scope::Workspace(ws("acme"))
}

fn as_user(principal: &Principal, token: TokenId, time_ms: u64, command: Command) -> Request {
    Request {
        time_ms,
        principal: principal.clone(),
        token: Some(token),
        command,
    }
}

/// A request without a token, as nodes, agents and old log entries send them.
fn as_tokenless(principal: &Principal, time_ms: u64, command: Command) -> Request {
    Request {
        time_ms,
        principal: principal.clone(),
        token: None,
        command,
    }
}

/// A copy of the state without the audit chain and the applied index, which every
/// command advances.
fn beyond_audit(state: &MemoryState) -> MemoryState {
    MemoryState {
        audit: Vec::new(),
        head: AuditHead::default(),
        applied_index: 0,
        ..state.clone()
    }
}

/// Applies `request` at the next log index. Whatever the outcome, it must add exactly one
/// audit record naming the request's principal; a refusal must change nothing else.
fn run(state: &mut MemoryState, request: &Request) -> Outcome {
    let before = state.clone();
    let log_index = state.applied_index + 1;
    let outcome = state.apply(log_index, request);
    assert_eq!(
        state.audit.len(),
        before.audit.len() + 1,
        "{request:?}: one audit record"
    );
    let record = state.audit.last().expect("an audit record");
    assert_eq!(record.log_index, log_index, "{request:?}");
    assert_eq!(
        record.principal,
        request.principal.to_string(),
        "{request:?}"
    );
    assert_eq!(record.action, request.command.action().as_str());
    match &outcome {
        Outcome::Rejected(rejection) => {
            assert_eq!(record.outcome, "rejected", "{request:?}");
            // A journal step's record also names the node and epoch it came from.
            let expected = match &request.command {
                Command::AppendJournal { node, epoch, .. } => {
                    format!("node {node} epoch {epoch}: {rejection}")
                }
                _ => rejection.to_string(),
            };
            assert_eq!(record.detail, expected);
            assert_eq!(
                beyond_audit(state),
                beyond_audit(&before),
                "{request:?} was refused ({rejection}) but changed the state"
            );
        }
        _ => assert_eq!(record.outcome, "accepted", "{request:?}"),
    }
    outcome
}

fn accepted(state: &mut MemoryState, request: &Request) -> Outcome {
    let outcome = run(state, request);
    assert!(
        !matches!(outcome, Outcome::Rejected(_)),
        "{request:?} was refused: {outcome:?}"
    );
    outcome
}

/// Applies a request that must be refused with `code` and a message containing
/// `fragment`.
fn rejected(state: &mut MemoryState, request: &Request, code: Code, fragment: &str) -> Rejection {
    match run(state, request) {
        Outcome::Rejected(rejection) => {
            assert_eq!(rejection.code, code, "{request:?}: {rejection}");
            assert!(
                rejection.message.contains(fragment),
                "{request:?}: {:?} does not contain {fragment:?}",
                rejection.message
            );
            rejection
        }
        other => panic!("{request:?} was accepted: {other:?}"),
    }
}

fn as_system(state: &mut MemoryState, command: Command) -> Outcome {
    accepted(state, &request(SETUP, command))
}

/// Stores a token for `principal` (as the system) and returns its id.
fn token_for(state: &mut MemoryState, principal: &Principal) -> TokenId {
    expiring_token_for(state, principal, None)
}

fn expiring_token_for(
    state: &mut MemoryState,
    principal: &Principal,
    expires_at_ms: Option<u64>,
) -> TokenId {
    let id = TokenId((state.tokens.len() as u64 + 1).to_be_bytes());
    as_system(
        state,
        Command::CreateToken {
            token: id,
            secret_hash: Hash::of(&id.0),
            principal: principal.clone(),
            description: String::new(),
            expires_at_ms,
        },
    );
    id
}

fn set_roles(scope: Scope, principal: &Principal, roles: Vec<Role>) -> Command {
    Command::SetRoles {
        scope,
        principal: principal.clone(),
        roles,
    }
}

/// `principal` with a token and `roles` in `scope`.
fn member(
    state: &mut MemoryState,
    principal: &Principal,
    scope: Scope,
    roles: Vec<Role>,
) -> TokenId {
    let token = token_for(state, principal);
    as_system(state, set_roles(scope, principal, roles));
    token
}

/// Workspaces `acme` and `globex`, each with agent `bot`; task 7 pending in acme and
/// task 9 pending in globex.
fn world() -> MemoryState {
    let mut state = MemoryState::default();
    for command in [
        setup("acme"),
        setup("globex"),
        vec![submit("acme", 7, "k", "acme work")],
        vec![submit("globex", 9, "k", "globex work")],
    ]
    .concat()
    {
        as_system(&mut state, command);
    }
    state
}

fn bootstrap(principal: &Principal, token: TokenId) -> Command {
    Command::Bootstrap {
        principal: principal.clone(),
        token,
        secret_hash: Hash::of(b"bootstrap secret"),
        node: NodeId(1),
        audit_key: None,
        checkpoint_interval: crate::anchor::DEFAULT_CHECKPOINT_INTERVAL,
    }
}

fn put_provider(workspace: &str) -> Command {
    crate::fixtures::put_provider(&ws(workspace), "second")
}

fn create_agent(workspace: &str) -> Command {
    let mut spec = agent_spec(Limits::default());
    spec.name = AgentName::parse("helper").expect("valid agent");
    Command::CreateAgent {
        workspace: ws(workspace),
        spec,
    }
}

fn submit_new(workspace: &str) -> Command {
    submit(workspace, 8, "fresh", "new work")
}

fn cancel(workspace: &str, id: u128) -> Command {
    Command::CancelTask {
        workspace: ws(workspace),
        task: task(id),
        reason: String::new(),
    }
}

/// Cancels the workspace's own pending task (7 in acme, 9 in globex).
fn cancel_own(workspace: &str) -> Command {
    cancel(workspace, if workspace == "acme" { 7 } else { 9 })
}

fn create_workspace(_: &str) -> Command {
    create("initech")
}

fn set_roles_in(workspace: &str) -> Command {
    set_roles(
        Scope::Workspace(ws(workspace)),
        &user("carol"),
        vec![Role::Viewer],
    )
}

fn set_cluster_roles(_: &str) -> Command {
    set_roles(Scope::Cluster, &user("carol"), vec![Role::Viewer])
}

fn create_token(_: &str) -> Command {
    Command::CreateToken {
        token: TokenId([0xc0; 8]),
        secret_hash: Hash::of(b"carol"),
        principal: user("carol"),
        description: "carol's laptop".to_owned(),
        expires_at_ms: None,
    }
}

fn assign(workspace: &str, id: u128) -> Command {
    Command::AssignTask {
        workspace: ws(workspace),
        task: task(id),
        node: NodeId(1),
        epoch: 1,
    }
}

fn time_out(workspace: &str, id: u128) -> Command {
    Command::TimeOutTask {
        workspace: ws(workspace),
        task: task(id),
    }
}

fn mark_stalled(workspace: &str, id: u128) -> Command {
    Command::MarkStalled {
        workspace: ws(workspace),
        task: task(id),
        progress_ms: SETUP,
    }
}

fn final_answer(workspace: &str, id: u128) -> Command {
    Command::AppendJournal {
        workspace: ws(workspace),
        task: task(id),
        node: NodeId(1),
        epoch: 1,
        step: responded(0, vec![], 5),
    }
}

fn revoke(token: TokenId) -> Command {
    Command::RevokeToken { token }
}

#[test]
fn bootstrap_is_accepted_once_and_only_from_the_system() {
    let root = user("root");
    let root_token = TokenId([0xb0; 8]);
    let mut state = MemoryState::default();
    let Outcome::TokenCreated(token) = as_system(&mut state, bootstrap(&root, root_token)) else {
        panic!("bootstrap creates a token");
    };
    assert_eq!((token.id, &token.principal), (root_token, &root));
    assert_eq!(state.tokens.get(&root_token), Some(&token));
    assert_eq!(state.bootstrapped, Some(root.clone()));
    let binding = state
        .bindings
        .get(&(Scope::Cluster, root.clone()))
        .expect("a cluster binding");
    assert_eq!(binding.roles, [Role::Admin]);
    // The new admin's token works for cluster administration at once.
    accepted(&mut state, &as_user(&root, root_token, NOW, create("acme")));

    rejected(
        &mut state,
        &request(NOW, bootstrap(&user("other"), TokenId([0xb1; 8]))),
        Code::FailedPrecondition,
        "already bootstrapped with admin user/root",
    );
    // Not even the cluster admin may bootstrap: only the cluster itself does.
    rejected(
        &mut state,
        &as_user(&root, root_token, NOW, bootstrap(&root, TokenId([0xb2; 8]))),
        Code::PermissionDenied,
        "user/root may not bootstrap the cluster",
    );

    let mut fresh = MemoryState::default();
    let mallory = user("mallory");
    let mallory_token = token_for(&mut fresh, &mallory);
    rejected(
        &mut fresh,
        &as_user(
            &mallory,
            mallory_token,
            NOW,
            bootstrap(&mallory, TokenId([0xb3; 8])),
        ),
        Code::PermissionDenied,
        "user/mallory may not bootstrap the cluster",
    );
    rejected(
        &mut fresh,
        &as_tokenless(
            &Principal::node(NodeId(1)),
            NOW,
            bootstrap(&mallory, TokenId([0xb4; 8])),
        ),
        Code::PermissionDenied,
        "node/1 may not bootstrap the cluster",
    );
    for not_a_token_holder in [
        Principal::agent(&ws("acme"), &AgentName::parse("bot").expect("valid agent")),
        Principal::node(NodeId(1)),
        Principal::system(),
    ] {
        rejected(
            &mut fresh,
            &request(NOW, bootstrap(&not_a_token_holder, TokenId([0xb5; 8]))),
            Code::InvalidArgument,
            &format!("{not_a_token_holder} is not a user/<name> or service/<name>"),
        );
    }
    assert_eq!(fresh.bootstrapped, None);
}

/// What a case expects of the token check.
#[derive(Debug)]
enum Auth {
    Accepted,
    Unauthenticated(&'static str),
}

#[test]
fn users_and_services_are_authenticated_at_the_request_time() {
    let alice = user("alice");
    let bob = user("bob");
    let carol = user("carol");
    let dave = user("dave");
    let ci = Principal::parse("service/ci").expect("valid service");
    // Tokens are numbered in creation order by `token_for`.
    let (alice_token, bob_token, carol_token, dave_token, ci_token) = (
        TokenId(1u64.to_be_bytes()),
        TokenId(2u64.to_be_bytes()),
        TokenId(3u64.to_be_bytes()),
        TokenId(4u64.to_be_bytes()),
        TokenId(5u64.to_be_bytes()),
    );
    let unknown_token = TokenId([0xee; 8]);
    let cases: Vec<(&str, Principal, Option<TokenId>, u64, Auth)> = vec![
        (
            "a valid token",
            alice.clone(),
            Some(alice_token),
            NOW,
            Auth::Accepted,
        ),
        (
            "a service account's valid token",
            ci.clone(),
            Some(ci_token),
            NOW,
            Auth::Accepted,
        ),
        (
            "no token",
            alice.clone(),
            None,
            NOW,
            Auth::Unauthenticated("user/alice presented no token"),
        ),
        (
            "a service account without a token",
            ci.clone(),
            None,
            NOW,
            Auth::Unauthenticated("service/ci presented no token"),
        ),
        (
            "an unknown token",
            alice.clone(),
            Some(unknown_token),
            NOW,
            Auth::Unauthenticated("token eeeeeeeeeeeeeeee does not exist"),
        ),
        (
            "another principal's token",
            alice.clone(),
            Some(bob_token),
            NOW,
            Auth::Unauthenticated("token 0000000000000002 does not belong to user/alice"),
        ),
        (
            "a millisecond before expiry",
            carol.clone(),
            Some(carol_token),
            19_999,
            Auth::Accepted,
        ),
        (
            "at the expiry",
            carol.clone(),
            Some(carol_token),
            20_000,
            Auth::Unauthenticated("token 0000000000000003 expired at 20000 ms"),
        ),
        (
            "after the expiry",
            carol.clone(),
            Some(carol_token),
            25_000,
            Auth::Unauthenticated("expired at 20000 ms"),
        ),
        (
            "revoked before the request's time",
            dave.clone(),
            Some(dave_token),
            16_000,
            Auth::Unauthenticated("token 0000000000000004 was revoked at 15000 ms"),
        ),
        // The revocation is ordered in the log: a request stamped before it but applied
        // after it is refused all the same.
        (
            "stamped before the revocation, applied after it",
            dave.clone(),
            Some(dave_token),
            14_000,
            Auth::Unauthenticated("token 0000000000000004 was revoked at 15000 ms"),
        ),
        (
            "the anonymous principal of old logs",
            anonymous(),
            None,
            NOW,
            Auth::Unauthenticated("unknown principal anonymous"),
        ),
        (
            "the anonymous principal with a token",
            anonymous(),
            Some(alice_token),
            NOW,
            Auth::Unauthenticated("unknown principal anonymous"),
        ),
    ];
    for (name, principal, token, time_ms, expect) in cases {
        let mut state = world();
        assert_eq!(
            member(&mut state, &alice, in_acme(), vec![Role::Operator]),
            alice_token
        );
        assert_eq!(
            member(&mut state, &bob, in_acme(), vec![Role::Operator]),
            bob_token
        );
        assert_eq!(
            expiring_token_for(&mut state, &carol, Some(20_000)),
            carol_token
        );
        as_system(
            &mut state,
            set_roles(in_acme(), &carol, vec![Role::Operator]),
        );
        assert_eq!(
            member(&mut state, &dave, in_acme(), vec![Role::Operator]),
            dave_token
        );
        assert_eq!(
            member(&mut state, &ci, in_acme(), vec![Role::Operator]),
            ci_token
        );
        accepted(&mut state, &request(15_000, revoke(dave_token)));

        let request = Request {
            time_ms,
            principal,
            token,
            command: submit_new("acme"),
        };
        match expect {
            Auth::Accepted => {
                let outcome = run(&mut state, &request);
                assert!(
                    matches!(outcome, Outcome::TaskSubmitted { .. }),
                    "{name}: {outcome:?}"
                );
            }
            Auth::Unauthenticated(fragment) => {
                rejected(&mut state, &request, Code::Unauthenticated, fragment);
            }
        }
    }
}

/// What a row of the permission matrix expects for one subject.
#[derive(Debug, Clone, Copy, PartialEq)]
enum May {
    Yes,
    /// PERMISSION_DENIED, with the row's fragment in the message.
    Denied,
    /// NOT_FOUND "workspace acme not found": the subject has no role in acme.
    Hidden,
}

/// The subjects of the permission matrix, in column order.
fn subjects() -> [(&'static str, Option<(Scope, Role)>); 8] {
    [
        ("admin in acme", Some((in_acme(), Role::Admin))),
        ("operator in acme", Some((in_acme(), Role::Operator))),
        ("approver in acme", Some((in_acme(), Role::Approver))),
        ("auditor in acme", Some((in_acme(), Role::Auditor))),
        ("viewer in acme", Some((in_acme(), Role::Viewer))),
        ("no role in acme", None),
        ("cluster admin", Some((Scope::Cluster, Role::Admin))),
        ("cluster viewer", Some((Scope::Cluster, Role::Viewer))),
    ]
}

#[test]
fn each_role_may_do_what_its_permissions_say() {
    use May::*;
    type Row = (&'static str, fn(&str) -> Command, &'static str, [May; 8]);
    let cluster = "lacks the administer permission for the cluster";
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        //                                                          admin   operator approver auditor viewer  none    cl-admin cl-viewer
        ("create a workspace", create_workspace, cluster,           [Denied, Denied, Denied, Denied, Denied, Denied, Yes,    Denied]),
        ("put a provider", put_provider, "lacks the configure permission in workspace acme",
                                                                    [Yes,    Yes,    Denied, Denied, Denied, Hidden, Yes,    Denied]),
        ("create an agent", create_agent, "lacks the configure permission in workspace acme",
                                                                    [Yes,    Yes,    Denied, Denied, Denied, Hidden, Yes,    Denied]),
        ("submit a task", submit_new, "lacks the operate permission in workspace acme",
                                                                    [Yes,    Yes,    Denied, Denied, Denied, Hidden, Yes,    Denied]),
        ("cancel a task", cancel_own, "lacks the operate permission in workspace acme",
                                                                    [Yes,    Yes,    Denied, Denied, Denied, Hidden, Yes,    Denied]),
        ("set roles in acme", set_roles_in, "lacks the administer permission in workspace acme",
                                                                    [Yes,    Denied, Denied, Denied, Denied, Hidden, Yes,    Denied]),
        ("set cluster roles", set_cluster_roles, cluster,           [Denied, Denied, Denied, Denied, Denied, Denied, Yes,    Denied]),
        ("create a token", create_token, cluster,                   [Denied, Denied, Denied, Denied, Denied, Denied, Yes,    Denied]),
    ];
    let subject = user("subject");
    for (action, command, denial, expected) in rows {
        for ((label, binding), may) in subjects().into_iter().zip(expected) {
            let mut state = world();
            let token = token_for(&mut state, &subject);
            if let Some((scope, role)) = binding {
                as_system(&mut state, set_roles(scope, &subject, vec![role]));
            }
            let request = as_user(&subject, token, NOW, command("acme"));
            let outcome = run(&mut state, &request);
            match (may, outcome) {
                (Yes, Outcome::Rejected(rejection)) => {
                    panic!("{label} may {action}, but was refused: {rejection}")
                }
                (Yes, _) => {}
                (Denied, Outcome::Rejected(rejection)) => {
                    assert_eq!(rejection.code, Code::PermissionDenied, "{label}: {action}");
                    assert!(
                        rejection.message.starts_with("user/subject")
                            && rejection.message.contains(denial),
                        "{label}: {action}: {}",
                        rejection.message
                    );
                }
                (Hidden, Outcome::Rejected(rejection)) => assert_eq!(
                    rejection,
                    Rejection::new(Code::NotFound, "workspace acme not found"),
                    "{label}: {action}"
                ),
                (may, outcome) => panic!("{label}: {action}: expected {may:?}, got {outcome:?}"),
            }
        }
    }
}

#[test]
fn a_cluster_admin_may_do_everything_in_every_workspace() {
    let root = user("root");
    let workspace_commands: [fn(&str) -> Command; 5] = [
        put_provider,
        create_agent,
        submit_new,
        cancel_own,
        set_roles_in,
    ];
    for workspace in ["acme", "globex"] {
        for command in workspace_commands {
            let mut state = world();
            let token = member(&mut state, &root, Scope::Cluster, vec![Role::Admin]);
            accepted(&mut state, &as_user(&root, token, NOW, command(workspace)));
        }
    }
    // For a workspace that does not exist the admin meets the domain's own NOT_FOUND,
    // which reads exactly as the one that hides acme from a non-member.
    let mut state = world();
    let token = member(&mut state, &root, Scope::Cluster, vec![Role::Admin]);
    let missing = rejected(
        &mut state,
        &as_user(&root, token, NOW, submit_new("initech")),
        Code::NotFound,
        "workspace initech not found",
    );
    let stranger = user("stranger");
    let stranger_token = token_for(&mut state, &stranger);
    let hidden = rejected(
        &mut state,
        &as_user(&stranger, stranger_token, NOW, submit_new("acme")),
        Code::NotFound,
        "workspace acme not found",
    );
    assert_eq!(
        hidden.message.replace("acme", "initech"),
        missing.message,
        "a hidden workspace reads like a missing one"
    );
}

fn check(
    state: &MemoryState,
    principal: &Principal,
    workspace: Option<&str>,
    permission: Permission,
) -> Result<(), Rejection> {
    let workspace = workspace.map(ws);
    match require(state, principal, workspace.as_ref(), permission) {
        Ok(decision) => decision,
        Err(never) => match never {},
    }
}

#[test]
fn a_cluster_viewer_reads_every_workspace_but_operates_none() {
    let mut state = world();
    let viewer = user("viewer");
    let token = member(&mut state, &viewer, Scope::Cluster, vec![Role::Viewer]);
    for workspace in ["acme", "globex"] {
        assert_eq!(
            check(&state, &viewer, Some(workspace), Permission::Read),
            Ok(())
        );
        let refused = check(&state, &viewer, Some(workspace), Permission::Operate)
            .expect_err("a viewer does not operate");
        assert_eq!(refused.code, Code::PermissionDenied, "{refused}");
        assert!(
            refused.message.contains(&format!(
                "(roles: viewer) lacks the operate permission in workspace {workspace}"
            )),
            "{refused}"
        );
        rejected(
            &mut state,
            &as_user(&viewer, token, NOW, submit_new(workspace)),
            Code::PermissionDenied,
            "lacks the operate permission",
        );
    }
    assert_eq!(check(&state, &viewer, None, Permission::Read), Ok(()));
    assert_eq!(
        check(&state, &viewer, None, Permission::Administer).map_err(|refused| refused.code),
        Err(Code::PermissionDenied)
    );

    // A workspace role reads only its own workspace; everywhere else it finds nothing.
    let auditor = user("auditor");
    member(&mut state, &auditor, in_acme(), vec![Role::Auditor]);
    assert_eq!(
        check(&state, &auditor, Some("acme"), Permission::Read),
        Ok(())
    );
    assert_eq!(
        check(&state, &auditor, Some("acme"), Permission::ReadAudit),
        Ok(())
    );
    assert_eq!(
        check(&state, &auditor, Some("globex"), Permission::Read),
        Err(Rejection::new(Code::NotFound, "workspace globex not found"))
    );
    assert_eq!(
        check(&state, &auditor, None, Permission::Read).map_err(|refused| refused.code),
        Err(Code::PermissionDenied)
    );
    // Nodes and agents never pass a read check, whatever the workspace.
    assert_eq!(
        check(
            &state,
            &Principal::node(NodeId(1)),
            Some("acme"),
            Permission::Read
        )
        .map_err(|refused| refused.code),
        Err(Code::PermissionDenied)
    );
}

#[test]
fn a_role_in_one_workspace_finds_nothing_in_another() {
    let mut state = world();
    let alice = user("alice");
    let token = member(&mut state, &alice, in_acme(), vec![Role::Operator]);
    let cases: Vec<(&str, Command, &str)> = vec![
        (
            "submit into globex",
            submit_new("globex"),
            "workspace globex not found",
        ),
        (
            "cancel in globex",
            cancel("globex", 9),
            "workspace globex not found",
        ),
        (
            "configure globex",
            put_provider("globex"),
            "workspace globex not found",
        ),
        // Naming acme passes the role check, but globex's task is not in acme.
        (
            "cancel globex's task through acme",
            cancel("acme", 9),
            "task 00000000000000000000000009 not found in workspace acme",
        ),
    ];
    for (name, command, fragment) in cases {
        let refused = rejected(
            &mut state,
            &as_user(&alice, token, NOW, command),
            Code::NotFound,
            fragment,
        );
        assert!(!refused.message.contains("permission"), "{name}: {refused}");
    }
    let globex_task = &state.tasks[&(ws("globex"), task(9))];
    assert_eq!(globex_task.status, TaskStatus::Pending);
}

#[test]
fn only_nodes_place_and_expire_tasks_and_only_its_agent_journals_a_task() {
    let node = Principal::node(NodeId(1));
    let bot = AgentName::parse("bot").expect("valid agent");
    let own_agent = Principal::agent(&ws("acme"), &bot);
    let other_agent = Principal::agent(&ws("acme"), &AgentName::parse("helper").expect("valid"));
    let same_name_elsewhere = Principal::agent(&ws("globex"), &bot);

    let mut state = world();
    let root = user("root");
    let root_token = member(&mut state, &root, Scope::Cluster, vec![Role::Admin]);
    let operator = user("operator");
    let operator_token = member(&mut state, &operator, in_acme(), vec![Role::Operator]);
    for command in [
        assign("acme", 7),
        time_out("acme", 7),
        mark_stalled("acme", 7),
    ] {
        for (principal, token) in [(&root, root_token), (&operator, operator_token)] {
            rejected(
                &mut state,
                &as_user(principal, token, NOW, command.clone()),
                Code::PermissionDenied,
                "may not place or expire tasks, fire schedules, set the cluster protocol or record deliveries: only nodes do",
            );
        }
        rejected(
            &mut state,
            &as_tokenless(&own_agent, NOW, command.clone()),
            Code::PermissionDenied,
            "only nodes do",
        );
    }
    // A node passes the role check; what remains are the domain's own rules.
    for command in [time_out("acme", 7), mark_stalled("acme", 7)] {
        if let Outcome::Rejected(rejection) = run(&mut state, &as_tokenless(&node, NOW, command)) {
            assert!(
                !matches!(
                    rejection.code,
                    Code::PermissionDenied | Code::Unauthenticated
                ),
                "{rejection}"
            );
        }
    }
    accepted(&mut state, &as_tokenless(&node, NOW, assign("acme", 7)));
    for (principal, fragment) in [
        (
            &other_agent,
            "may not journal task 00000000000000000000000007: it is not this agent's task",
        ),
        (&same_name_elsewhere, "it is not this agent's task"),
        (
            &node,
            "may not journal task 00000000000000000000000007: only its agent does",
        ),
    ] {
        rejected(
            &mut state,
            &as_tokenless(principal, NOW, final_answer("acme", 7)),
            Code::PermissionDenied,
            fragment,
        );
    }
    rejected(
        &mut state,
        &as_user(&root, root_token, NOW, final_answer("acme", 7)),
        Code::PermissionDenied,
        "only its agent does",
    );
    for command in [submit_new("acme"), cancel("acme", 7), revoke(root_token)] {
        rejected(
            &mut state,
            &as_tokenless(&node, NOW, command),
            Code::PermissionDenied,
            "node/1 may not act for users",
        );
    }
    accepted(
        &mut state,
        &as_tokenless(&own_agent, NOW, final_answer("acme", 7)),
    );
    assert_eq!(
        state.tasks[&(ws("acme"), task(7))].status,
        TaskStatus::Completed
    );
}

#[test]
fn tokens_are_revoked_by_their_principal_or_a_cluster_admin() {
    let mut state = world();
    let root = user("root");
    let root_token = member(&mut state, &root, Scope::Cluster, vec![Role::Admin]);
    let alice = user("alice");
    let alice_token = member(&mut state, &alice, in_acme(), vec![Role::Admin]);
    let alice_spare = token_for(&mut state, &alice);
    let bob = user("bob");
    let bob_token = member(&mut state, &bob, in_acme(), vec![Role::Admin]);

    rejected(
        &mut state,
        &as_user(&bob, bob_token, NOW, revoke(alice_spare)),
        Code::PermissionDenied,
        "user/bob lacks the administer permission for the cluster",
    );
    let Outcome::TokenRevoked(revoked) = accepted(
        &mut state,
        &as_user(&alice, alice_token, NOW, revoke(alice_spare)),
    ) else {
        panic!("a revocation returns the revoked token");
    };
    assert_eq!(
        (revoked.revoked_ms, revoked.revoked_by),
        (Some(NOW), Some(alice.clone()))
    );
    rejected(
        &mut state,
        &as_user(&alice, alice_token, NOW + 1, revoke(alice_spare)),
        Code::FailedPrecondition,
        "token 0000000000000003 is already revoked",
    );
    rejected(
        &mut state,
        &as_user(&root, root_token, NOW, revoke(TokenId([0xee; 8]))),
        Code::NotFound,
        "token eeeeeeeeeeeeeeee not found",
    );
    // A cluster admin revokes anyone's token, which then stops working.
    accepted(
        &mut state,
        &as_user(&root, root_token, NOW, revoke(bob_token)),
    );
    rejected(
        &mut state,
        &as_user(&bob, bob_token, NOW + 1, submit_new("acme")),
        Code::Unauthenticated,
        "was revoked",
    );
    // Revoking the token one authenticates with is allowed, and is its last use.
    accepted(
        &mut state,
        &as_user(&alice, alice_token, NOW, revoke(alice_token)),
    );
    rejected(
        &mut state,
        &as_user(&alice, alice_token, NOW, revoke(alice_token)),
        Code::Unauthenticated,
        "was revoked",
    );
}

#[test]
fn roles_are_replaced_removed_and_a_cluster_admin_cannot_demote_itself() {
    let mut state = world();
    let root = user("root");
    let root_token = member(&mut state, &root, Scope::Cluster, vec![Role::Admin]);
    let alice = user("alice");
    let alice_token = member(&mut state, &alice, in_acme(), vec![Role::Admin]);
    let bob = user("bob");
    let bob_token = member(&mut state, &bob, in_acme(), vec![Role::Operator]);

    accepted(
        &mut state,
        &as_user(&bob, bob_token, NOW, submit_new("acme")),
    );
    accepted(
        &mut state,
        &as_user(&alice, alice_token, NOW, set_roles(in_acme(), &bob, vec![])),
    );
    assert!(!state.bindings.contains_key(&(in_acme(), bob.clone())));
    rejected(
        &mut state,
        &as_user(&bob, bob_token, NOW, cancel("acme", 8)),
        Code::NotFound,
        "workspace acme not found",
    );

    for roles in [vec![], vec![Role::Viewer]] {
        rejected(
            &mut state,
            &as_user(
                &root,
                root_token,
                NOW,
                set_roles(Scope::Cluster, &root, roles),
            ),
            Code::FailedPrecondition,
            "user/root cannot remove its own cluster admin role",
        );
    }
    assert_eq!(
        state.bindings[&(Scope::Cluster, root.clone())].roles,
        [Role::Admin]
    );
    // Another cluster admin may be removed.
    let second = user("second");
    member(&mut state, &second, Scope::Cluster, vec![Role::Admin]);
    accepted(
        &mut state,
        &as_user(
            &root,
            root_token,
            NOW,
            set_roles(Scope::Cluster, &second, vec![]),
        ),
    );
    assert!(!state.bindings.contains_key(&(Scope::Cluster, second)));
}

#[test]
fn every_command_leaves_one_audit_record_naming_its_principal() {
    let mut state = world();
    let alice = user("alice");
    let alice_token = member(&mut state, &alice, in_acme(), vec![Role::Operator]);
    let node = Principal::node(NodeId(1));
    let agent = Principal::agent(&ws("acme"), &AgentName::parse("bot").expect("valid agent"));
    let start = state.audit.len();
    let requests = [
        as_user(&alice, alice_token, NOW, submit_new("acme")),
        as_user(&alice, alice_token, NOW, create("initech")),
        as_tokenless(&alice, NOW, submit_new("acme")),
        as_tokenless(&anonymous(), NOW, create("initech")),
        as_tokenless(&node, NOW, assign("acme", 7)),
        as_tokenless(&node, NOW, submit_new("acme")),
        as_tokenless(&agent, NOW, final_answer("acme", 7)),
        as_tokenless(&agent, NOW, final_answer("globex", 9)),
        request(NOW, create("initech")),
    ];
    for request in &requests {
        run(&mut state, request);
    }
    let principals: Vec<&str> = state.audit[start..]
        .iter()
        .map(|record| record.principal.as_str())
        .collect();
    assert_eq!(
        principals,
        [
            "user/alice",
            "user/alice",
            "user/alice",
            "anonymous",
            "node/1",
            "node/1",
            "agent/acme/bot",
            "agent/acme/bot",
            "system"
        ]
    );
    let outcomes: Vec<&str> = state.audit[start..]
        .iter()
        .map(|record| record.outcome.as_str())
        .collect();
    assert_eq!(
        outcomes,
        [
            "accepted", "rejected", "rejected", "rejected", "accepted", "rejected", "accepted",
            "rejected", "accepted"
        ]
    );
    let mut verifier = ChainVerifier::new();
    for record in &state.audit {
        verifier.push(record).expect("the chain verifies");
    }
    assert_eq!(verifier.head(), state.head);
}
