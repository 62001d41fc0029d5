//! The main job end to end: `warden demo` runs a 6-step tool-calling task on a 3-node
//! cluster, SIGKILLs the node running it after step 3, and must see it resume on
//! another node, complete, run every finished step exactly once according to the tool
//! server's own ledger, and leave one verified audit chain on every node. The demo
//! checks all of that itself and exits non-zero when any of it fails; this test also
//! reads the journal the demo printed.

use crate::common::WARDEN;

#[tokio::test]
async fn a_task_survives_the_death_of_its_node() {
    let tools = std::path::Path::new(WARDEN).with_file_name("warden-ledger-tools");
    assert!(
        tools.exists(),
        "{} is missing: build the workspace's binaries first (scripts/test does)",
        tools.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let output = tokio::process::Command::new(WARDEN)
        .args(["demo", "--data-dir"])
        .arg(dir.path().join("demo"))
        // The demo must use its scripted model here, whatever the environment says.
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OLLAMA_HOST")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run warden demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The journal shows a second epoch that took over and finished the task.
    let journal: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains(" epoch "))
        .collect();
    assert!(
        journal
            .iter()
            .any(|line| line.contains("epoch 2") && line.contains("assigned")),
        "no takeover in:\n{stdout}"
    );
    assert!(
        journal
            .last()
            .is_some_and(|line| line.contains("completed")),
        "not completed:\n{stdout}"
    );
    for step in 1..=6 {
        assert!(
            stdout.contains(&format!("step-{step}: ")),
            "step {step} missing from the ledger check"
        );
    }
    assert!(stdout.contains("resumed"), "no resume time printed");
}
