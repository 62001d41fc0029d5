//! The console over HTTPS on a real cluster, as a user's browser would drive it (an HTTP
//! client keeping cookies): sign-in turns a token into a sealed, HttpOnly, SameSite=Strict,
//! Secure cookie that every node accepts; the inbox offers a waiting call to an approver
//! and tells the submitter why not; refusals come from the same authorization path as
//! gRPC (a hand-made POST from the submitter, a POST without the CSRF token, a POST from
//! another origin change nothing); an approval made on the page is audited under the
//! signed-in principal; task input renders as text; a revoked token ends the session.

use std::time::Duration;

use warden_client::{AuditTail, Client, Consistency, proto};
use warden_proto::v1::TaskStatus;

use crate::common::console::{Browser, CONSOLE_ON};
use crate::common::eventually;
use crate::governance::{WS, payroll_put_waiting, pending_approval, settled};

/// A new token of `principal` with `role` in WS: its secret and id.
/// A new token for `principal` holding `role` in the test workspace: its secret and id.
pub(crate) async fn token_with_role(
    admin: &Client,
    principal: &str,
    role: &str,
) -> (String, String) {
    let created = admin
        .create_token(principal, "console test", 0)
        .await
        .expect("create token");
    admin
        .set_roles(Some(WS), principal, &[role])
        .await
        .expect("set roles");
    let id = created.token.expect("token info").id;
    (created.secret, id)
}

fn admin_secret(cluster: &warden_local_cluster::LocalCluster) -> String {
    std::fs::read_to_string(cluster.admin_token_path())
        .expect("admin token file")
        .trim()
        .to_owned()
}

/// The decision form's fields for the waiting call, from the approver's inbox.
fn decision<'a>(
    page: &'a crate::common::console::Page,
    csrf: &'a str,
    decision: &'a str,
) -> Vec<(&'static str, String)> {
    vec![
        ("csrf", csrf.to_owned()),
        ("workspace", page.field("workspace")),
        ("task_id", page.field("task_id")),
        ("call_id", page.field("call_id")),
        ("arguments_hash", page.field("arguments_hash")),
        ("decision", decision.to_owned()),
        ("reason", "checked the payroll".to_owned()),
    ]
}

fn borrowed<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

async fn approval_decisions(admin: &Client) -> Vec<warden_proto::v1::AuditRecord> {
    admin
        .tail_audit(
            AuditTail {
                limit: 100,
                action: "approval.decide".to_owned(),
                ..AuditTail::default()
            },
            Consistency::Linearizable,
        )
        .await
        .expect("audit tail")
        .records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_decides_in_the_console_and_nobody_else_can() {
    let cluster = crate::common::start(3, &[CONSOLE_ON]).await;
    let waiting = payroll_put_waiting(&cluster, "ann", "100").await;
    let admin = &waiting.admin;
    let (approver_token, approver_id) = token_with_role(admin, "user/ann", "approver").await;

    // Sign-in: a sealed cookie, HttpOnly, SameSite=Strict and Secure under TLS.
    let mut approver = Browser::new(&cluster, 1);
    let signed_in = approver.sign_in(&approver_token).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let session = signed_in
        .set_cookies()
        .into_iter()
        .find(|line| line.starts_with("__Host-warden_session="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Max-Age="] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(
        !session.contains(&approver_token),
        "the token is sealed: {session}"
    );
    let refused = Browser::new(&cluster, 1).sign_in("wdn_notatoken").await;
    assert_eq!(refused.status, 401, "{}", refused.body);

    // The inbox offers the decision, with what is needed to make it.
    let inbox = approver.get("/console/approvals").await;
    assert_eq!(inbox.status, 200, "{}", inbox.body);
    let policy = inbox
        .headers
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
    for shown in [
        waiting.task.id.as_str(),
        "ledger/put",
        "payroll",
        waiting.pending.arguments_hash.as_str(),
        "&#34;payroll/ann&#34;",
        "0 of 1",
        "value=\"approve\"",
    ] {
        assert!(
            inbox.body.contains(shown),
            "{shown} not in the inbox:\n{}",
            inbox.body
        );
    }
    let csrf = inbox.field("csrf");

    // The submitter (the admin) is told why not, and a hand-made POST is refused by the
    // node as it would refuse the gRPC call, and recorded.
    let mut submitter = Browser::new(&cluster, 2);
    assert_eq!(submitter.sign_in(&admin_secret(&cluster)).await.status, 303);
    let own = submitter.get("/console/approvals").await;
    assert!(
        own.body.contains("You cannot decide this call"),
        "{}",
        own.body
    );
    assert!(own.body.contains("own approval request"), "{}", own.body);
    assert!(!own.body.contains("value=\"approve\""), "{}", own.body);
    let own_csrf = own.field("csrf");
    let forged = submitter
        .post(
            "/console/approvals/decide",
            &borrowed(&decision(&inbox, &own_csrf, "approve")),
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(
        forged.body.contains("own approval request"),
        "{}",
        forged.body
    );
    let recorded = approval_decisions(admin).await;
    assert!(
        recorded
            .iter()
            .any(|record| record.outcome == "rejected" && record.principal != "user/ann"),
        "the submitter's refused decision is in the chain: {recorded:?}"
    );

    // Without the session's CSRF token, or from another origin, nothing happens.
    let fields = decision(&inbox, "", "approve");
    let no_csrf = approver
        .post("/console/approvals/decide", &borrowed(&fields))
        .await;
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);
    assert!(no_csrf.body.contains("CSRF"), "{}", no_csrf.body);
    let fields = decision(&inbox, &own_csrf, "approve");
    let other_session = approver
        .post("/console/approvals/decide", &borrowed(&fields))
        .await;
    assert_eq!(other_session.status, 403, "another session's CSRF token");
    let fields = decision(&inbox, &csrf, "approve");
    let cross_site = approver
        .post_with(
            "/console/approvals/decide",
            &borrowed(&fields),
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(cross_site.status, 403, "{}", cross_site.body);
    let still = pending_approval(admin, &waiting.task.id).await;
    assert!(
        still.approved_by.is_empty(),
        "refusals change nothing: {still:?}"
    );

    // A session made on node 1 works on node 3 (the cluster's key seals it).
    let mut elsewhere = approver.on_node(&cluster, 3);
    let inbox3 = elsewhere.get("/console/approvals").await;
    assert_eq!(inbox3.status, 200, "{}", inbox3.body);

    // The approver decides; the call runs and the task completes; the chain names them.
    let decided = approver
        .post("/console/approvals/decide", &borrowed(&fields))
        .await;
    assert_eq!(decided.status, 303, "{}", decided.body);
    assert_eq!(decided.location(), "/console/approvals?done=approved");
    let done = settled(admin, &waiting.task.id).await;
    assert_eq!(done.status, TaskStatus::Completed as i32, "{done:?}");
    let records = approval_decisions(admin).await;
    assert!(
        records
            .iter()
            .any(|record| record.principal == "user/ann" && record.outcome == "accepted"),
        "{records:?}"
    );
    let after = approver.get("/console/approvals?done=approved").await;
    assert!(
        after.body.contains("Your approval was recorded"),
        "{}",
        after.body
    );
    assert!(after.body.contains("Nothing is waiting"), "{}", after.body);

    // Revoking the token ends the session at the next request.
    admin.revoke_token(&approver_id).await.expect("revoke");
    let ended = approver.get("/console/approvals").await;
    assert_eq!(ended.status, 401, "{}", ended.body);
    assert!(ended.body.contains("Your session ended"), "{}", ended.body);
    assert!(ended.body.contains("revoked"), "{}", ended.body);
    assert_eq!(
        approver.cookie("__Host-warden_session"),
        None,
        "the cookie is cleared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_pages_escape_input_stream_the_journal_and_sign_out_ends_the_session() {
    let cluster = crate::common::start(1, &[CONSOLE_ON]).await;
    let waiting = payroll_put_waiting(&cluster, "bob", "<script>alert(1)</script>").await;
    let admin = &waiting.admin;
    let hostile = admin
        .submit_task(WS, "clerk", "<script>alert('x')</script>", None)
        .await
        .expect("submit")
        .response
        .task
        .expect("task");
    let mut user = Browser::new(&cluster, 1);
    assert_eq!(user.sign_in(&admin_secret(&cluster)).await.status, 303);

    let page = user
        .get(&format!("/console/w/{WS}/tasks/{}", waiting.task.id))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("waiting_approval"), "{}", page.body);
    let hostile_page = user
        .get(&format!("/console/w/{WS}/tasks/{}", hostile.id))
        .await;
    assert_eq!(hostile_page.status, 200, "{}", hostile_page.body);
    assert!(
        hostile_page.body.contains("&#60;script&#62;alert("),
        "{}",
        hostile_page.body
    );
    assert!(
        !hostile_page.body.contains("<script>alert"),
        "input must render as text"
    );

    // The journal streams live: the approval, the call and the completion arrive as
    // server-sent events.
    let from = page.field_after("data-events=\"");
    let mut events = user.stream(&from).await;
    waiting
        .approver
        .decide_approval(
            WS,
            &waiting.pending.task_id,
            &waiting.pending.call_id,
            &waiting.pending.arguments_hash,
            true,
            "fine",
        )
        .await
        .expect("approve");
    let streamed = read_until(&mut events, "\"status\":\"completed\"").await;
    for kind in ["approval_decided", "tool_call_finished", "completed"] {
        assert!(streamed.contains(kind), "{kind} not streamed:\n{streamed}");
    }

    // The task list filters by status; an unknown status is refused.
    let all = user.get(&format!("/console/tasks?workspace={WS}")).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert!(
        all.body.contains(&waiting.task.id) && all.body.contains(&hostile.id),
        "{}",
        all.body
    );
    let completed = user
        .get(&format!("/console/tasks?workspace={WS}&status=completed"))
        .await;
    assert_eq!(completed.status, 200, "{}", completed.body);
    assert!(
        completed.body.contains(&waiting.task.id),
        "{}",
        completed.body
    );
    assert!(!completed.body.contains(&hostile.id), "{}", completed.body);
    let bad = user
        .get(&format!("/console/tasks?workspace={WS}&status=sleeping"))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("status: unknown status"), "{}", bad.body);

    // A registered webhook is listed on the workspace page. Webhooks need cluster
    // protocol 3, which a fresh cluster's leader raises within a heartbeat or two.
    eventually(
        "the cluster runs protocol 3",
        Duration::from_secs(30),
        || async {
            let status = admin.cluster_status().await.ok()?;
            (status.cluster_protocol >= 3).then_some(())
        },
    )
    .await;
    admin
        .put_webhook(
            proto::Webhook {
                workspace: WS.to_owned(),
                name: "console-hook".to_owned(),
                url: "https://hooks.example.com/x".to_owned(),
                events: vec!["task.failed".into()],
                ..Default::default()
            },
            "0123456789abcdef0123",
        )
        .await
        .expect("put webhook");
    let settings = user.get(&format!("/console/w/{WS}")).await;
    assert_eq!(settings.status, 200, "{}", settings.body);
    let webhooks = settings
        .body
        .split_once("id=\"webhooks\"")
        .and_then(|(_, table)| table.split_once("</table>"))
        .map(|(table, _)| table)
        .unwrap_or_else(|| panic!("no webhooks table:\n{}", settings.body));
    assert!(
        webhooks.contains("console-hook") && webhooks.contains("https://hooks.example.com/x"),
        "{}",
        settings.body
    );

    // The other pages render for an admin.
    for path in [
        "/console/cluster".to_owned(),
        "/console/workspaces".to_owned(),
        format!("/console/w/{WS}"),
        "/console/audit?action=task.submit".to_owned(),
    ] {
        let page = user.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
    }
    // Verifying the whole chain is a POST with the session's CSRF token, not a link.
    let audit_csrf = user.get("/console/audit").await.field("csrf");
    let verified = user
        .post("/console/audit/verify", &[("csrf", &audit_csrf)])
        .await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(
        verified.body.contains("id=\"verification\" class=\"ok\""),
        "{}",
        verified.body
    );
    let forged = user.post("/console/audit/verify", &[("csrf", "")]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);

    // A workspace's auditor reads that workspace's records, not the whole chain's heads,
    // and another workspace is not there for them.
    let (auditor_token, _) = token_with_role(admin, "user/dora", "auditor").await;
    let mut auditor = Browser::new(&cluster, 1);
    assert_eq!(auditor.sign_in(&auditor_token).await.status, 303);
    let theirs = auditor.get("/console/audit").await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert!(
        theirs.body.contains("id=\"heads-hidden\""),
        "{}",
        theirs.body
    );
    assert!(
        theirs
            .body
            .contains(&format!("workspace/{WS}/task/{}", hostile.id)),
        "{}",
        theirs.body
    );
    admin
        .create_workspace("elsewhere")
        .await
        .expect("create elsewhere");
    let other = auditor.get("/console/audit?workspace=elsewhere").await;
    assert_eq!(other.status, 404, "{}", other.body);

    // Sign-out ends the session, even for a copy of the cookie, and the live journal
    // streams opened in it.
    let mut lingering = user
        .stream(&format!(
            "/console/w/{WS}/tasks/{}/events?from=0",
            hostile.id
        ))
        .await;
    read_until(&mut lingering, "submitted").await;
    let csrf = page.field("csrf");
    let stolen = user
        .cookie("__Host-warden_session")
        .expect("session")
        .to_owned();
    let out = user.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(user.cookie("__Host-warden_session"), None);
    let mut thief = Browser::new(&cluster, 1);
    thief.set_cookie("__Host-warden_session", &stolen);
    let replayed = thief.get("/console/tasks").await;
    assert_eq!(replayed.status, 401, "{}", replayed.body);
    let again = user.get("/console/approvals").await;
    assert_eq!(again.status, 303, "signed out: back to the sign-in page");
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while lingering.chunk().await.ok().flatten().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the journal stream outlived the sign-out");
}

/// The server-sent events read from `events` until one holds `marker` (or 60 s pass).
async fn read_until(events: &mut reqwest::Response, marker: &str) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !text.contains(marker) {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {marker} within 60 s; streamed:\n{text}"))
            .expect("the event stream")
            .unwrap_or_else(|| panic!("the stream ended before {marker}:\n{text}"));
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

/// A client that connects and then sends nothing is cut off: silently held connections
/// cannot pile up until the node runs out of file descriptors. Both a client that never
/// starts its TLS handshake and one that finishes it and never sends a request are closed
/// within the console's timeouts (5 s for the handshake, 30 s of silence).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_are_disconnected() {
    use tokio::io::AsyncReadExt;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

    let cluster = crate::common::start(1, &[CONSOLE_ON]).await;
    let address = cluster
        .ready(1)
        .expect("ready")
        .console
        .clone()
        .expect("the console listens");
    let closed_within = |what: &'static str| {
        move |read: Result<Result<usize, std::io::Error>, tokio::time::error::Elapsed>| match read {
            Ok(Ok(0)) | Ok(Err(_)) => {}
            Ok(Ok(n)) => panic!("{what}: the console sent {n} bytes to a silent client"),
            Err(_) => panic!("{what}: still open after 60 s"),
        }
    };

    let mut before_handshake = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let mut buffer = [0_u8; 64];
    closed_within("no handshake")(
        tokio::time::timeout(Duration::from_secs(30), before_handshake.read(&mut buffer)).await,
    );

    let ca = std::fs::read(cluster.ca_path().expect("TLS")).expect("read the CA");
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&ca) {
        roots
            .add(certificate.expect("a CA certificate"))
            .expect("add the CA");
    }
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let mut silent = connector
        .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
        .await
        .expect("the TLS handshake");
    closed_within("no request")(
        tokio::time::timeout(Duration::from_secs(60), silent.read(&mut buffer)).await,
    );
}
