//! `warden dev --nodes 3` starts three node processes that form one cluster with three
//! voters and one leader, each serving the console, and stops them all on Ctrl-C.

use std::time::Duration;

use crate::common::{WARDEN, eventually};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use warden_client::{BearerToken, Client, ClientOptions};
use warden_proto::v1::MemberRole;

#[tokio::test]
async fn dev_cluster_has_three_voters_and_one_leader_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("dev");
    let mut dev = tokio::process::Command::new(WARDEN)
        .args(["dev", "--nodes", "3", "--data-dir"])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn warden dev");

    let endpoints_file = data.join("endpoints");
    let endpoints: Vec<String> =
        eventually("the endpoints file", Duration::from_secs(90), || async {
            let text = std::fs::read_to_string(&endpoints_file).ok()?;
            Some(text.trim().split(',').map(str::to_owned).collect())
        })
        .await;
    assert_eq!(endpoints.len(), 3);
    // `warden dev` initialized the cluster and kept its admin token beside the nodes.
    let token_file = data.join(warden_local_cluster::ADMIN_TOKEN_FILE);
    let token = std::fs::read_to_string(&token_file)
        .unwrap_or_else(|error| panic!("read {}: {error}", token_file.display()));
    // ... and its own CA, which the nodes' certificates chain to: TLS with no setup.
    let ca = data.join(warden_local_cluster::TLS_DIR).join("ca.pem");
    let options = ClientOptions {
        token: Some(BearerToken::new(&token).expect("a valid admin token")),
        tls: Some(warden_client::ClientTls {
            ca_pem: std::fs::read(&ca)
                .unwrap_or_else(|error| panic!("read {}: {error}", ca.display())),
            identity: None,
        }),
        ..ClientOptions::default()
    };

    let mut leaders = Vec::new();
    for endpoint in &endpoints {
        let client = Client::connect([endpoint], options.clone()).expect("client");
        let status = client.cluster_status().await.expect("status");
        let voters = status
            .members
            .iter()
            .filter(|member| member.role() == MemberRole::Voter)
            .count();
        assert_eq!(
            voters, 3,
            "node {} sees {:?}",
            status.node_id, status.members
        );
        leaders.push(status.leader_id.expect("a leader"));
    }
    assert!(
        leaders.iter().all(|leader| *leader == leaders[0]),
        "nodes disagree on the leader: {leaders:?}"
    );
    let leaders_that_say_so = {
        let mut count = 0;
        for endpoint in &endpoints {
            let client = Client::connect([endpoint], options.clone()).expect("client");
            if client.cluster_status().await.expect("status").state == "leader" {
                count += 1;
            }
        }
        count
    };
    assert_eq!(leaders_that_say_so, 1);

    // Every node serves the console, over TLS with its own certificate.
    let console_client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&ca).expect("read the CA")).expect("CA"),
        )
        .build()
        .expect("http client");
    let mut pids = Vec::new();
    for id in 1..=3 {
        let ready = warden_local_cluster::read_ready(&data.join(format!("node-{id}/ready.json")))
            .expect("ready");
        let console = ready
            .console
            .expect("warden dev serves the console on every node");
        let sign_in = console_client
            .get(format!("https://{console}/console/sign-in"))
            .send()
            .await
            .expect("the console answers");
        assert_eq!(sign_in.status().as_u16(), 200, "node {id}'s console");
        pids.push(i32::try_from(ready.pid).expect("pid"));
    }
    let dev_pid = Pid::from_raw(i32::try_from(dev.id().expect("dev pid")).expect("pid"));
    kill(dev_pid, Signal::SIGINT).expect("send SIGINT to warden dev");
    let status = tokio::time::timeout(Duration::from_secs(30), dev.wait())
        .await
        .expect("warden dev stops after Ctrl-C")
        .expect("wait");
    assert!(status.success(), "warden dev exited with {status}");
    for pid in pids {
        // Signal 0 probes for existence: every node process must be gone.
        assert!(
            kill(Pid::from_raw(pid), None).is_err(),
            "node process {pid} still running"
        );
    }
}
