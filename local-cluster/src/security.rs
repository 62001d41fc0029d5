//! What makes a local cluster run as a real one should: a CA of its own and a
//! certificate per node (in `tls/` of the base directory), a bootstrap token that only
//! node 1 is given, and the TLS settings its clients need.

use std::path::{Path, PathBuf};

use anyhow::Context;
use warden_client::{ClientOptions, ClientTls};

use crate::{BOOTSTRAP_TOKEN_FILE, LocalCluster, TLS_DIR};

impl LocalCluster {
    /// The CA certificate clients must trust; `None` for an insecure cluster.
    pub fn ca_path(&self) -> Option<PathBuf> {
        (!self.insecure).then(|| self.base.join(TLS_DIR).join("ca.pem"))
    }

    /// The TLS settings a client of this cluster needs (none for an insecure one).
    pub fn client_tls(&self) -> anyhow::Result<Option<ClientTls>> {
        let Some(ca) = self.ca_path() else {
            return Ok(None);
        };
        let ca_pem = std::fs::read(&ca).with_context(|| format!("reading {}", ca.display()))?;
        Ok(Some(ClientTls {
            ca_pem,
            identity: None,
        }))
    }

    /// Client options with the admin token (once the cluster has one) and TLS.
    pub fn client_options(&self) -> anyhow::Result<ClientOptions> {
        Ok(ClientOptions {
            token: self.admin_token()?,
            tls: self.client_tls()?,
            ..ClientOptions::default()
        })
    }

    /// The bootstrap token file node 1 is started with; created at its first start.
    pub fn bootstrap_token_path(&self) -> PathBuf {
        self.base.join(BOOTSTRAP_TOKEN_FILE)
    }

    /// The bootstrap token (after node 1 first started).
    pub fn bootstrap_token(&self) -> anyhow::Result<String> {
        let path = self.bootstrap_token_path();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(text.trim().to_owned())
    }

    /// `--set`s for node `id`'s certificate (issued at its first start, for the hosts it
    /// listens and is advertised on), the CA, and for node 1 the bootstrap token.
    pub(crate) fn security_settings(&self, id: u64) -> anyhow::Result<Vec<(String, String)>> {
        let mut settings = Vec::new();
        if id == 1 {
            let path = self.bootstrap_token_path();
            if !path.exists() {
                std::fs::create_dir_all(&self.base)
                    .with_context(|| format!("creating {}", self.base.display()))?;
                warden_tls::write_bootstrap_token(&path)?;
            }
            settings.push(("bootstrap.token_file".to_owned(), quoted(&path)?));
        }
        if self.insecure {
            settings.push(("tls.insecure".to_owned(), "true".to_owned()));
            return Ok(settings);
        }
        let dir = self.base.join(TLS_DIR);
        if !dir.join("ca.pem").exists() {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            warden_tls::Ca::generate("warden local cluster CA")?.write(&dir)?;
        }
        let cert = dir.join(format!("node-{id}.pem"));
        if !cert.exists() {
            let ca = warden_tls::Ca::load(&dir)?;
            ca.issue_node(id, &self.hosts_of(id))?
                .write(&dir, &format!("node-{id}"))?;
        }
        settings.push(("tls.ca_file".to_owned(), quoted(&dir.join("ca.pem"))?));
        settings.push(("tls.cert_file".to_owned(), quoted(&cert)?));
        settings.push((
            "tls.key_file".to_owned(),
            quoted(&dir.join(format!("node-{id}.key")))?,
        ));
        Ok(settings)
    }

    /// The hosts node `id` is reached by: loopback, and the addresses its own settings
    /// give it (the chaos harness puts each node on an address of its own).
    fn hosts_of(&self, id: u64) -> Vec<String> {
        let mut hosts = vec![
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
            "localhost".to_owned(),
        ];
        let own = self.node_settings.get(&id).into_iter().flatten();
        for (key, value) in self.settings.iter().chain(own) {
            if key == "listen" || key == "advertise" {
                let value = value.trim_matches('"');
                let host = value.rsplit_once(':').map_or(value, |(host, _)| host);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                if !host.is_empty() && host != "0.0.0.0" && !hosts.iter().any(|known| known == host)
                {
                    hosts.push(host.to_owned());
                }
            }
        }
        hosts
    }

    /// Starts the nodes without a master key from now on (they refuse requests that carry
    /// secrets).
    pub fn without_master_key(&mut self) {
        self.master_key = false;
    }
}

/// A path as a TOML string, whatever it holds.
pub(crate) fn quoted(path: &Path) -> anyhow::Result<String> {
    serde_json::to_string(&path.display().to_string()).context("quoting a path")
}
