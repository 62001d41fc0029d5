//! An anchored audit chain: nodes sign checkpoints of their heads, so a chain rewritten
//! together with its stored head fails offline verification of the node's data
//! directory, a node whose chain was rewritten is named by `wardenctl audit heads`, an
//! export whose tail was cut fails against saved checkpoints, and a signing key inside
//! the data directory stops the node at start.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::common::{WARDEN, start_configured, wait_converged};
use warden_client::Consistency;
use warden_core::audit::chain_hash;
use warden_core::{AuditHead, AuditRecord, Hash};
use warden_raft::{codec, keys};

const INTERVAL: u64 = 10;

fn wardenctl_path() -> PathBuf {
    let path = PathBuf::from(WARDEN).with_file_name("wardenctl");
    assert!(
        path.exists(),
        "{} is missing: build the binaries first",
        path.display()
    );
    path
}

async fn wardenctl(cluster: &warden_local_cluster::LocalCluster, args: &[&str]) -> Output {
    let ca = cluster.ca_path().expect("a TLS cluster");
    tokio::process::Command::new(wardenctl_path())
        .arg("--endpoints")
        .arg(cluster.endpoints().join(","))
        .arg("--token-file")
        .arg(cluster.admin_token_path())
        .arg("--ca")
        .arg(ca)
        .env_remove("WARDEN_TOKEN")
        .args(args)
        .output()
        .await
        .expect("run wardenctl")
}

fn warden(args: &[&std::ffi::OsStr]) -> Output {
    std::process::Command::new(WARDEN)
        .args(args)
        .output()
        .expect("run warden")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn a_rewritten_chain_is_caught_by_its_checkpoints() {
    let mut cluster =
        start_configured(3, &[], |cluster| cluster.checkpoint_interval(INTERVAL)).await;
    let client = cluster.client().expect("client");
    for n in 0..2 * INTERVAL {
        client
            .create_workspace(&format!("ws-{n}"))
            .await
            .expect("create");
    }

    // On demand: every node signs, and the JSON is kept apart from the cluster.
    let signed = wardenctl(&cluster, &["--output", "json", "audit", "checkpoint"]).await;
    assert!(signed.status.success(), "{}", text(&signed));
    let saved = cluster.dir.path().join("checkpoints.json");
    std::fs::write(&saved, &signed.stdout).expect("save checkpoints");
    let document: serde_json::Value = serde_json::from_slice(&signed.stdout).expect("json");
    assert_eq!(
        document["checkpoints"].as_array().map(Vec::len),
        Some(3),
        "{document}"
    );

    wait_converged(&cluster, Duration::from_secs(30)).await;
    let heads = wardenctl(&cluster, &["audit", "heads"]).await;
    assert_eq!(heads.status.code(), Some(0), "{}", text(&heads));
    assert!(text(&heads).contains(": agree"), "{}", text(&heads));

    // An export cut before the last checkpoint verifies alone, not against the saved ones.
    let export = cluster.dir.path().join("export.jsonl");
    let exported = wardenctl(
        &cluster,
        &["audit", "export", "--out", export.to_str().expect("utf-8")],
    )
    .await;
    assert!(exported.status.success(), "{}", text(&exported));
    let lines: Vec<String> = std::fs::read_to_string(&export)
        .expect("read export")
        .lines()
        .map(str::to_owned)
        .collect();
    let first_signed = document["checkpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|checkpoint| checkpoint["index"].as_u64())
        .min()
        .expect("an index");
    let cut = cluster.dir.path().join("cut.jsonl");
    std::fs::write(&cut, lines[..(first_signed as usize - 1)].join("\n")).expect("write cut");
    let alone = warden(&["audit".as_ref(), "verify-export".as_ref(), cut.as_os_str()]);
    assert_eq!(alone.status.code(), Some(0), "{}", text(&alone));
    let against = warden(&[
        "audit".as_ref(),
        "verify-export".as_ref(),
        cut.as_os_str(),
        "--checkpoints".as_ref(),
        saved.as_os_str(),
    ]);
    assert_eq!(against.status.code(), Some(1), "{}", text(&against));
    assert!(
        text(&against).contains(&format!("export ends at record {}", first_signed - 1)),
        "{}",
        text(&against)
    );
    let whole = warden(&[
        "audit".as_ref(),
        "verify-export".as_ref(),
        export.as_os_str(),
        "--checkpoints".as_ref(),
        saved.as_os_str(),
    ]);
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole));
    assert!(
        text(&whole).contains("last checkpoint in the export covers records 1.."),
        "{}",
        text(&whole)
    );

    // Offline: node 3's own key vouches for its data directory until it is rewritten.
    cluster.stop(3).await.expect("stop node 3");
    let data_dir = cluster.node_dir(3);
    let key = cluster.signing_key_path(3);
    let verify = |trusted: bool| {
        let mut args = vec![
            "audit".as_ref(),
            "verify".as_ref(),
            "--data-dir".as_ref(),
            data_dir.as_os_str(),
        ];
        if trusted {
            args.extend(["--signing-key".as_ref(), key.as_os_str()]);
        }
        warden(&args)
    };
    let before = verify(true);
    assert_eq!(before.status.code(), Some(0), "{}", text(&before));
    assert!(
        text(&before).contains("last checkpoint covers records 1.."),
        "{}",
        text(&before)
    );

    rewrite_chain_from(&data_dir.join("db"), 5);
    for trusted in [false, true] {
        let after = verify(trusted);
        assert_eq!(after.status.code(), Some(1), "{}", text(&after));
        assert!(text(&after).contains("signed record"), "{}", text(&after));
    }

    // Online: the restarted node is named by `audit heads`.
    cluster.start_node(3).await.expect("restart node 3");
    let heads = wardenctl(&cluster, &["--output", "json", "audit", "heads"]).await;
    assert_eq!(heads.status.code(), Some(1), "{}", text(&heads));
    let report: serde_json::Value = serde_json::from_slice(&heads.stdout).expect("json");
    let disagreeing: Vec<u64> = report["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|node| !node["problem"].as_str().unwrap_or_default().is_empty())
        .filter_map(|node| node["node_id"].as_u64())
        .collect();
    assert_eq!(disagreeing, vec![3], "{report}");
    let verified = cluster
        .client_of(3)
        .expect("client")
        .verify_audit(Consistency::Local)
        .await
        .expect("verify");
    assert!(
        !verified.ok,
        "node 3's own stored checkpoints expose the rewrite"
    );
}

/// Changes record `from` of a stopped node's chain and re-chains every record after it and
/// the stored head, as someone with write access to the disk could.
fn rewrite_chain_from(db_path: &Path, from: u64) {
    let mut options = rocksdb::Options::default();
    options.create_if_missing(false);
    let families = rocksdb::DB::list_cf(&options, db_path).expect("list column families");
    let db = rocksdb::DB::open_cf(&options, db_path, &families).expect("open the db");
    let family = db.cf_handle(keys::SM_CF).expect("sm column family");
    let read = |key: &[u8]| db.get_cf(&family, key).expect("read").expect("present");
    let mut head: AuditHead =
        codec::decode(|| "audit head".into(), &read(keys::AUDIT_HEAD)).expect("head");
    let mut prev = if from == 1 {
        Hash::ZERO
    } else {
        let record: AuditRecord =
            codec::decode(|| "record".into(), &read(&keys::audit_record(from - 1)))
                .expect("record");
        record.hash
    };
    for index in from..=head.count {
        let key = keys::audit_record(index);
        let mut record: AuditRecord =
            codec::decode(|| "record".into(), &read(&key)).expect("record");
        if index == from {
            record.detail = "rewritten".to_owned();
        }
        record.prev_hash = prev;
        record.hash = chain_hash(&prev, &record);
        prev = record.hash;
        let value = codec::encode(|| "record".into(), &record).expect("encode");
        db.put_cf(&family, &key, value).expect("write record");
    }
    head.hash = prev;
    let value = codec::encode(|| "head".into(), &head).expect("encode");
    db.put_cf(&family, keys::AUDIT_HEAD, value)
        .expect("write head");
    db.flush_cf(&family).expect("flush");
}

#[test]
fn a_signing_key_inside_the_data_directory_stops_the_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("mkdir");
    let key = data_dir.join("audit.key");
    let made = warden(&[
        "audit".as_ref(),
        "keygen".as_ref(),
        "--out".as_ref(),
        key.as_os_str(),
    ]);
    assert!(made.status.success(), "{}", text(&made));
    let setting = format!("audit.signing_key_file={:?}", key.display().to_string());
    let served = std::process::Command::new(WARDEN)
        .args([
            "serve",
            "--node-id",
            "1",
            "--listen",
            "127.0.0.1:0",
            "--insecure",
            "--data-dir",
        ])
        .arg(&data_dir)
        .args(["--set", &setting])
        .output()
        .expect("run warden serve");
    assert_eq!(served.status.code(), Some(2), "{}", text(&served));
    assert!(
        text(&served).contains("audit.signing_key_file")
            && text(&served).contains("inside the data directory"),
        "{}",
        text(&served)
    );
}
