//! The node's master key and everything done with it: wrapping a new workspace's key,
//! sealing the secrets a request carries before they are proposed, and opening a stored
//! secret for the runtime. Nothing else in the node holds the master key or a workspace key.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use warden_actors::SecretError;
use warden_core::{Code, Rejection, Workspace, WorkspaceId};
use warden_secrets::{
    MasterKey, MasterKeySource, SealedSecret, SecretString, WorkspaceKey, WrappedKey,
    ensure_outside_data_dir,
};

use crate::cluster::{Cluster, Consistency};
use crate::error::Error;

/// The environment variable that may hold the master key itself (hex or base64).
pub const MASTER_KEY_ENV: &str = "WARDEN_MASTER_KEY";

/// Why a request carrying a secret is refused on a node without a master key.
pub const NO_MASTER_KEY: &str = "this node has no master key configured (secrets.master_key_file; make one with `warden keygen --out FILE`)";

/// The master key, if this node has one. Cheap to clone.
#[derive(Clone, Default)]
pub struct Vault {
    master: Option<Arc<MasterKey>>,
}

impl Vault {
    pub fn new(master: Option<MasterKey>) -> Vault {
        Vault {
            master: master.map(Arc::new),
        }
    }

    /// Loads the master key from `key_file`, which must lie outside `data_dir`, or from
    /// the environment variable [`MASTER_KEY_ENV`]; none configured is no master key.
    pub fn load(key_file: Option<&Path>, data_dir: &Path) -> anyhow::Result<Vault> {
        let from_env = match MasterKeySource::from_env(MASTER_KEY_ENV) {
            Ok(source) => Some(source),
            Err(warden_secrets::Error::EnvMissing { .. }) => None,
            Err(error) => return Err(error).context("reading the master key"),
        };
        let source = match (key_file, from_env) {
            (Some(_), Some(_)) => anyhow::bail!(
                "both secrets.master_key_file and {MASTER_KEY_ENV} are set: set one of them"
            ),
            (Some(path), None) => {
                ensure_outside_data_dir(path, data_dir).context("checking the master key file")?;
                MasterKeySource::File(path.to_owned())
            }
            (None, Some(source)) => source,
            (None, None) => {
                tracing::warn!(
                    "no master key configured (secrets.master_key_file or {MASTER_KEY_ENV}): requests carrying secrets will be refused"
                );
                return Ok(Vault::default());
            }
        };
        let master = MasterKey::load(&source).context("loading the master key")?;
        tracing::info!(key_id = master.key_id(), from = %source, "master key loaded");
        Ok(Vault::new(Some(master)))
    }

    /// The public id of the master key (never the key): nodes of one cluster share it.
    pub fn key_id(&self) -> Option<String> {
        self.master().map(|master| master.key_id().to_owned())
    }

    /// The key the console seals its sessions with: derived from the master key, so all
    /// nodes of a cluster accept each other's sessions; `None` without a master key.
    pub fn console_key(&self) -> Option<zeroize::Zeroizing<[u8; 32]>> {
        self.master()
            .map(|master| master.derive("console sessions"))
    }

    fn master(&self) -> Option<&MasterKey> {
        self.master.as_deref()
    }

    /// A key for a workspace about to be created, wrapped; none without a master key.
    pub fn new_workspace_key(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Option<WrappedKey>, warden_secrets::Error> {
        let Some(master) = self.master() else {
            return Ok(None);
        };
        let key = WorkspaceKey::generate()?;
        master.wrap(&key, workspace.as_str()).map(Some)
    }

    /// What seals the secrets of a request for `workspace`, as this node finds the
    /// workspace behind a linearizable read barrier (so it sees the workspace's key if
    /// one was stored). A rejection names why nothing can be sealed here.
    pub async fn sealer(
        &self,
        cluster: &Cluster,
        workspace: &WorkspaceId,
    ) -> Result<Result<Sealer, Rejection>, Error> {
        let Some(master) = self.master() else {
            return Ok(Err(Rejection::new(
                Code::FailedPrecondition,
                NO_MASTER_KEY.to_owned(),
            )));
        };
        cluster.read_barrier(Consistency::Linearizable).await?;
        let Some(record) = cluster.reader().workspace(workspace)? else {
            return Ok(Err(Rejection::new(
                Code::NotFound,
                format!("workspace {workspace} not found"),
            )));
        };
        let precondition = |error: warden_secrets::Error| {
            Rejection::new(Code::FailedPrecondition, error.to_string())
        };
        Ok(match &record.key {
            Some(wrapped) => master
                .unwrap(wrapped, workspace.as_str())
                .map(|key| Sealer { key, offered: None })
                .map_err(precondition),
            // The first secret of a workspace created without a key brings one.
            None => WorkspaceKey::generate()
                .and_then(|key| {
                    let wrapped = master.wrap(&key, workspace.as_str())?;
                    Ok(Sealer {
                        key,
                        offered: Some(wrapped),
                    })
                })
                .map_err(precondition),
        })
    }

    /// Opens `sealed`, a secret of `workspace` sealed with `context`.
    pub fn open(
        &self,
        workspace: &Workspace,
        context: &str,
        sealed: &SealedSecret,
    ) -> Result<SecretString, SecretError> {
        let master = self.master().ok_or(SecretError::NoMasterKey)?;
        let wrapped = workspace
            .key
            .as_ref()
            .ok_or_else(|| SecretError::NoWorkspaceKey(workspace.id.clone()))?;
        let key = master.unwrap(wrapped, workspace.id.as_str())?;
        Ok(key.open(sealed, context)?)
    }
}

/// A workspace key ready to seal a request's secrets.
pub struct Sealer {
    key: WorkspaceKey,
    /// The key wrapped, when the workspace has none yet: it goes into the command.
    offered: Option<WrappedKey>,
}

impl Sealer {
    pub fn seal(&self, plaintext: &SecretString, context: &str) -> Result<SealedSecret, Rejection> {
        self.key
            .seal(plaintext, context)
            .map_err(|error| Rejection::new(Code::FailedPrecondition, error.to_string()))
    }

    /// The new workspace key, wrapped, for the command that stores the sealed secrets.
    pub fn offered(&self) -> Option<WrappedKey> {
        self.offered.clone()
    }
}
