//! One path for refusals: every write method of the public API, found by walking the
//! compiled descriptors, adds exactly one audit record when it is refused, for bad input
//! (an empty request, as a cluster admin; where an empty request is valid, it succeeds
//! and is recorded once) and for a caller without permission (a
//! stranger to the workspace, or without a cluster role), and a refusal's record stays
//! small whatever the input's size.

use crate::common::audit_count;
use crate::common::isolated::{Isolated, isolated};
use crate::common::wire::{Api, Method, call, code_of, field_value};
use prost::Message;
use tonic::Code;
use warden_client::Consistency;
use warden_proto::v1::CreateWorkspaceRequest;

/// Methods that change nothing under the caller's name; every other one is a write.
/// `CheckpointAudit` is authorized like the audit reads and records nothing as its caller:
/// each node it asks records its own signed checkpoint as `node/<id>`.
const READS: [&str; 11] = [
    "Get",
    "List",
    "Watch",
    "Wait",
    "Tail",
    "Verify",
    "Export",
    "WhoAmI",
    "ClusterStatus",
    "TestPolicy",
    "CheckpointAudit",
];

/// Writes whose empty request is a valid one: from an admin it succeeds, and is recorded
/// once all the same.
const NO_INPUT: [&str; 1] = ["/warden.v1.ClusterService/CreateBackup"];

/// `InitCluster` is the one write without a principal: before the cluster exists there
/// is no chain to record in, and afterwards it changes nothing and answers anyone the same.
const NO_PRINCIPAL: &str = "/warden.v1.ClusterService/InitCluster";

fn rpc(method: &Method) -> &str {
    method.path.rsplit('/').next().unwrap_or_default()
}

fn writes(api: &Api) -> Vec<&Method> {
    api.methods
        .iter()
        .filter(|method| method.path != NO_PRINCIPAL)
        .filter(|method| !READS.iter().any(|read| rpc(method).starts_with(read)))
        .collect()
}

#[tokio::test]
async fn every_refused_write_adds_exactly_one_bounded_audit_record() {
    let Isolated {
        cluster,
        admin,
        globex_task,
        alice_secret,
    } = isolated().await;
    let channel = crate::common::raw_channel(&cluster, 1).await;
    let admin_token = std::fs::read_to_string(cluster.admin_token_path()).expect("admin token");
    let as_admin = format!("Bearer {}", admin_token.trim());
    let as_alice = format!("Bearer {alice_secret}");

    let api = Api::load();
    let writes = writes(&api);
    assert!(writes.len() >= 20, "the walk found {} writes", writes.len());

    let mut wrong = Vec::new();
    for method in &writes {
        // Bad input: everything empty, from a caller who may do anything.
        let before = audit_count(&admin).await;
        let answer = call(&channel, method, Vec::new(), Some(&as_admin)).await;
        let added = audit_count(&admin).await - before;
        let valid = NO_INPUT.contains(&method.path.as_str());
        if (code_of(&answer) == Code::Ok) != valid || added != 1 {
            wrong.push(format!(
                "{} (empty, as admin): {answer:?}, {added} records",
                method.path
            ));
        }

        // No permission: a plausible request for globex from alice, who is an operator
        // in acme only and holds no cluster role.
        let value = |field: &str| field_value(&globex_task.id, &method.path, field);
        let body = api.request(&method.input, "globex", &value);
        let before = audit_count(&admin).await;
        let answer = call(&channel, method, body, Some(&as_alice)).await;
        let added = audit_count(&admin).await - before;
        if code_of(&answer) == Code::Ok || added != 1 {
            wrong.push(format!(
                "{} (as a stranger): {answer:?}, {added} records",
                method.path
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "refusals not recorded once:\n{}",
        wrong.join("\n")
    );

    // A huge invalid input leaves a record of bounded size: the rejection's text is cut,
    // the input is known by its hash and size.
    let huge = "x".repeat(1 << 20);
    let refused = admin.create_workspace(&huge).await;
    assert!(refused.is_err(), "a 1 MiB workspace name was accepted");
    let last = admin
        .tail_audit(warden_client::AuditTail::last(1), Consistency::Linearizable)
        .await
        .expect("tail")
        .records
        .pop()
        .expect("a record");
    let size = last.resource.len() + last.detail.len();
    assert!(
        size <= 1024,
        "a refusal's record holds {size} bytes: {last:?}"
    );
    let bytes = CreateWorkspaceRequest { name: huge }.encoded_len();
    assert!(
        last.detail
            .ends_with(&format!("(request of {bytes} bytes)")),
        "{last:?}"
    );
}
