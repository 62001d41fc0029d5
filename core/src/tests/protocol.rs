//! The cluster's protocol: a command newer than it is refused and changes nothing; only
//! a node raises it, only upwards, and each raise is audited.

use super::fixtures::*;
use crate::memory::MemoryState;
use crate::*;

fn as_node(time_ms: u64, command: Command) -> Request {
    Request {
        time_ms,
        principal: Principal::node(NodeId(1)),
        token: None,
        command,
    }
}

#[test]
fn a_command_newer_than_the_cluster_protocol_waits_for_a_node_to_raise_it() {
    let mut state = MemoryState::default();
    state.apply(1, &request(10, create("acme")));
    assert_eq!(state.cluster_protocol(), Ok(OLDEST_PROTOCOL));

    let settings = Command::SetWorkspaceSettings {
        workspace: ws("acme"),
        trace_content: true,
    };
    let before = state.clone();
    let Outcome::Rejected(rejection) = state.apply(2, &request(20, settings.clone())) else {
        panic!("a protocol 2 command applied in a protocol 1 cluster")
    };
    assert_eq!(rejection.code, Code::FailedPrecondition);
    assert!(
        rejection.message.starts_with(
            "workspace.set_settings needs cluster protocol 2, but the cluster runs protocol 1"
        ),
        "{rejection}"
    );
    assert_eq!(state.settings, before.settings, "nothing was written");
    assert_eq!(state.audit.len(), 2, "the refusal is audited");

    // A user with a valid token does not set it: nodes do.
    let user = Principal::parse("user/root").expect("valid principal");
    state.apply(
        3,
        &request(
            25,
            Command::CreateToken {
                token: TokenId([1; 8]),
                secret_hash: Hash::of(b"root"),
                principal: user.clone(),
                description: String::new(),
                expires_at_ms: None,
            },
        ),
    );
    let by_user = Request {
        time_ms: 30,
        principal: user,
        token: Some(TokenId([1; 8])),
        command: Command::SetClusterProtocol { protocol: 2 },
    };
    let Outcome::Rejected(rejection) = state.apply(4, &by_user) else {
        panic!("a user set the cluster protocol")
    };
    assert_eq!(rejection.code, Code::PermissionDenied, "{rejection}");
    assert!(rejection.message.contains("only nodes do"), "{rejection}");

    let raised = state.apply(5, &as_node(40, Command::SetClusterProtocol { protocol: 2 }));
    assert_eq!(raised, Outcome::ClusterProtocolSet { from: 1, to: 2 });
    let record = state.audit.last().expect("audited");
    assert_eq!(
        (
            record.action.as_str(),
            record.resource.as_str(),
            record.detail.as_str(),
            record.principal.as_str()
        ),
        (
            "cluster.set_protocol",
            "cluster/protocol",
            "protocol 1 -> 2",
            "node/1"
        )
    );
    assert_eq!(state.cluster_protocol(), Ok(2));
    assert!(matches!(
        state.apply(6, &request(50, settings)),
        Outcome::WorkspaceSettingsSet(_)
    ));

    for (index, protocol) in [(7, 2), (8, 1)] {
        let Outcome::Rejected(rejection) = state.apply(
            index,
            &as_node(60, Command::SetClusterProtocol { protocol }),
        ) else {
            panic!("protocol {protocol} replaced 2")
        };
        assert_eq!(rejection.code, Code::FailedPrecondition, "{rejection}");
        assert!(
            rejection.message.contains("runs protocol 2 already"),
            "{rejection}"
        );
    }
    assert_eq!(state.cluster_protocol(), Ok(2), "never lowered");
}

#[test]
fn each_command_names_the_protocol_that_introduced_it() {
    let newer = [
        Command::DeleteWorkspace { workspace: ws("a") },
        Command::SetWorkspaceSettings {
            workspace: ws("a"),
            trace_content: false,
        },
        Command::CreateBackup { node: NodeId(1) },
    ];
    for command in &newer {
        assert_eq!(command.since(), 2, "{command:?}");
        assert_eq!(command.action().since(), 2, "{command:?}");
    }
    for command in [create("a"), submit("a", 1, "k", "in")] {
        assert_eq!(command.since(), 1, "{command:?}");
    }
    // A refusal recorded at the edge carries its action, which old builds cannot decode.
    let refusal = |action| Command::RecordRejection {
        action,
        resource: "workspace/a".into(),
        payload_hash: Hash::of(b"x"),
        rejection: Rejection::new(Code::InvalidArgument, "bad"),
    };
    assert_eq!(refusal(Action::WorkspaceDelete).since(), 2);
    assert_eq!(refusal(Action::TaskSubmit).since(), 1);
}
