//! Tokens and role bindings: bootstrap, create and revoke a token, set roles.

use super::{At, Decision, StateRead, Write, missing_workspace};
use crate::anchor::{AuditSettings, MIN_CHECKPOINT_INTERVAL, NodeRecord};
use crate::command::Command;
use crate::identity::{RoleBinding, Scope, Token, normalize_roles};
use crate::ids::Principal;
use crate::outcome::{Code, Outcome, Rejection};
use crate::role::Role;

/// Longest token description.
pub const MAX_DESCRIPTION_BYTES: usize = 256;

pub(super) fn apply<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    match command {
        Command::Bootstrap {
            principal,
            token,
            secret_hash,
            node,
            audit_key,
            checkpoint_interval,
        } => {
            if let Some(admin) = state.bootstrapped()? {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!("the cluster was already bootstrapped with admin {admin}"),
                )));
            }
            if let Some(rejection) = token_holder(principal) {
                return Ok(Err(rejection));
            }
            if *checkpoint_interval < MIN_CHECKPOINT_INTERVAL {
                return Ok(Err(Rejection::new(
                    Code::InvalidArgument,
                    format!("checkpoint_interval: at least {MIN_CHECKPOINT_INTERVAL} records"),
                )));
            }
            let token = new_token(at, *token, *secret_hash, principal, "bootstrap", None);
            let binding = binding(at, Scope::Cluster, principal, vec![Role::Admin]);
            Ok(Ok((
                Outcome::TokenCreated(token.clone()),
                vec![
                    Write::Bootstrapped(principal.clone()),
                    Write::Token(token),
                    Write::RoleBinding(binding),
                    Write::Node(NodeRecord::registered(
                        state.node_record(*node)?,
                        *node,
                        *audit_key,
                        at.head.count + 1,
                    )),
                    Write::AuditSettings(AuditSettings {
                        checkpoint_interval: *checkpoint_interval,
                    }),
                ],
            )))
        }
        Command::CreateToken {
            token,
            secret_hash,
            principal,
            description,
            expires_at_ms,
        } => {
            if let Some(rejection) = token_holder(principal) {
                return Ok(Err(rejection));
            }
            if description.len() > MAX_DESCRIPTION_BYTES {
                return Ok(Err(Rejection::new(
                    Code::InvalidArgument,
                    format!("description: at most {MAX_DESCRIPTION_BYTES} bytes"),
                )));
            }
            if expires_at_ms.is_some_and(|expiry| expiry <= at.time_ms) {
                return Ok(Err(Rejection::new(
                    Code::InvalidArgument,
                    "expires_at_ms: must lie in the future",
                )));
            }
            if state.token(token)?.is_some() {
                return Ok(Err(Rejection::new(
                    Code::AlreadyExists,
                    format!("token {token} already exists"),
                )));
            }
            let token = new_token(
                at,
                *token,
                *secret_hash,
                principal,
                description,
                *expires_at_ms,
            );
            Ok(Ok((
                Outcome::TokenCreated(token.clone()),
                vec![Write::Token(token)],
            )))
        }
        Command::RevokeToken { token } => {
            let Some(mut stored) = state.token(token)? else {
                return Ok(Err(Rejection::new(
                    Code::NotFound,
                    format!("token {token} not found"),
                )));
            };
            if stored.revoked_ms.is_some() {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!("token {token} is already revoked"),
                )));
            }
            stored.revoked_ms = Some(at.time_ms);
            stored.revoked_by = Some(at.principal.clone());
            Ok(Ok((
                Outcome::TokenRevoked(stored.clone()),
                vec![Write::Token(stored)],
            )))
        }
        Command::SetRoles {
            scope,
            principal,
            roles,
        } => {
            if let Scope::Workspace(workspace) = scope
                && let Some(rejection) = missing_workspace(state, workspace)?
            {
                return Ok(Err(rejection));
            }
            if let Some(rejection) = token_holder(principal) {
                return Ok(Err(rejection));
            }
            if principal == at.principal
                && *scope == Scope::Cluster
                && !roles.contains(&Role::Admin)
            {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!("{principal} cannot remove its own cluster admin role"),
                )));
            }
            let roles = normalize_roles(roles.clone());
            let binding = binding(at, scope.clone(), principal, roles);
            let write = if binding.roles.is_empty() {
                Write::RemoveRoleBinding {
                    scope: scope.clone(),
                    principal: principal.clone(),
                }
            } else {
                Write::RoleBinding(binding.clone())
            };
            Ok(Ok((Outcome::RolesSet(binding), vec![write])))
        }
        _ => unreachable!("identity::apply is called for token and role commands only"),
    }
}

/// Refuses principals that cannot hold tokens or roles (agents, nodes, the system).
fn token_holder(principal: &Principal) -> Option<Rejection> {
    (!principal.holds_tokens()).then(|| {
        Rejection::new(
            Code::InvalidArgument,
            format!("principal: {principal} is not a user/<name> or service/<name>"),
        )
    })
}

fn new_token(
    at: &At<'_>,
    id: crate::identity::TokenId,
    secret_hash: crate::hash::Hash,
    principal: &Principal,
    description: &str,
    expires_at_ms: Option<u64>,
) -> Token {
    Token {
        id,
        principal: principal.clone(),
        secret_hash,
        description: description.to_owned(),
        created_ms: at.time_ms,
        created_by: at.principal.clone(),
        expires_at_ms,
        revoked_ms: None,
        revoked_by: None,
    }
}

fn binding(at: &At<'_>, scope: Scope, principal: &Principal, roles: Vec<Role>) -> RoleBinding {
    RoleBinding {
        scope,
        principal: principal.clone(),
        roles,
        updated_ms: at.time_ms,
        updated_by: at.principal.clone(),
    }
}
