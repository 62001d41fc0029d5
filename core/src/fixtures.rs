//! Commands that set up a workspace, for the tests of this crate and of the crates above
//! it (feature `fixtures`): one provider nobody calls, a catalog entry, a stdio server
//! started from it. Never part of a shipped binary.

use crate::catalog::CatalogSpec;
use crate::command::Command;
use crate::config::{McpTransport, ProviderKind};
use crate::ids::WorkspaceId;
use crate::names::{CatalogName, ProviderName, ServerName};

pub fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::parse(name).expect("fixture workspace names are valid")
}

/// Provider `name` of `workspace`: an OpenAI-compatible endpoint on a closed port, which
/// no test calls, with no key.
pub fn put_provider(workspace: &WorkspaceId, name: &str) -> Command {
    Command::PutProvider {
        workspace: workspace.clone(),
        name: ProviderName::parse(name).expect("fixture provider names are valid"),
        kind: ProviderKind::OpenAi,
        base_url: "http://127.0.0.1:9/v1".to_owned(),
        model: "scripted".to_owned(),
        api_key_env: None,
        api_key: None,
        request_timeout_ms: 1000,
        max_retries: 0,
        max_output_tokens: 256,
        workspace_key: None,
    }
}

/// Catalog entry `name` for `/usr/bin/<name>`, allowing nothing beyond it.
pub fn catalog_spec(name: &str) -> CatalogSpec {
    CatalogSpec {
        name: CatalogName::parse(name).expect("fixture entry names are valid"),
        description: String::new(),
        executable: format!("/usr/bin/{name}"),
        args: vec![],
        allowed_args: vec![],
        allowed_env: vec![],
        read_paths: vec![],
        write_paths: vec![],
    }
}

/// Registers server `server` of `workspace`, started from catalog entry `catalog` as it
/// is.
pub fn register_stdio(workspace: &WorkspaceId, server: &str, catalog: &str) -> Command {
    Command::RegisterMcpServer {
        workspace: workspace.clone(),
        name: ServerName::parse(server).expect("fixture server names are valid"),
        transport: McpTransport::Stdio {
            catalog: CatalogName::parse(catalog).expect("fixture entry names are valid"),
            args: vec![],
            env: vec![],
            secret_env: vec![],
        },
        workspace_key: None,
    }
}
