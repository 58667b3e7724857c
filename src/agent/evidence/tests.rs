//! Tests of the report builder and the test-count parsers.
use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::json;

use super::{Outcome, TAIL_BYTES, TestCounts, parse_tests, report, tail};
use crate::gates::{GateEngine, GateInput};

const CARGO_TWO_BINARIES: &str = "\
   Compiling baton v0.1.0 (/work/main)
Finished `test` profile [unoptimized + debuginfo] target(s) in 4.12s
 Running unittests src/lib.rs (target/debug/deps/baton-3f1c2a9d8e7b6a50)

running 13 tests
test gates::tests::guards_are_bools ... ok
test spec::amount::tests::parses_hbar ... ok
test plan::tests::slow_fuzz ... ignored
test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s

 Running tests/main.rs (target/debug/deps/integration-9a8b7c6d5e4f3a21)

running 4 tests
test cli::validate_ok ... ok
test cli::validate_bad ... ok
test cli::plan_prints_order ... ok
test cli::gate_test_all ... ok
test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.35s

   Doc-tests baton

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";

const CARGO_FAILED: &str = "\
running 5 tests
test spec::tests::parses ... ok
test spec::tests::rejects_cycles ... FAILED
test plan::tests::orders ... ok
test plan::tests::slow ... ignored
test plan::tests::ties ... FAILED

failures:

---- spec::tests::rejects_cycles stdout ----

thread 'spec::tests::rejects_cycles' panicked at src/spec/mod.rs:88:9:
assertion `left == right` failed
  left: 0
 right: 1

---- plan::tests::ties stdout ----

thread 'plan::tests::ties' panicked at src/plan/mod.rs:140:5:
ties are broken by id
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
plan::tests::ties
spec::tests::rejects_cycles

test result: FAILED. 2 passed; 2 failed; 1 ignored; 0 measured; 3 filtered out; finished in 0.02s

error: test failed, to rerun pass `--lib`
";

const NEXTEST: &str = "\
Finished `test` profile [unoptimized + debuginfo] target(s) in 0.09s
Starting 10 tests across 2 binaries (1 test skipped)
    PASS [   0.004s] baton spec::tests::parses
    PASS [   0.011s] baton gates::tests::guards_are_bools
    PASS [   0.120s] baton::integration cli::validate_ok
────────────
 Summary [   0.123s] 10 tests run: 10 passed, 1 skipped
";

const NEXTEST_FAILED: &str = "\
    FAIL [   0.006s] baton plan::tests::ties
 TIMEOUT [  60.002s] baton::integration cli::hangs
────────────
 Summary [  61.502s] 12/14 tests run: 8 passed (1 slow, 1 flaky), 2 failed (1 due to being leaky), \
1 exec failed, 1 timed out, 2 skipped
error: test run failed
";

const GO_VERBOSE: &str = "\
=== RUN   TestAdd
--- PASS: TestAdd (0.00s)
=== RUN   TestSplit
=== RUN   TestSplit/simple
=== RUN   TestSplit/empty
split_test.go:31: got [] want [\"\"]
=== RUN   TestSplit/unicode
split_test.go:40: not yet
--- FAIL: TestSplit (0.00s)
--- PASS: TestSplit/simple (0.00s)
--- FAIL: TestSplit/empty (0.00s)
--- SKIP: TestSplit/unicode (0.00s)
=== RUN   TestSlow
slow_test.go:12: skipping in short mode
--- SKIP: TestSlow (0.00s)
FAIL
FAIL\texample.com/strs\t0.004s
=== RUN   TestOther
--- PASS: TestOther (0.00s)
PASS
ok  \texample.com/other\t0.002s
FAIL
";

const GO_QUIET: &str = "ok  \texample.com/other\t0.002s\nFAIL\texample.com/strs\t0.004s\nFAIL\n";

const PYTEST_EVERY_KIND: &str = "\
============================= test session starts ==============================
platform linux -- Python 3.12.1, pytest-8.0.0, pluggy-1.4.0
rootdir: /work/app
collected 14 items / 2 deselected / 12 selected

tests/test_api.py ..F.sx                                                 [ 50%]
tests/test_db.py ...XsE                                                  [100%]

==================================== ERRORS ====================================
_______________________ ERROR at setup of test_migrate _________________________
E   sqlalchemy.exc.OperationalError: unable to open database file
=========================== short test summary info ============================
FAILED tests/test_api.py::test_create - assert 201 == 500
ERROR tests/test_db.py::test_migrate - sqlalchemy.exc.OperationalError
= 1 failed, 6 passed, 2 skipped, 2 deselected, 1 xfailed, 1 xpassed, 3 warnings, 1 error in 0.87s =
";

const CARGO_COLOURED: &str = "test result: \x1b[32mok\x1b[0m. 3 passed; 0 failed; 0 ignored; 0 measured; \
0 filtered out; finished in 0.00s\n";

const UNRELATED: &str = "\
   Compiling baton v0.1.0 (/work/main)
error[E0425]: cannot find value `x` in this scope
  --> src/lib.rs:3:5
All 5 passed in review; see the notes.
--- a/src/lib.rs
+++ b/src/lib.rs
error: could not compile `baton` (lib) due to 1 previous error
";

#[test]
fn parse_tests_reads_every_runner() {
    let mixed = format!("{CARGO_FAILED}....\n5 passed in 0.01s\n");
    let cases: &[(&str, &str, Option<TestCounts>)] = &[
        (
            "cargo, two binaries and doc-tests",
            CARGO_TWO_BINARIES,
            Some(TestCounts::new(16, 0, 1)),
        ),
        ("cargo, failed run", CARGO_FAILED, Some(TestCounts::new(2, 2, 1))),
        ("cargo, coloured", CARGO_COLOURED, Some(TestCounts::new(3, 0, 0))),
        ("nextest", NEXTEST, Some(TestCounts::new(10, 0, 1))),
        ("nextest, failed run", NEXTEST_FAILED, Some(TestCounts::new(8, 4, 2))),
        ("go -v with subtests", GO_VERBOSE, Some(TestCounts::new(3, 2, 2))),
        ("go without -v", GO_QUIET, None),
        ("pytest, every kind", PYTEST_EVERY_KIND, Some(TestCounts::new(7, 2, 3))),
        (
            "pytest, short form",
            "....\n5 passed in 0.01s\n",
            Some(TestCounts::new(5, 0, 0)),
        ),
        (
            "pytest, errors only",
            "=== 2 errors in 0.31s ===\n",
            Some(TestCounts::new(0, 2, 0)),
        ),
        (
            "pytest, long run",
            "===== 40 passed, 1 warning in 65.12s (0:01:05) =====\n",
            Some(TestCounts::new(40, 0, 0)),
        ),
        (
            "pytest, no tests ran",
            "==== no tests ran in 0.01s ====\n",
            Some(TestCounts::default()),
        ),
        ("cargo and pytest in one run", &mixed, Some(TestCounts::new(7, 2, 1))),
        ("unrelated text", UNRELATED, None),
        ("empty", "", None),
    ];
    for (name, input, expected) in cases {
        assert_eq!(parse_tests(input), *expected, "{name}");
    }
}

fn cargo_outcome(exit_code: i32, stdout: &str) -> Outcome {
    Outcome {
        exit_code: Some(exit_code),
        duration_ms: 4_321,
        stdout: stdout.to_string(),
        stderr: "   Compiling baton v0.1.0 (/work/main)\n".to_string(),
    }
}

#[test]
fn report_has_the_fields_the_gates_read() {
    let passing = cargo_outcome(0, CARGO_TWO_BINARIES);
    let expected = json!({
        "status": "completed",
        "exit_code": 0,
        "duration_ms": 4_321,
        "tests": {"passed": 16, "failed": 0, "ignored": 1, "total": 17},
        "output_tail": format!("{}{}", passing.stdout, passing.stderr),
    });
    assert_eq!(report(&passing), expected);

    let killed = Outcome {
        exit_code: None,
        duration_ms: 7,
        stdout: "partial".to_string(),
        stderr: "Killed".to_string(),
    };
    let expected = json!({
        "status": "failed",
        "error": "no exit code (the process was killed by a signal)",
        "exit_code": null,
        "duration_ms": 7,
        "output_tail": "partial\nKilled",
    });
    assert_eq!(report(&killed), expected);
}

#[test]
fn output_tail_is_cut_on_a_char_boundary() {
    // 1 + 2 * 3000 + 1 bytes: the cut at len - 4096 falls inside an `é`.
    let text = format!("x{}y", "é".repeat(3000));
    let cut = tail(&text, TAIL_BYTES);
    assert_eq!(
        (cut.len(), cut.starts_with('é'), cut.ends_with('y')),
        (TAIL_BYTES - 1, true, true)
    );
    assert_eq!(tail("short", TAIL_BYTES), "short");
}

#[test]
fn shipped_gates_judge_reports_of_cargo_runs() -> Result<(), Box<dyn std::error::Error>> {
    let engine = GateEngine::default();
    let gates = Path::new(env!("CARGO_MANIFEST_DIR")).join("gates");
    let passing = cargo_outcome(0, CARGO_TWO_BINARIES);
    let failing = cargo_outcome(101, CARGO_FAILED);
    let cases: &[(&str, &Outcome, &str, bool, &[&str])] = &[
        ("passing cargo run", &passing, "tests_pass", true, &[]),
        ("failing cargo run", &failing, "tests_pass", false, &["2 tests failed"]),
        ("passing cargo run", &passing, "result_completed", true, &[]),
        (
            "failing cargo run",
            &failing,
            "result_completed",
            false,
            &["status is \"failed\", not \"completed\": exit code 101"],
        ),
    ];
    for (name, outcome, gate, pass, reasons) in cases {
        let gate = engine.load(gate, &gates.join(format!("{gate}.rhai")))?;
        let input = GateInput {
            report: report(outcome),
            params: json!({}),
            ..GateInput::default()
        };
        let verdict = engine.evaluate(&gate, &input)?;
        let reasons: Vec<String> = reasons.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            (verdict.pass, verdict.reasons),
            (*pass, reasons),
            "{name}, {}",
            gate.name
        );
    }
    Ok(())
}
