//! Two workspaces and a stranger: the setup of the walks that check what a caller with a
//! role in one workspace can do in another.

use super::{AGENT, TestCluster, add_paused_agent, start};

/// One node with workspaces acme and globex (each with the paused agent), a task in
/// globex, and alice, an operator in acme only.
pub struct Isolated {
    pub cluster: TestCluster,
    pub admin: warden_client::Client,
    pub globex_task: warden_client::proto::Task,
    pub alice_secret: String,
}

pub async fn isolated() -> Isolated {
    let cluster = start(1, &[]).await;
    let admin = cluster.client().expect("client");
    for workspace in ["acme", "globex"] {
        admin
            .create_workspace(workspace)
            .await
            .unwrap_or_else(|error| panic!("create workspace {workspace}: {error}"));
        add_paused_agent(&admin, workspace).await;
    }
    let globex_task = admin
        .submit_task("globex", AGENT, "globex only", None)
        .await
        .expect("submit a task in globex")
        .response
        .task
        .expect("a task");
    let alice = admin
        .create_token("user/alice", "operator in acme", 0)
        .await
        .expect("create alice's token");
    admin
        .set_roles(Some("acme"), "user/alice", &["operator"])
        .await
        .expect("make alice an operator in acme");
    Isolated {
        cluster,
        admin,
        globex_task,
        alice_secret: alice.secret,
    }
}
