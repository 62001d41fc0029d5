//! Shared by the chaos test modules: where the `warden` binary is, and one fixed
//! scenario run with every invariant checked.

#![allow(dead_code)]

use std::path::PathBuf;

use warden_chaos_tests::faults::Fault;
use warden_chaos_tests::history::FinalState;
use warden_chaos_tests::run::{RunConfig, RunReport, run};
use warden_chaos_tests::summary::Summary;

/// `warden` is built beside the test binaries (scripts/test builds every binary first).
pub fn warden_exe() -> PathBuf {
    let test_exe = std::env::current_exe().expect("current exe");
    let debug_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let exe = debug_dir.join("warden");
    assert!(
        exe.exists(),
        "{} is missing: build the workspace's binaries first",
        exe.display()
    );
    exe
}

/// Runs `faults` against three voters and checks every invariant; returns the report and
/// the final state, read before the run's directory goes. With `WARDEN_CHAOS_KEEP` set,
/// the directory (history, final state, ledger, node logs) is kept and its path printed.
pub async fn scenario(seed: u64, faults: Vec<Fault>) -> (RunReport, FinalState) {
    let mut dir = tempfile::tempdir().expect("tempdir");
    if std::env::var_os("WARDEN_CHAOS_KEEP").is_some() {
        dir.disable_cleanup(true);
        println!("seed {seed}: the run is kept in {}", dir.path().display());
    }
    let config = RunConfig {
        seed,
        nodes: 3,
        clients: 3,
        faults,
        exe: warden_exe(),
        dir: dir.path().to_owned(),
    };
    let report = match run(config).await {
        Ok(report) => report,
        Err(error) => panic!("seed {seed}: the run failed: {error:#}"),
    };
    println!("{}", Summary::line(&report));
    let state = FinalState::read_json(&report.final_state).expect("final state");
    assert!(
        report.acknowledged > 0,
        "seed {seed}: nothing was acknowledged"
    );
    assert!(
        report.violations.is_empty(),
        "seed {seed}: {:#?}",
        report.violations
    );
    assert!(report.agent_tasks > 0, "seed {seed}: no agent task ran");
    (report, state)
}
