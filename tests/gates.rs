//! Every shipped gate, table-driven from its case file in `gates/tests/`: each has a passing case
//! and failing cases, and every case gives the verdict it expects.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use baton::gates::{GateEngine, cases};

fn shipped_gates() -> Vec<String> {
    baton::gates::names_in(Path::new("gates"))
}

#[test]
fn every_shipped_gate_passes_its_cases() {
    let engine = GateEngine::default();
    let gates = shipped_gates();
    assert!(gates.len() >= 9, "expected the shipped gate library, found {gates:?}");
    for gate in gates {
        let path: PathBuf = Path::new("gates/tests").join(format!("{gate}.yaml"));
        let file = cases::read(&path).unwrap_or_else(|e| panic!("gate `{gate}` has no readable cases: {e}"));
        assert_eq!(file.gate, gate, "{}", path.display());
        assert!(
            file.cases.iter().any(|c| c.expect.pass),
            "gate `{gate}` has no passing case"
        );
        assert!(
            file.cases.iter().any(|c| !c.expect.pass),
            "gate `{gate}` has no failing case"
        );
        let outcomes = cases::run(&engine, &file, Path::new("gates")).unwrap_or_else(|e| panic!("{e}"));
        let failures: Vec<String> = outcomes
            .iter()
            .filter_map(|o| o.failure.as_ref().map(|f| format!("{}: {f}", o.case)))
            .collect();
        assert!(failures.is_empty(), "gate `{gate}`:\n{}", failures.join("\n"));
    }
}

#[test]
fn gate_test_cli_exit_codes() {
    let dir = std::env::temp_dir().join(format!("baton-gate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let pass = dir.join("pass.json");
    let fail = dir.join("fail.json");
    std::fs::write(&pass, r#"{"tests": {"passed": 3, "failed": 0}}"#).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&fail, r#"{"tests": {"passed": 3, "failed": 2}}"#).unwrap_or_else(|e| panic!("{e}"));
    let baton = || Command::cargo_bin("baton").unwrap_or_else(|e| panic!("{e}"));
    baton()
        .args(["gate", "test", "tests_pass", "--report"])
        .arg(&pass)
        .assert()
        .code(0);
    let out = baton()
        .args(["gate", "test", "tests_pass", "--report"])
        .arg(&fail)
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("2 tests failed"));
    baton()
        .args(["gate", "test", "no_such_gate", "--report"])
        .arg(&pass)
        .assert()
        .code(2);
    baton()
        .args(["gate", "test", "tests_pass", "--params", "{not json", "--report"])
        .arg(&pass)
        .assert()
        .code(2);
    let all = baton().args(["gate", "test", "--all"]).assert().code(0);
    let stdout = String::from_utf8_lossy(&all.get_output().stdout).into_owned();
    assert!(stdout.trim_end().ends_with(" passed, 0 failed"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
