//! Hostile scripts fail cleanly and by name; verdicts are deterministic; guards are bools.

use std::path::Path;
use std::time::Instant;

use pretty_assertions::assert_eq;
use serde_json::json;

use super::{GateEngine, GateError, GateInput};

fn input(report: serde_json::Value) -> GateInput {
    GateInput {
        task: json!({"id": "t1", "name": "t1", "attempt": 1, "max_attempts": 3, "reward": "10.00", "inputs": {}}),
        report,
        params: json!({}),
        upstream: json!({}),
        festival: json!({"id": "f", "variables": {}}),
    }
}

fn run(source: &str) -> Result<super::Verdict, GateError> {
    let engine = GateEngine::default();
    let gate = engine.compile("hostile", Path::new("gates/hostile.rhai"), source)?;
    engine.evaluate(&gate, &input(json!({})))
}

#[test]
fn hostile_scripts_fail_cleanly_with_their_name() {
    let cases: &[(&str, &str, &str)] = &[
        ("infinite loop", "loop { }", "limit on operations"),
        ("unbounded recursion", "fn f(x) { f(x + 1) } f(0)", "call depth"),
        (
            "string grown without bound",
            "let s = \"x\"; loop { s += s; }",
            "limit on",
        ),
        ("array grown without bound", "let a = [1]; loop { a += a; }", "limit on"),
        ("throws", "throw \"no evidence\";", "threw: no evidence"),
        ("returns a string", "\"passed\"", "returned a string"),
        ("returns nothing", "let x = 1;", "returned nothing"),
        ("map without pass", "#{reasons: []}", "without a bool `pass`"),
    ];
    for (name, source, expected) in cases {
        let started = Instant::now();
        let error = run(source).expect_err(name);
        let text = error.to_string();
        assert!(text.contains("gate `hostile`"), "{name}: {text}");
        assert!(text.contains(expected), "{name}: expected `{expected}` in: {text}");
        // Not a timing assertion: a sanity bound far above any real limit, against a hang.
        assert!(started.elapsed().as_secs() < 30, "{name} ran too long");
    }
}

#[test]
fn runtime_errors_carry_the_place() {
    let error = run("let x = 1;\nlet y = x / 0;\ny").expect_err("division by zero");
    assert!(error.to_string().contains("gates/hostile.rhai:2:"), "{error}");
}

#[test]
fn syntax_errors_and_unknown_variables_do_not_compile() {
    let engine = GateEngine::default();
    for source in ["let = 1;", "reprot.tests", "eval(\"1\")"] {
        let error = engine
            .compile("bad", Path::new("gates/bad.rhai"), source)
            .expect_err(source);
        assert!(matches!(error, GateError::Syntax { .. }), "{source}: {error}");
    }
}

#[test]
fn require_collects_every_failed_requirement() {
    let verdict = run("require(false, \"a\"); require(true, \"b\"); require(false, \"c\"); verdict()").expect("runs");
    assert!(!verdict.pass);
    assert_eq!(verdict.reasons, vec!["a".to_string(), "c".to_string()]);
    let verdict = run("require(false, \"a\"); #{pass: true, reasons: [], score: 3}").expect("runs");
    assert!(!verdict.pass, "a failed requirement cannot be overridden");
    assert_eq!(verdict.score, Some(3.0));
}

#[test]
fn the_same_input_gives_the_same_verdict() {
    let engine = GateEngine::default();
    let source = "let n = report.tests?.passed ?? 0; require(n > 0, `${n} tests passed`); verdict()";
    let gate = engine
        .compile("determinism", Path::new("gates/determinism.rhai"), source)
        .expect("compiles");
    let first = engine
        .evaluate(&gate, &input(json!({"tests": {"passed": 0}})))
        .expect("runs");
    for _ in 0..500 {
        assert_eq!(
            engine
                .evaluate(&gate, &input(json!({"tests": {"passed": 0}})))
                .expect("runs"),
            first
        );
    }
    assert_eq!(first.script_hash, super::script_hash(source));
}

#[test]
fn guards_are_bools_over_the_same_values() {
    let engine = GateEngine::default();
    let guard = engine
        .compile_guard("task.attempt < task.max_attempts")
        .expect("compiles");
    assert_eq!(engine.check_guard(&guard, &input(json!({}))), Ok(true));
    let not_bool = engine.compile_guard("task.attempt").expect("compiles");
    assert!(engine.check_guard(&not_bool, &input(json!({}))).is_err());
    let (place, reason) = engine.compile_guard("task.attempt <").expect_err("incomplete");
    assert!(place.is_some() && !reason.is_empty());
}

/// Regression: inputs declared as constants at compile time were folded into the script as `()`.
#[test]
fn inputs_are_not_folded_at_compile_time() {
    let engine = GateEngine::default();
    let source = "require(type_of(params) == \"map\", \"params is not a map\"); require(\"min\" in params, \"no min\"); verdict()";
    let gate = engine
        .compile("fold", Path::new("gates/fold.rhai"), source)
        .expect("compiles");
    let mut with_params = input(json!({}));
    with_params.params = json!({"min": 1});
    let verdict = engine.evaluate(&gate, &with_params).expect("runs");
    assert!(verdict.pass, "{:?}", verdict.reasons);
}
