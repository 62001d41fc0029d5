//! `warden.v1.TriggerService`: a workspace's webhook triggers. The signing secret is
//! sealed here, on the node that takes the request; the requests themselves arrive on the
//! web listener (`hooks.rs`).

use tonic::{Request, Response, Status};
use warden_core::{
    Action, AgentName, Code, Command, Outcome, Rejection, Trigger, TriggerName, TriggerSpec,
    WorkspaceId, trigger_secret_context,
};
use warden_proto::v1;
use warden_proto::v1::trigger_service_server::TriggerService;
use warden_secrets::SecretString;

use super::{Payload, Refused, propose, read_workspace, unexpected};
use crate::auth::Caller;
use crate::cluster::Cluster;
use crate::convert;
use crate::error::Error;
use crate::secrets::Vault;

/// The fewest and most bytes of a signing secret.
pub const SECRET_BYTES: std::ops::RangeInclusive<usize> = 16..=256;

pub struct Triggers {
    cluster: Cluster,
    vault: Vault,
}

impl Triggers {
    pub fn new(cluster: Cluster, vault: Vault) -> Triggers {
        Triggers { cluster, vault }
    }
}

/// The command a request asks for, without its secret (sealed by [`seal_trigger_secret`]).
fn parse_put(
    request: &v1::PutTriggerRequest,
    secret_len: usize,
    refuse: &impl Fn(Code, String) -> Refused,
) -> Result<Command, Refused> {
    let trigger = request.trigger.clone().unwrap_or_default();
    let invalid = |message: String| refuse(Code::InvalidArgument, message);
    let workspace = WorkspaceId::parse(&trigger.workspace)
        .map_err(|error| invalid(format!("workspace: {error}")))?;
    let name = TriggerName::parse(&trigger.name).map_err(|error| invalid(error.to_string()))?;
    let agent =
        AgentName::parse(&trigger.agent).map_err(|error| invalid(format!("agent: {error}")))?;
    if secret_len != 0 && !SECRET_BYTES.contains(&secret_len) {
        return Err(invalid(format!(
            "secret must be {} to {} bytes, not {secret_len}",
            SECRET_BYTES.start(),
            SECRET_BYTES.end()
        )));
    }
    Ok(Command::PutTrigger {
        workspace,
        spec: TriggerSpec {
            name,
            agent,
            input: trigger.input,
            paused: trigger.paused,
        },
        secret: None,
        expected_version: request.expected_version,
        workspace_key: None,
    })
}

/// Seals `secret` into a parsed `PutTrigger`, with the workspace's new key when it had
/// none. The plaintext goes no further than this.
pub async fn seal_trigger_secret(
    vault: &Vault,
    cluster: &Cluster,
    command: &mut Command,
    secret: &SecretString,
) -> Result<Result<(), Rejection>, Error> {
    let Command::PutTrigger {
        workspace,
        spec,
        secret: sealed,
        workspace_key,
        ..
    } = command
    else {
        unreachable!("seal_trigger_secret is called for PutTrigger only")
    };
    let sealer = match vault.sealer(cluster, workspace).await? {
        Ok(sealer) => sealer,
        Err(rejection) => return Ok(Err(rejection)),
    };
    match sealer.seal(secret, &trigger_secret_context(workspace, &spec.name)) {
        Ok(done) => *sealed = Some(done),
        Err(rejection) => return Ok(Err(rejection)),
    }
    *workspace_key = sealer.offered();
    Ok(Ok(()))
}

fn parse_delete(request: &v1::DeleteTriggerRequest) -> Result<Command, Refused> {
    let refuse = |message: String| Refused {
        action: Action::TriggerDelete,
        resource: format!(
            "workspace/{}/trigger/{}",
            convert::sanitized(&request.workspace),
            convert::sanitized(&request.name)
        ),
        payload: Payload::of(request),
        rejection: Rejection::new(Code::InvalidArgument, message),
    };
    let workspace = WorkspaceId::parse(&request.workspace)
        .map_err(|error| refuse(format!("workspace: {error}")))?;
    let name = TriggerName::parse(&request.name).map_err(|error| refuse(error.to_string()))?;
    Ok(Command::DeleteTrigger { workspace, name })
}

#[tonic::async_trait]
impl TriggerService for Triggers {
    async fn put_trigger(
        &self,
        request: Request<v1::PutTriggerRequest>,
    ) -> Result<Response<v1::PutTriggerResponse>, Status> {
        let caller = Caller::of(&request)?;
        let mut request = request.into_inner();
        // The secret is taken out first: it is sealed, and nothing else sees it (a refusal
        // records the hash of the request without it).
        let secret = SecretString::new(std::mem::take(&mut request.secret));
        let trigger = request.trigger.clone().unwrap_or_default();
        let refuse = |code: Code, message: String| Refused {
            action: Action::TriggerPut,
            resource: format!(
                "workspace/{}/trigger/{}",
                convert::sanitized(&trigger.workspace),
                convert::sanitized(&trigger.name)
            ),
            payload: Payload::of(&request),
            rejection: Rejection::new(code, message),
        };
        let mut parsed = parse_put(&request, secret.expose().len(), &refuse);
        if let Ok(command) = &mut parsed
            && !secret.expose().is_empty()
            && let Err(rejection) =
                seal_trigger_secret(&self.vault, &self.cluster, command, &secret).await?
        {
            parsed = Err(refuse(rejection.code, rejection.message));
        }
        drop(secret);
        match propose(&self.cluster, &caller, parsed).await? {
            Outcome::TriggerPut(trigger) => Ok(Response::new(v1::PutTriggerResponse {
                trigger: Some(to_proto(&trigger)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn list_triggers(
        &self,
        request: Request<v1::ListTriggersRequest>,
    ) -> Result<Response<v1::ListTriggersResponse>, Status> {
        let (reader, workspace) = read_workspace(&self.cluster, &request).await?;
        let triggers = reader.triggers(&workspace).map_err(Error::from)?;
        Ok(Response::new(v1::ListTriggersResponse {
            triggers: triggers.iter().map(to_proto).collect(),
        }))
    }

    async fn delete_trigger(
        &self,
        request: Request<v1::DeleteTriggerRequest>,
    ) -> Result<Response<v1::DeleteTriggerResponse>, Status> {
        let caller = Caller::of(&request)?;
        match propose(&self.cluster, &caller, parse_delete(request.get_ref())).await? {
            Outcome::TriggerDeleted(trigger) => Ok(Response::new(v1::DeleteTriggerResponse {
                trigger: Some(to_proto(&trigger)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }
}

pub fn to_proto(trigger: &Trigger) -> v1::Trigger {
    let spec = &trigger.spec;
    v1::Trigger {
        workspace: trigger.workspace.to_string(),
        name: spec.name.to_string(),
        agent: spec.agent.to_string(),
        input: spec.input.clone(),
        paused: spec.paused,
        version: trigger.version,
        updated_at_ms: trigger.updated_ms,
        updated_by: trigger.updated_by.to_string(),
        path: warden_core::trigger::trigger_path(&trigger.workspace, &spec.name),
        fired: trigger.fired,
        last_fired_at_ms: trigger.last_fired_ms.unwrap_or_default(),
        last_task_id: trigger
            .last_task
            .map(|task| task.to_string())
            .unwrap_or_default(),
    }
}
