//! Who may apply which command. A user's or service account's token is checked again
//! at the request's time (so a revocation is ordered with every request in the log),
//! then the command's permission is looked up in the caller's role bindings. Nodes
//! may only place and expire tasks, and an agent may only journal its own tasks.
//!
//! A caller with no role in a workspace gets the same NOT_FOUND as for a workspace
//! that does not exist, so ids in other workspaces stay invisible.

use super::StateRead;
use crate::command::{Command, Request};
use crate::identity::{Permission, Scope, TokenId};
use crate::ids::{Principal, PrincipalKind, WorkspaceId};
use crate::outcome::{Code, Rejection};
use crate::role::Role;

/// What a command needs from its principal.
enum Needs<'a> {
    /// Only the cluster itself (bootstrap).
    System,
    ClusterAdmin,
    /// A permission in a workspace.
    In(&'a WorkspaceId, Permission),
    /// The token's own principal, or a cluster admin.
    TokenOwner(&'a TokenId),
    /// A node acting on its own (placement, timeouts, stall marks).
    Node,
    /// The agent of the task the command journals.
    Agent(&'a WorkspaceId, &'a crate::ids::TaskId),
    /// Anyone authenticated (the record of a request refused at the edge).
    Authenticated,
    /// The node itself, signing its own checkpoint.
    TheNode(crate::names::NodeId),
}

fn needs(command: &Command) -> Needs<'_> {
    match command {
        Command::Bootstrap { .. } => Needs::System,
        Command::CreateToken { .. }
        | Command::CreateWorkspace { .. }
        | Command::AuthorizeMembershipChange { .. }
        | Command::PutCatalogEntry { .. }
        | Command::DeleteCatalogEntry { .. }
        | Command::DeleteWorkspace { .. }
        | Command::CreateBackup { .. } => Needs::ClusterAdmin,
        Command::RevokeToken { token } => Needs::TokenOwner(token),
        Command::SetRoles { scope, .. } => match scope {
            Scope::Cluster => Needs::ClusterAdmin,
            Scope::Workspace(workspace) => Needs::In(workspace, Permission::Administer),
        },
        Command::PutPolicy { workspace, .. }
        | Command::SetBudget { workspace, .. }
        | Command::SetWorkspaceSettings { workspace, .. } => {
            Needs::In(workspace, Permission::Administer)
        }
        Command::DecideApproval { workspace, .. } | Command::AnswerQuestion { workspace, .. } => {
            Needs::In(workspace, Permission::Approve)
        }
        Command::PutProvider { workspace, .. }
        | Command::RegisterMcpServer { workspace, .. }
        | Command::PinMcpTools { workspace, .. }
        | Command::CreateAgent { workspace, .. }
        | Command::UpdateAgent { workspace, .. }
        | Command::DeleteProvider { workspace, .. }
        | Command::DeleteMcpServer { workspace, .. }
        | Command::DeleteAgent { workspace, .. }
        | Command::PutWebhook { workspace, .. }
        | Command::DeleteWebhook { workspace, .. }
        | Command::PutSchedule { workspace, .. }
        | Command::DeleteSchedule { workspace, .. }
        | Command::PutTrigger { workspace, .. }
        | Command::DeleteTrigger { workspace, .. }
        | Command::ApplyWorkspace { workspace, .. } => Needs::In(workspace, Permission::Configure),
        Command::SubmitTask { workspace, .. }
        | Command::CancelTask { workspace, .. }
        | Command::ResolveTask { workspace, .. }
        | Command::SetPause { workspace, .. } => Needs::In(workspace, Permission::Operate),
        Command::AssignTask { .. }
        | Command::TimeOutTask { .. }
        | Command::MarkStalled { .. }
        | Command::ExpireApproval { .. }
        | Command::ExpireQuestion { .. }
        | Command::FireSchedule { .. }
        | Command::FireTrigger { .. }
        | Command::SetClusterProtocol { .. }
        | Command::RecordDeliveryAttempt { .. }
        | Command::Group { .. } => Needs::Node,
        Command::AppendJournal {
            workspace, task, ..
        } => Needs::Agent(workspace, task),
        Command::RecordRejection { .. } => Needs::Authenticated,
        Command::AuditCheckpoint { checkpoint } => Needs::TheNode(checkpoint.node),
    }
}

/// Why `request` may not be applied at `time_ms` (its time in the log), if it may not.
pub(super) fn refusal<S: StateRead>(
    state: &S,
    request: &Request,
    time_ms: u64,
) -> Result<Option<Rejection>, S::Error> {
    let principal = &request.principal;
    let kind = principal.kind();
    if matches!(kind, PrincipalKind::User | PrincipalKind::Service) {
        if let Some(rejection) = authenticate(state, request, time_ms)? {
            return Ok(Some(rejection));
        }
    } else if matches!(kind, PrincipalKind::Unknown | PrincipalKind::Trigger) {
        return Ok(Some(Rejection::new(
            Code::Unauthenticated,
            format!("unknown principal {principal}"),
        )));
    }
    let denied = |what: &str| {
        Some(Rejection::new(
            Code::PermissionDenied,
            format!("{principal} may not {what}"),
        ))
    };
    Ok(match (needs(&request.command), kind) {
        // Only the node holds its key; not even the cluster itself signs for it.
        (Needs::TheNode(node), _) if *principal == Principal::node(node) => None,
        (Needs::TheNode(node), _) => denied(&format!("sign checkpoints as node {node}")),
        (_, PrincipalKind::System) | (Needs::Authenticated, _) => None,
        (Needs::Node, PrincipalKind::Node) => None,
        (Needs::Node, _) => denied(
            "place or expire tasks, fire schedules, set the cluster protocol or record deliveries: only nodes do",
        ),
        (Needs::System, _) => denied("bootstrap the cluster"),
        (Needs::Agent(workspace, task), PrincipalKind::Agent) => {
            let owner = state
                .task(workspace, task)?
                .map(|task| Principal::agent(workspace, &task.agent));
            if owner.as_ref() == Some(principal) {
                None
            } else {
                denied(&format!("journal task {task}: it is not this agent's task"))
            }
        }
        (Needs::Agent(_, task), _) => denied(&format!("journal task {task}: only its agent does")),
        (_, PrincipalKind::Node | PrincipalKind::Agent) => {
            denied("act for users (nodes and agents act only on tasks)")
        }
        (Needs::ClusterAdmin, _) => require(state, principal, None, Permission::Administer)?.err(),
        (Needs::In(workspace, permission), _) => {
            require(state, principal, Some(workspace), permission)?.err()
        }
        (Needs::TokenOwner(token), _) => {
            let owned = state
                .token(token)?
                .is_some_and(|stored| &stored.principal == principal);
            if owned {
                None
            } else {
                require(state, principal, None, Permission::Administer)?.err()
            }
        }
    })
}

/// Checks the request's token: it exists, names the request's principal and was
/// neither expired nor revoked at `time_ms`.
fn authenticate<S: StateRead>(
    state: &S,
    request: &Request,
    time_ms: u64,
) -> Result<Option<Rejection>, S::Error> {
    let unauthenticated = |message: String| Some(Rejection::new(Code::Unauthenticated, message));
    let Some(id) = request.token else {
        return Ok(unauthenticated(format!(
            "{} presented no token",
            request.principal
        )));
    };
    Ok(match state.token(&id)? {
        None => unauthenticated(format!("token {id} does not exist")),
        Some(token) if token.principal != request.principal => unauthenticated(format!(
            "token {id} does not belong to {}",
            request.principal
        )),
        Some(token) => token.unusable_at(time_ms).and_then(unauthenticated),
    })
}

/// Whether `principal` holds `permission` in `workspace`, or through a cluster-scope
/// role when `workspace` is `None`. A caller with no role in the workspace gets NOT_FOUND, as if
/// the workspace did not exist. Used by `apply()` and by the API for reads.
pub fn require<S: StateRead>(
    state: &S,
    principal: &Principal,
    workspace: Option<&WorkspaceId>,
    permission: Permission,
) -> Result<Result<(), Rejection>, S::Error> {
    match principal.kind() {
        PrincipalKind::System => return Ok(Ok(())),
        PrincipalKind::User | PrincipalKind::Service => {}
        _ => {
            return Ok(Err(Rejection::new(
                Code::PermissionDenied,
                format!("{principal} acts only on tasks, not through the API"),
            )));
        }
    }
    let cluster_roles = roles_in(state, &Scope::Cluster, principal)?;
    if cluster_roles.contains(&Role::Admin) {
        return Ok(Ok(()));
    }
    // Cluster-scope roles hold for the cluster itself and in every workspace.
    let Some(workspace) = workspace else {
        if cluster_roles.iter().any(|role| role.grants(permission)) {
            return Ok(Ok(()));
        }
        return Ok(Err(Rejection::new(
            Code::PermissionDenied,
            format!(
                "{principal} lacks the {} permission for the cluster",
                permission.as_str()
            ),
        )));
    };
    let mut roles = roles_in(state, &Scope::Workspace(workspace.clone()), principal)?;
    roles.extend(cluster_roles);
    if roles.is_empty() {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("workspace {workspace} not found"),
        )));
    }
    if roles.iter().any(|role| role.grants(permission)) {
        return Ok(Ok(()));
    }
    let held: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
    Ok(Err(Rejection::new(
        Code::PermissionDenied,
        format!(
            "{principal} (roles: {}) lacks the {} permission in workspace {workspace}",
            held.join(", "),
            permission.as_str()
        ),
    )))
}

fn roles_in<S: StateRead>(
    state: &S,
    scope: &Scope,
    principal: &Principal,
) -> Result<Vec<Role>, S::Error> {
    Ok(state
        .role_binding(scope, principal)?
        .map(|binding| binding.roles)
        .unwrap_or_default())
}
