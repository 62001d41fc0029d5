//! Validating the layered options: every problem, one line each.

use super::{MAX_MESSAGE_BYTES, Options, Tls};

impl Options {
    /// Every problem with these options.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.node_id == 0 {
            problems.push("node_id must be set to a positive integer".to_owned());
        }
        if self.data_dir.as_os_str().is_empty() {
            problems.push("data_dir must not be empty".to_owned());
        }
        if self.limits.max_task_input_bytes == 0
            || self.limits.max_task_input_bytes > MAX_MESSAGE_BYTES / 2
        {
            problems.push(format!(
                "limits.max_task_input_bytes must be between 1 and {}",
                MAX_MESSAGE_BYTES / 2
            ));
        }
        for (key, value) in [
            ("limits.write_timeout", self.limits.write_timeout),
            ("limits.read_timeout", self.limits.read_timeout),
            ("limits.membership_timeout", self.limits.membership_timeout),
            ("console.session_ttl", self.console.session_ttl),
            ("webhooks.timeout", self.webhooks.timeout),
            ("webhooks.retry_delay", self.webhooks.retry_delay),
            ("webhooks.max_retry_delay", self.webhooks.max_retry_delay),
            ("webhooks.retry_for", self.webhooks.retry_for),
        ] {
            if value.is_zero() {
                problems.push(format!("{key} must be positive"));
            }
        }
        for (key, value) in [
            ("runtime.lease", self.runtime.lease),
            (
                "runtime.heartbeat_interval",
                self.runtime.heartbeat_interval,
            ),
            (
                "runtime.controller_interval",
                self.runtime.controller_interval,
            ),
            ("runtime.tool_call_timeout", self.runtime.tool_call_timeout),
        ] {
            if value.is_zero() {
                problems.push(format!("{key} must be positive"));
            }
        }
        if self.runtime.heartbeat_interval * 2 > self.runtime.lease {
            problems.push(
                "runtime.heartbeat_interval must be at most half of runtime.lease".to_owned(),
            );
        }
        if self
            .secrets
            .master_key_file
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            problems.push("secrets.master_key_file must not be empty".to_owned());
        }
        if self
            .audit
            .signing_key_file
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            problems.push("audit.signing_key_file must not be empty".to_owned());
        }
        problems.extend(self.tls.problems());
        if self.webhooks.retry_delay > self.webhooks.max_retry_delay {
            problems
                .push("webhooks.retry_delay must be at most webhooks.max_retry_delay".to_owned());
        }
        if let Some(url) = &self.console.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            problems.push(format!(
                "console.public_url {url:?} must start with http:// or https://"
            ));
        }
        if self
            .bootstrap
            .token_file
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            problems.push("bootstrap.token_file must not be empty".to_owned());
        }
        for variable in &self.providers.api_key_env_allowlist {
            let is_name = !variable.is_empty()
                && !variable.starts_with(|c: char| c.is_ascii_digit())
                && variable
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !is_name {
                problems.push(format!(
                    "providers.api_key_env_allowlist: {variable:?} is not an environment variable name"
                ));
            } else if variable.starts_with("WARDEN_") {
                problems.push(format!(
                    "providers.api_key_env_allowlist: {variable} is Warden's own configuration and cannot hold a provider key"
                ));
            }
        }
        problems.extend(self.raft.problems());
        problems.extend(self.mcp.problems());
        problems
    }
}

impl Tls {
    fn problems(&self) -> Vec<String> {
        let files = [
            ("tls.ca_file", &self.ca_file),
            ("tls.cert_file", &self.cert_file),
            ("tls.key_file", &self.key_file),
        ];
        let set: Vec<&str> = files
            .iter()
            .filter(|(_, file)| file.is_some())
            .map(|(key, _)| *key)
            .collect();
        let mut problems = Vec::new();
        if self.insecure && !set.is_empty() {
            problems.push(format!(
                "tls.insecure = true conflicts with {}: use TLS or not",
                set.join(", ")
            ));
        } else if !self.insecure && set.len() < files.len() {
            let missing: Vec<&str> = files
                .iter()
                .filter(|(_, file)| file.is_none())
                .map(|(key, _)| *key)
                .collect();
            problems.push(format!(
                "{} must be set (the cluster CA, this node's certificate and its key: `warden cert --help`), or tls.insecure = true for development without TLS",
                missing.join(", ")
            ));
        }
        for (key, file) in files {
            if file
                .as_ref()
                .is_some_and(|path| path.as_os_str().is_empty())
            {
                problems.push(format!("{key} must not be empty"));
            }
        }
        problems
    }
}
