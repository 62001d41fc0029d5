//! The secrets a file's records need: kept as stored when the file marks them `sealed`,
//! the workspace holds them and they would go where they went before (a provider's kind
//! and URL, a server's URL, or its catalog entry, arguments and environment unchanged), or
//! given with the request and sealed here. Each given secret must name a secret the file
//! holds; any other record the file marks `sealed` needs one, so a file cannot send a
//! stored secret somewhere new without its holder giving it again.

use std::collections::{BTreeMap, BTreeSet};

use warden_actors::credentials::McpCredentials;
use warden_core::{
    CatalogName, Code, Command, McpTransport, Rejection, TriggerSpec, WorkspaceId,
    mcp_bearer_context, mcp_env_context, provider_key_context, trigger_secret_context,
};
use warden_raft::StateReader;
use warden_secrets::{SealedSecret, SecretString};

use super::document::{ProviderDoc, ServerDoc, Stored};
use super::plan::{self, Diff, Put};
use crate::cluster::Cluster;
use crate::error::Error;
use crate::secrets::{Sealer, Vault};

/// The fewest and most bytes of a trigger's signing secret.
const TRIGGER_SECRET_BYTES: std::ops::RangeInclusive<usize> = crate::api::trigger::SECRET_BYTES;

pub struct Secrets<'a> {
    given: &'a BTreeMap<String, SecretString>,
}

fn missing(message: String) -> Rejection {
    Rejection::new(Code::FailedPrecondition, message)
}

impl<'a> Secrets<'a> {
    /// The secrets given, each checked to name a secret the file holds.
    pub fn check(
        given: &'a BTreeMap<String, SecretString>,
        file: &super::document::Document,
    ) -> Result<Secrets<'a>, String> {
        for (name, value) in given {
            if value.expose().is_empty() {
                return Err(format!("secrets: {name} is empty"));
            }
            let parts: Vec<&str> = name.split('/').collect();
            let holds = match parts.as_slice() {
                ["provider", provider] => file
                    .providers
                    .iter()
                    .any(|item| item.name == *provider && item.api_key == Some(Stored::Sealed)),
                ["mcp_server", server, "env", variable] => file.mcp_servers.iter().any(|item| {
                    item.name == *server && item.secret_env.iter().any(|known| known == variable)
                }),
                ["mcp_server", server, "bearer"] => file
                    .mcp_servers
                    .iter()
                    .any(|item| item.name == *server && item.bearer == Some(Stored::Sealed)),
                ["trigger", trigger] => {
                    let size = value.expose().len();
                    if !TRIGGER_SECRET_BYTES.contains(&size) {
                        return Err(format!(
                            "secrets: {name} must be {} to {} bytes, not {size}",
                            TRIGGER_SECRET_BYTES.start(),
                            TRIGGER_SECRET_BYTES.end()
                        ));
                    }
                    file.triggers.iter().any(|item| item.name == *trigger)
                }
                _ => {
                    return Err(format!(
                        "secrets: {name:?} is not provider/<name>, mcp_server/<name>/env/<VAR>, mcp_server/<name>/bearer or trigger/<name>"
                    ));
                }
            };
            if !holds {
                return Err(format!(
                    "secrets: {name} names no secret the file holds (a provider's api_key and an http server's bearer must be marked sealed, a stdio server's variable listed in secret_env)"
                ));
            }
        }
        Ok(Secrets { given })
    }

    /// The records a given secret makes the apply put again: `provider/<name>`,
    /// `mcp_server/<name>`, `trigger/<name>`.
    pub fn forced(&self) -> BTreeSet<String> {
        self.given
            .keys()
            .map(|name| {
                let parts: Vec<&str> = name.split('/').collect();
                format!("{}/{}", parts[0], parts[1])
            })
            .collect()
    }

    /// What seals the given secrets, when any is given.
    pub async fn sealer(
        &self,
        vault: &Vault,
        cluster: &Cluster,
        workspace: &WorkspaceId,
    ) -> Result<Result<Option<Sealer>, Rejection>, Error> {
        if self.given.is_empty() {
            return Ok(Ok(None));
        }
        Ok(vault.sealer(cluster, workspace).await?.map(Some))
    }

    fn seal(
        &self,
        sealer: Option<&Sealer>,
        name: &str,
        context: &str,
    ) -> Result<Option<SealedSecret>, Rejection> {
        match (self.given.get(name), sealer) {
            (Some(value), Some(sealer)) => sealer.seal(value, context).map(Some),
            _ => Ok(None),
        }
    }

    /// The plaintext of given secret `name` (which the caller found given).
    fn plain(&self, name: &str) -> SecretString {
        SecretString::new(
            self.given
                .get(name)
                .map(|value| value.expose().to_owned())
                .unwrap_or_default(),
        )
    }

    /// Refuses, for a dry run, what the real apply would refuse for want of a secret.
    pub fn missing(
        &self,
        diff: &Diff<'_>,
        reader: &StateReader,
        workspace: &WorkspaceId,
    ) -> Result<Result<(), Rejection>, Error> {
        for put in &diff.providers {
            if let Err(rejection) = self.provider_key(put, workspace, reader, None)? {
                return Ok(Err(rejection));
            }
        }
        for put in &diff.servers {
            let current = current_server(reader, workspace, &put.name)?
                .filter(|transport| same_destination(transport, put.wanted));
            for variable in &put.wanted.secret_env {
                let name = format!("mcp_server/{}/env/{variable}", put.name);
                let kept = current.as_ref().is_some_and(|transport| {
                    matches!(transport, McpTransport::Stdio { secret_env, .. } if secret_env.iter().any(|(known, _)| known == variable))
                });
                if !kept && !self.given.contains_key(&name) {
                    return Ok(Err(missing(format!(
                        "mcp_server {}: the workspace holds no value of {variable} for this server as the file has it (new, or its catalog entry, arguments or environment change): give it as secret {name}",
                        put.name
                    ))));
                }
            }
            if put.wanted.bearer == Some(Stored::Sealed) {
                let name = format!("mcp_server/{}/bearer", put.name);
                let kept = current.as_ref().is_some_and(|transport| {
                    matches!(
                        transport,
                        McpTransport::Http {
                            bearer: Some(_),
                            ..
                        }
                    )
                });
                if !kept && !self.given.contains_key(&name) {
                    return Ok(Err(missing(format!(
                        "mcp_server {}: the workspace holds no bearer token for this server as the file has it (new, or its url changes): give it as secret {name}",
                        put.name
                    ))));
                }
            }
        }
        for put in &diff.triggers {
            let name = format!("trigger/{}", put.name);
            if put.current.is_none() && !self.given.contains_key(&name) {
                return Ok(Err(missing(format!(
                    "trigger {}: a new trigger needs a signing secret: give it as secret {name}",
                    put.name
                ))));
            }
        }
        Ok(Ok(()))
    }

    /// The provider's sealed key as the file wants it: given, kept, or none.
    fn provider_key(
        &self,
        put: &Put<'_, ProviderDoc>,
        workspace: &WorkspaceId,
        reader: &StateReader,
        sealer: Option<&Sealer>,
    ) -> Result<Result<Option<SealedSecret>, Rejection>, Error> {
        let name = match plan::provider_name(&put.name) {
            Ok(name) => name,
            Err(message) => return Ok(Err(Rejection::new(Code::InvalidArgument, message))),
        };
        if put.wanted.api_key.is_none() {
            return Ok(Ok(None));
        }
        let given = format!("provider/{}", put.name);
        if let Some(sealed) = self
            .seal(sealer, &given, &provider_key_context(workspace, &name))
            .transpose()
        {
            return Ok(sealed.map(Some));
        }
        // A stored key goes only where it went: to the same kind of endpoint at the same URL.
        let kept = reader.provider(workspace, &name)?.filter(|provider| {
            provider.kind.as_str() == put.wanted.kind
                && provider.base_url == put.wanted.base_url.trim_end_matches('/')
        });
        Ok(match kept.and_then(|provider| provider.api_key) {
            Some(kept) => Ok(Some(kept)),
            None if self.given.contains_key(&given) => Ok(None),
            None => Err(missing(format!(
                "provider {}: the workspace holds no API key for this provider as the file has it (new, or its kind or base_url changes): give it as secret {given}",
                put.name
            ))),
        })
    }

    pub fn provider(
        &self,
        put: &Put<'_, ProviderDoc>,
        workspace: &WorkspaceId,
        reader: &StateReader,
        sealer: Option<&Sealer>,
    ) -> Result<Result<Command, Rejection>, Error> {
        let invalid = |message: String| Rejection::new(Code::InvalidArgument, message);
        let (name, kind) = match (
            plan::provider_name(&put.name),
            plan::provider_kind(put.wanted),
        ) {
            (Ok(name), Ok(kind)) => (name, kind),
            (Err(message), _) | (_, Err(message)) => return Ok(Err(invalid(message))),
        };
        let api_key = match self.provider_key(put, workspace, reader, sealer)? {
            Ok(key) => key,
            Err(rejection) => return Ok(Err(rejection)),
        };
        let doc = put.wanted;
        Ok(Ok(Command::PutProvider {
            workspace: workspace.clone(),
            name,
            kind,
            base_url: doc.base_url.trim_end_matches('/').to_owned(),
            model: doc.model.clone(),
            api_key_env: doc.api_key_env.clone(),
            workspace_key: api_key
                .as_ref()
                .and(sealer)
                .and_then(|sealer| sealer.offered()),
            api_key,
            request_timeout_ms: doc.request_timeout_ms,
            max_retries: doc.max_retries,
            max_output_tokens: doc.max_output_tokens,
        }))
    }

    /// The server's transport with its secrets sealed (given, or kept as stored), and
    /// their plaintext, to list its tools with.
    pub fn transport(
        &self,
        put: &Put<'_, ServerDoc>,
        workspace: &WorkspaceId,
        reader: &StateReader,
        vault: &Vault,
        sealer: Option<&Sealer>,
    ) -> Result<Result<(McpTransport, McpCredentials), Rejection>, Error> {
        let invalid = |message: String| Rejection::new(Code::InvalidArgument, message);
        let name = match plan::server_name(&put.name) {
            Ok(name) => name,
            Err(message) => return Ok(Err(invalid(message))),
        };
        let Some(record) = reader.workspace(workspace)? else {
            return Ok(Err(Rejection::new(
                Code::NotFound,
                format!("workspace {workspace} not found"),
            )));
        };
        let current = current_server(reader, workspace, &put.name)?
            .filter(|transport| same_destination(transport, put.wanted));
        let open = |context: &str, sealed: &SealedSecret| {
            vault.open(&record, context, sealed).map_err(|error| {
                missing(format!(
                    "mcp_server {name}: opening a stored secret: {error}"
                ))
            })
        };
        let doc = put.wanted;
        match (&doc.catalog, &doc.url) {
            (Some(catalog), None) => {
                if doc.bearer.is_some() {
                    return Ok(Err(invalid(format!(
                        "mcp_server {name}: bearer is for an http server (url); use secret_env"
                    ))));
                }
                let catalog = match CatalogName::parse(catalog) {
                    Ok(catalog) => catalog,
                    Err(error) => {
                        return Ok(Err(invalid(plan::invalid("mcp_server", &put.name, error))));
                    }
                };
                let kept: Vec<(String, SealedSecret)> = match &current {
                    Some(McpTransport::Stdio { secret_env, .. }) => secret_env.clone(),
                    _ => Vec::new(),
                };
                let mut sealed_env = Vec::new();
                let mut plain_env = Vec::new();
                let mut variables = doc.secret_env.clone();
                variables.sort();
                for variable in variables {
                    let context = mcp_env_context(workspace, &name, &variable);
                    let given = format!("mcp_server/{name}/env/{variable}");
                    let (sealed, plain) = match self.seal(sealer, &given, &context) {
                        Ok(Some(sealed)) => (sealed, self.plain(&given)),
                        Ok(None) => match kept.iter().find(|(known, _)| *known == variable) {
                            Some((_, sealed)) => match open(&context, sealed) {
                                Ok(plain) => (sealed.clone(), plain),
                                Err(rejection) => return Ok(Err(rejection)),
                            },
                            None => {
                                return Ok(Err(missing(format!(
                                    "mcp_server {name}: the workspace holds no value of {variable} for this server as the file has it (new, or its catalog entry, arguments or environment change): give it as secret {given}"
                                ))));
                            }
                        },
                        Err(rejection) => return Ok(Err(rejection)),
                    };
                    plain_env.push((variable.clone(), plain));
                    sealed_env.push((variable, sealed));
                }
                Ok(Ok((
                    McpTransport::Stdio {
                        catalog,
                        args: doc.args.clone(),
                        env: doc.env.clone().into_iter().collect(),
                        secret_env: sealed_env,
                    },
                    McpCredentials {
                        env: plain_env,
                        bearer: None,
                    },
                )))
            }
            (None, Some(url)) => {
                if !doc.args.is_empty() || !doc.env.is_empty() || !doc.secret_env.is_empty() {
                    return Ok(Err(invalid(format!(
                        "mcp_server {name}: args, env and secret_env are for a stdio server (catalog)"
                    ))));
                }
                let (bearer, plain) = match doc.bearer {
                    None => (None, None),
                    Some(Stored::Sealed) => {
                        let context = mcp_bearer_context(workspace, &name);
                        let given = format!("mcp_server/{name}/bearer");
                        let kept = match &current {
                            Some(McpTransport::Http { bearer, .. }) => bearer.clone(),
                            _ => None,
                        };
                        match self.seal(sealer, &given, &context) {
                            Ok(Some(sealed)) => (Some(sealed), Some(self.plain(&given))),
                            Ok(None) => match kept {
                                Some(sealed) => match open(&context, &sealed) {
                                    Ok(plain) => (Some(sealed), Some(plain)),
                                    Err(rejection) => return Ok(Err(rejection)),
                                },
                                None => {
                                    return Ok(Err(missing(format!(
                                        "mcp_server {name}: the workspace holds no bearer token for this server as the file has it (new, or its url changes): give it as secret {given}"
                                    ))));
                                }
                            },
                            Err(rejection) => return Ok(Err(rejection)),
                        }
                    }
                };
                Ok(Ok((
                    McpTransport::Http {
                        url: url.clone(),
                        bearer,
                    },
                    McpCredentials {
                        env: Vec::new(),
                        bearer: plain,
                    },
                )))
            }
            _ => Ok(Err(invalid(format!(
                "mcp_server {name}: set exactly one of catalog and url"
            )))),
        }
    }

    /// A trigger's new secret, sealed, when one is given; a new trigger needs one.
    pub fn trigger(
        &self,
        spec: &TriggerSpec,
        workspace: &WorkspaceId,
        current_version: u64,
        sealer: Option<&Sealer>,
    ) -> Result<Option<SealedSecret>, Rejection> {
        let given = format!("trigger/{}", spec.name);
        let sealed = self.seal(
            sealer,
            &given,
            &trigger_secret_context(workspace, &spec.name),
        )?;
        if sealed.is_none() && current_version == 0 {
            return Err(missing(format!(
                "trigger {}: a new trigger needs a signing secret: give it as secret {given}",
                spec.name
            )));
        }
        Ok(sealed)
    }
}

/// The transport of the workspace's server `name`, when it has one.
fn current_server(
    reader: &StateReader,
    workspace: &WorkspaceId,
    name: &str,
) -> Result<Option<McpTransport>, Error> {
    let Ok(name) = warden_core::ServerName::parse(name) else {
        return Ok(None);
    };
    Ok(reader
        .mcp_server(workspace, &name)?
        .map(|server| server.transport))
}

/// Whether the server the file describes sends its secrets where `current` did: the same
/// catalog entry with the same arguments and environment, or the same URL.
fn same_destination(current: &McpTransport, wanted: &ServerDoc) -> bool {
    match current {
        McpTransport::Stdio {
            catalog, args, env, ..
        } => {
            wanted.catalog.as_deref() == Some(catalog.as_str())
                && wanted.url.is_none()
                && *args == wanted.args
                && env.iter().cloned().collect::<BTreeMap<_, _>>() == wanted.env
        }
        McpTransport::Http { url, .. } => {
            wanted.catalog.is_none() && wanted.url.as_deref() == Some(url.as_str())
        }
    }
}
