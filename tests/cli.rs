//! The `baton` binary: exit codes, formats, colour.

use assert_cmd::Command;

fn baton() -> Command {
    let mut cmd = Command::cargo_bin("baton").unwrap_or_else(|e| panic!("{e}"));
    cmd.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&cmd.output().unwrap_or_else(|e| panic!("{e}")).stdout).into_owned()
}

#[test]
fn validate_exit_codes() {
    baton()
        .args(["validate", "workflows/hedera-foundation.yaml"])
        .assert()
        .code(0);
    baton()
        .args(["validate", "tests/data/invalid/cycle.yaml"])
        .assert()
        .code(1);
    baton()
        .args(["validate", "tests/data/does-not-exist.yaml"])
        .assert()
        .code(2);
    baton().args(["validate"]).assert().code(2);
    baton().args(["frobnicate"]).assert().code(2);
}

#[test]
fn validate_json_is_one_array_with_places() {
    let out = stdout(baton().args(["validate", "--format", "json", "tests/data/invalid/cycle.yaml"]));
    let items: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let first = &items[0];
    assert_eq!(first["code"], "E0208");
    assert_eq!(first["severity"], "error");
    assert!(first["line"].as_u64().is_some_and(|l| l > 1), "{first}");
    assert!(first["file"].as_str().is_some_and(|f| f.ends_with("cycle.yaml")));
}

#[test]
fn colour_only_when_asked() {
    let plain = baton()
        .args(["validate", "tests/data/invalid/cycle.yaml"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!String::from_utf8_lossy(&plain.stderr).contains('\u{1b}'));
    let coloured = baton()
        .args(["--color", "always", "validate", "tests/data/invalid/cycle.yaml"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&coloured.stderr).contains('\u{1b}'));
}

#[test]
fn plan_formats() {
    let text = stdout(baton().args(["plan", "workflows/quality-pipeline.yaml"]));
    assert!(text.contains("wave 1") && text.contains("critical path"), "{text}");
    let json = stdout(baton().args(["plan", "--format", "json", "workflows/quality-pipeline.yaml"]));
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    let task = &plan["tasks"][0];
    for key in ["id", "wave", "depends_on", "status", "gate"] {
        assert!(task.get(key).is_some(), "task lacks `{key}`: {task}");
    }
    assert!(
        stdout(baton().args(["plan", "--format", "dot", "workflows/quality-pipeline.yaml"])).starts_with("digraph")
    );
    assert!(
        stdout(baton().args(["plan", "--format", "mermaid", "workflows/quality-pipeline.yaml"]))
            .starts_with("flowchart")
    );
    baton().args(["plan", "tests/data/invalid/cycle.yaml"]).assert().code(1);
}

#[test]
fn schema_prints_valid_json() {
    for which in ["workflow", "lifecycle"] {
        let out = stdout(baton().args(["schema", which]));
        let schema: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    }
}
