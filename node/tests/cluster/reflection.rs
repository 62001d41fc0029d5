//! gRPC server reflection on every node, so tools like `grpcurl` can discover the API:
//! it lists and describes the public services only, and like every public call it needs
//! a token.

use crate::common::{raw_channel, start, with_admin_token};
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

fn request(message: MessageRequest) -> ServerReflectionRequest {
    ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    }
}

/// Sends one reflection request and returns the one answer.
async fn ask(
    client: &mut ServerReflectionClient<tonic::transport::Channel>,
    request: tonic::Request<tokio_stream::Iter<std::vec::IntoIter<ServerReflectionRequest>>>,
) -> Result<MessageResponse, tonic::Status> {
    let mut answers = client.server_reflection_info(request).await?.into_inner();
    let answer: ServerReflectionResponse = answers
        .message()
        .await?
        .ok_or_else(|| tonic::Status::internal("no answer"))?;
    answer
        .message_response
        .ok_or_else(|| tonic::Status::internal("an empty answer"))
}

/// Asks for the file that defines `symbol`, with the admin's token.
async fn file_containing(
    client: &mut ServerReflectionClient<tonic::transport::Channel>,
    cluster: &warden_local_cluster::LocalCluster,
    symbol: &str,
) -> Result<MessageResponse, tonic::Status> {
    let asked = tokio_stream::iter(vec![request(MessageRequest::FileContainingSymbol(
        symbol.to_owned(),
    ))]);
    ask(client, with_admin_token(cluster, asked)).await
}

#[tokio::test]
async fn reflection_lists_the_public_api_to_token_holders() {
    let cluster = start(1, &[]).await;
    let mut client = ServerReflectionClient::new(raw_channel(&cluster, 1).await);
    let list = || tokio_stream::iter(vec![request(MessageRequest::ListServices(String::new()))]);

    let refused = ask(&mut client, tonic::Request::new(list()))
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused}");

    let listed = ask(&mut client, with_admin_token(&cluster, list()))
        .await
        .expect("list services");
    let MessageResponse::ListServicesResponse(listed) = listed else {
        panic!("not a service list: {listed:?}");
    };
    let names: Vec<String> = listed
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    for public in [
        "warden.v1.TaskService",
        "warden.v1.ClusterService",
        "warden.v1.GovernanceService",
    ] {
        assert!(
            names.iter().any(|name| name == public),
            "{public} missing: {names:?}"
        );
    }
    assert!(
        names
            .iter()
            .all(|name| !name.starts_with("warden.internal")),
        "node-to-node services are listed: {names:?}"
    );

    // A public service's file resolves; a node-to-node one does not.
    let described = file_containing(&mut client, &cluster, "warden.v1.TaskService")
        .await
        .expect("describe TaskService");
    assert!(
        matches!(described, MessageResponse::FileDescriptorResponse(ref files) if !files.file_descriptor_proto.is_empty()),
        "{described:?}"
    );
    let hidden = file_containing(&mut client, &cluster, "warden.internal.v1.RaftService").await;
    // tonic-reflection answers an unknown symbol with a NOT_FOUND status on the stream.
    match hidden {
        Err(status) => assert_eq!(status.code(), tonic::Code::NotFound, "{status}"),
        Ok(answer) => panic!("the Raft service is described: {answer:?}"),
    }
}
