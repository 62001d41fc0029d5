//! The scripts people read: `examples/scripted-model.json` (what `warden dev
//! --with-examples` serves) and the sample in docs/scripted-model.md parse as scripts
//! with no problems, so neither drifts from the format.

use std::path::Path;

use warden_providers::scripted::Script;

fn repository(path: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|error| panic!("{}: {error}", file.display()))
}

fn parse(text: &str, from: &str) -> Script {
    let script: Script =
        serde_json::from_str(text).unwrap_or_else(|error| panic!("{from}: {error}"));
    let problems = script.problems();
    assert!(problems.is_empty(), "{from}: {problems:?}");
    script
}

#[test]
fn the_example_script_calls_the_ledger_then_answers() {
    let script = parse(
        &repository("examples/scripted-model.json"),
        "examples/scripted-model.json",
    );
    assert_eq!(script.steps.len(), 1);
    assert_eq!(script.steps[0].tool_calls[0].name, "ledger__put");
    assert!(!script.final_text.is_empty());
}

#[test]
fn the_documented_sample_is_a_valid_script() {
    let page = repository("docs/scripted-model.md");
    let sample = page
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a JSON sample in docs/scripted-model.md");
    let script = parse(sample, "docs/scripted-model.md");
    assert_eq!(script.faults.len(), 4, "the sample shows every fault kind");
}
