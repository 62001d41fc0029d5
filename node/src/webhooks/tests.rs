//! The sender's parts on their own: backoff, the bounds on attempts in flight, and what
//! one POST makes of each kind of answer.

use super::flights::{Flights, MAX_IN_FLIGHT_PER_WORKSPACE};
use super::send::{Failure, Prepared, client, send};
use super::*;

#[test]
fn backoff_doubles_up_to_its_limit() {
    let options = Options {
        retry_delay: Duration::from_secs(1),
        max_retry_delay: Duration::from_secs(10),
        ..Options::default()
    };
    let waits: Vec<u64> = (0..6).map(|n| backoff(&options, n).as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
    assert_eq!(backoff(&options, u32::MAX).as_secs(), 10);
}

fn prepared(url: &str) -> Prepared {
    Prepared {
        url: url.to_owned(),
        body: b"{}".to_vec(),
        signature: "t=1,v1=00".to_owned(),
        id: "1-0".to_owned(),
        event: "task.failed",
    }
}

/// A stored URL whose name resolves to an address the sender's egress rules refuse
/// (DNS can change after the API checked it) is given up, not retried: the sender
/// resolves through the egress resolver and never connects.
#[tokio::test]
async fn a_name_resolving_to_a_refused_address_is_given_up_without_connecting() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let http = client(&Policy::default(), Duration::from_secs(5)).expect("client");
    let outcome = send(&http, prepared(&format!("http://localhost:{port}/hook"))).await;
    match outcome {
        Err(Failure::GiveUp(error)) => assert!(error.contains("url:"), "{error}"),
        Err(Failure::Retry(error)) => panic!("retried: {error}"),
        Ok(status) => panic!("delivered: {status}"),
    }
    listener.set_nonblocking(true).expect("nonblocking");
    assert!(listener.accept().is_err(), "nothing connected");
}

/// A receiver that is down is retried, and the error says why.
#[tokio::test]
async fn an_unreachable_receiver_is_retried() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let loopback = Policy::allowing([warden_egress::Allow::Class(warden_egress::Class::Loopback)]);
    let http = client(&loopback, Duration::from_secs(5)).expect("client");
    match send(&http, prepared(&format!("http://127.0.0.1:{port}/hook"))).await {
        Err(Failure::Retry(error)) => assert!(error.contains("connect"), "{error}"),
        Err(Failure::GiveUp(error)) => panic!("given up: {error}"),
        Ok(status) => panic!("delivered: {status}"),
    }
}

/// A receiver answering `status` once to every connection, on loopback.
async fn answering(status: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer).await;
            let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    url
}

#[tokio::test]
async fn a_refused_request_is_given_up_and_a_server_error_retried() {
    let loopback = Policy::allowing([warden_egress::Allow::Class(warden_egress::Class::Loopback)]);
    let http = client(&loopback, Duration::from_secs(5)).expect("client");
    for (status, retried) in [
        ("403 Forbidden", false),
        ("301 Moved Permanently", false),
        ("404 Not Found", false),
        ("429 Too Many Requests", true),
        ("503 Service Unavailable", true),
    ] {
        let url = answering(status).await;
        match send(&http, prepared(&url)).await {
            Err(Failure::Retry(error)) => assert!(retried, "{status} retried: {error}"),
            Err(Failure::GiveUp(error)) => {
                assert!(!retried, "{status} given up: {error}");
                assert!(error.contains("not retried"), "{error}");
            }
            Ok(code) => panic!("{status} delivered: {code}"),
        }
    }
    assert_eq!(
        send(&http, prepared(&answering("204 No Content").await))
            .await
            .ok(),
        Some(204)
    );
}

fn delivery(workspace: &str, webhook: &str, log_index: u64) -> Delivery {
    Delivery {
        workspace: WorkspaceId::parse(workspace).expect("workspace"),
        id: DeliveryId { log_index, seq: 0 },
        webhook: WebhookName::parse(webhook).expect("webhook"),
        webhook_created: 1,
        notice: warden_core::Notice::new(
            warden_core::WebhookEvent::TaskFailed,
            1,
            warden_core::TaskId::from_u128(1),
            warden_core::AgentName::parse("bot").expect("valid agent"),
            "failed",
        ),
        created_ms: 1,
        state: DeliveryState::Pending { next_attempt_ms: 1 },
        attempts: 0,
        last_attempt_ms: None,
        last_error: None,
    }
}

/// One workspace's deliveries take at most four slots, one webhook's two: another
/// workspace still gets one while the first has hundreds due.
#[test]
fn one_workspace_cannot_take_every_slot() {
    let mut flights = Flights::default();
    let mut started = 0;
    for index in 0..300 {
        let hook = if index % 2 == 0 { "a" } else { "b" };
        let candidate = delivery("noisy", hook, index);
        if flights.admits(&candidate, 10) {
            flights.start(&candidate);
            started += 1;
        }
    }
    assert_eq!(started, MAX_IN_FLIGHT_PER_WORKSPACE);
    let quiet = delivery("quiet", "pager", 1);
    assert!(flights.admits(&quiet, 10));
    // A delivery whose result was not recorded waits.
    flights
        .not_before
        .insert((quiet.workspace.clone(), quiet.id), 50);
    assert!(!flights.admits(&quiet, 10));
    assert!(flights.admits(&quiet, 50));
}
