//! Evidence: the report the reference agent daemon submits after running a task's command.
//!
//! [`report`] turns a finished command ([`Outcome`]) into the JSON object the quality gates see as
//! `report`. Its fields follow what the shipped gates in `gates/` read:
//!
//! - `status`: `"completed"` when the command exited with code 0, otherwise `"failed"`
//!   (read by `result_completed`).
//! - `error`: only when `status` is `"failed"`: `"exit code N"`, or a note that the process had
//!   no exit code (killed by a signal). `result_completed` quotes it in its reason.
//! - `exit_code`: the exit code, `null` when the process had none.
//! - `duration_ms`: how long the command ran, in milliseconds.
//! - `tests`: only when [`parse_tests`] recognised a test run in stdout or stderr:
//!   `{passed, failed, ignored, total}` (`tests_pass` reads `tests.passed` and `tests.failed`).
//!   Left out otherwise, so `tests_pass` fails with "no test results reported".
//! - `output_tail`: the last [`TAIL_BYTES`] bytes (at most) of stdout followed by stderr, cut on a
//!   char boundary.
//!
//! The report leaves out what an exit code and the output cannot tell reliably: `build`,
//! `coverage`, `fmt`, `lint`, `vet`, `bench`, `review` and `tests.races`. Gates that need those
//! fail with "... is missing" rather than pass on a guess.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// The most bytes of output that `output_tail` keeps.
pub const TAIL_BYTES: usize = 4096;

/// A finished command: how it ended and what it printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code; `None` when the process had none (killed by a signal).
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub stdout: String,
    pub stderr: String,
}

/// How many tests passed, failed and were skipped; `total` is their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    pub total: u64,
}

impl TestCounts {
    /// Counts with `total` = `passed` + `failed` + `ignored`.
    #[must_use]
    pub fn new(passed: u64, failed: u64, ignored: u64) -> Self {
        let total = passed.saturating_add(failed).saturating_add(ignored);
        Self {
            passed,
            failed,
            ignored,
            total,
        }
    }

    fn plus(self, other: Self) -> Self {
        Self::new(
            self.passed.saturating_add(other.passed),
            self.failed.saturating_add(other.failed),
            self.ignored.saturating_add(other.ignored),
        )
    }
}

/// The report for a finished command; the fields are listed in the module doc.
#[must_use]
pub fn report(outcome: &Outcome) -> Value {
    let output = combined(outcome);
    let completed = outcome.exit_code == Some(0);
    let mut fields = Map::new();
    let status = if completed { "completed" } else { "failed" };
    fields.insert("status".into(), Value::from(status));
    if !completed {
        fields.insert("error".into(), Value::from(failure(outcome.exit_code)));
    }
    fields.insert("exit_code".into(), outcome.exit_code.map_or(Value::Null, Value::from));
    fields.insert("duration_ms".into(), Value::from(outcome.duration_ms));
    if let Some(tests) = parse_tests(&output).and_then(|t| serde_json::to_value(t).ok()) {
        fields.insert("tests".into(), tests);
    }
    fields.insert("output_tail".into(), Value::from(tail(&output, TAIL_BYTES)));
    Value::Object(fields)
}

/// Why a command that did not exit with 0 failed.
fn failure(exit_code: Option<i32>) -> String {
    match exit_code {
        Some(code) => format!("exit code {code}"),
        None => "no exit code (the process was killed by a signal)".to_string(),
    }
}

/// Stdout then stderr, on separate lines.
fn combined(outcome: &Outcome) -> String {
    let mut text = String::with_capacity(outcome.stdout.len() + outcome.stderr.len() + 1);
    text.push_str(&outcome.stdout);
    if !text.is_empty() && !text.ends_with('\n') && !outcome.stderr.is_empty() {
        text.push('\n');
    }
    text.push_str(&outcome.stderr);
    text
}

/// The last `max` bytes of `text` or fewer, starting on a char boundary.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Test counts from a test runner's output, summed over every summary found; `None` when there is
/// none. Colour codes are ignored. Recognised, one line at a time:
///
/// - cargo test / libtest: `test result: ok. 12 passed; 0 failed; 1 ignored; ...` (or `FAILED.`),
///   one per test binary and doc-test run.
/// - cargo nextest: `Summary [   0.123s] 10 tests run: 9 passed (1 slow), 1 failed, 1 skipped`;
///   `exec failed` and `timed out` count as failed, `skipped` as ignored.
/// - go test -v: each `--- PASS:`, `--- FAIL:` and `--- SKIP:` line counts one test, subtests
///   included (a parent test and its subtests each count). The `ok`/`FAIL` package lines do not
///   count, so go without `-v` gives `None`.
/// - pytest: the final `=== 3 passed, 1 failed, 2 skipped in 0.12s ===` line, with or without the
///   `=`s. `xpassed` counts as passed, `error(s)` as failed, `skipped` and `xfailed` as ignored;
///   `deselected`, `warning(s)` and `rerun` are not tests that ran and are not counted.
///   `no tests ran in 0.01s` gives all zeros.
#[must_use]
pub fn parse_tests(output: &str) -> Option<TestCounts> {
    output
        .lines()
        .filter_map(|raw| summary(strip_ansi(raw).trim()))
        .reduce(TestCounts::plus)
}

/// The counts one line of output stands for, if it is one a test runner prints.
fn summary(line: &str) -> Option<TestCounts> {
    libtest(line)
        .or_else(|| nextest(line))
        .or_else(|| go_test(line))
        .or_else(|| pytest(line))
}

/// `test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s`
fn libtest(line: &str) -> Option<TestCounts> {
    let (status, counts) = line.strip_prefix("test result: ")?.split_once(". ")?;
    if status != "ok" && status != "FAILED" {
        return None;
    }
    let (mut passed, mut failed, mut ignored) = (None, 0, 0);
    for (n, what) in counts.split(';').filter_map(count_of) {
        match what {
            "passed" => passed = Some(n),
            "failed" => failed = n,
            "ignored" => ignored = n,
            _ => {}
        }
    }
    passed.map(|passed| TestCounts::new(passed, failed, ignored))
}

/// `Summary [   1.502s] 12/14 tests run: 8 passed (1 slow), 2 failed, 1 timed out, 2 skipped`
fn nextest(line: &str) -> Option<TestCounts> {
    let (_, rest) = line.strip_prefix("Summary [")?.split_once(']')?;
    let (run, counts) = rest.split_once(':')?;
    let run = run.trim();
    if !run.ends_with(" tests run") && !run.ends_with(" test run") {
        return None;
    }
    let counts = counts.split_once(';').map_or(counts, |(counts, _)| counts);
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    for (n, what) in without_parentheses(counts).split(',').filter_map(count_of) {
        let slot = match what {
            "passed" => &mut passed,
            "failed" | "exec failed" | "timed out" => &mut failed,
            "skipped" => &mut ignored,
            _ => continue,
        };
        *slot = slot.saturating_add(n);
    }
    Some(TestCounts::new(passed, failed, ignored))
}

/// `--- PASS: TestX (0.00s)`, `--- FAIL: TestX/sub (0.00s)`, `--- SKIP: TestY (0.00s)`
fn go_test(line: &str) -> Option<TestCounts> {
    let (verdict, _) = line.strip_prefix("--- ")?.split_once(": ")?;
    match verdict {
        "PASS" => Some(TestCounts::new(1, 0, 0)),
        "FAIL" => Some(TestCounts::new(0, 1, 0)),
        "SKIP" => Some(TestCounts::new(0, 0, 1)),
        _ => None,
    }
}

/// `==== 1 failed, 5 passed, 2 skipped, 1 xfailed, 3 warnings, 1 error in 0.87s ====`
fn pytest(line: &str) -> Option<TestCounts> {
    let (counts, duration) = line.trim_matches('=').trim().rsplit_once(" in ")?;
    if !is_duration(duration) {
        return None;
    }
    if counts == "no tests ran" {
        return Some(TestCounts::default());
    }
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    for segment in counts.split(", ") {
        let (n, what) = count_of(segment)?;
        let slot = match what {
            "passed" | "xpassed" => &mut passed,
            "failed" | "error" | "errors" => &mut failed,
            "skipped" | "xfailed" => &mut ignored,
            "deselected" | "warning" | "warnings" | "rerun" => continue,
            _ => return None,
        };
        *slot = slot.saturating_add(n);
    }
    Some(TestCounts::new(passed, failed, ignored))
}

/// Whether text starts with a duration in seconds such as `0.12s` (pytest may add ` (0:01:05)`).
fn is_duration(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or_default();
    first
        .strip_suffix('s')
        .is_some_and(|seconds| seconds.parse::<f64>().is_ok_and(f64::is_finite))
}

/// `12 passed` as `(12, "passed")`, `1 exec failed` as `(1, "exec failed")`.
fn count_of(segment: &str) -> Option<(u64, &str)> {
    let (n, what) = segment.trim().split_once(' ')?;
    Some((n.parse().ok()?, what.trim()))
}

/// The text with every `(...)` group removed.
fn without_parentheses(text: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The line without ANSI escape sequences (colours, cursor moves).
fn strip_ansi(line: &str) -> Cow<'_, str> {
    if !line.contains('\x1b') {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
        } else if chars.next_if_eq(&'[').is_some() {
            // A CSI sequence runs up to and including its final byte, `@` to `~`.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
