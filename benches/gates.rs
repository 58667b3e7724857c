//! Gate evaluations per second for each shipped gate with a cached AST, and compile time per
//! gate, in release mode: `cargo bench --bench gates`. The baseline, run in the same process, is a
//! native Rust function doing the same check as `tests_pass` on the same JSON report, including
//! building its input the way the engine does (from `serde_json::Value`).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use baton::gates::{GateEngine, GateInput};
use serde_json::{Value, json};

const EVALS: u32 = 20_000;
const COMPILES: u32 = 200;

fn report() -> Value {
    json!({
        "status": "completed",
        "tests": {"passed": 120, "failed": 0, "races": 0},
        "fmt": {"unformatted": []},
        "vet": {"findings": []},
        "lint": {"findings": [{"severity": "info", "message": "consider `is_empty`"}]},
        "build": {"ok": true},
        "coverage": {"percent": 84.5},
        "bench": {"results": [{"name": "parse", "baseline_ns": 100.0, "current_ns": 102.0}]},
        "approved": true,
        "review": {"approved": true}
    })
}

fn input() -> GateInput {
    GateInput {
        task: json!({"id": "t1", "name": "t1", "attempt": 1, "max_attempts": 3, "reward": "10.00", "inputs": {}}),
        report: report(),
        params: json!({}),
        upstream: json!({}),
        festival: json!({"id": "bench", "variables": {}}),
    }
}

/// `tests_pass` in Rust: passed >= 1 and failed == 0, with reasons.
fn native_tests_pass(input: &GateInput) -> (bool, Vec<String>) {
    let tests = &input.report["tests"];
    let passed = tests["passed"].as_i64().unwrap_or(0);
    let failed = tests["failed"].as_i64().unwrap_or(0);
    let mut reasons = Vec::new();
    if passed < 1 {
        reasons.push(format!("only {passed} tests passed"));
    }
    if failed > 0 {
        reasons.push(format!("{failed} tests failed"));
    }
    (reasons.is_empty(), reasons)
}

fn per_call(total: Duration, n: u32) -> f64 {
    total.as_secs_f64() * 1e6 / f64::from(n)
}

fn main() {
    let engine = GateEngine::default();
    let input = input();
    let start = Instant::now();
    for _ in 0..EVALS {
        // Clone like the engine converts: the native check pays for its input too.
        black_box(native_tests_pass(black_box(&input.clone())));
    }
    let native = per_call(start.elapsed(), EVALS);
    println!(
        "baseline: native tests_pass {native:.3} us/eval ({:.0} evals/s)",
        1e6 / native
    );
    println!(
        "{:<22} {:>10} {:>12} {:>10} {:>12}",
        "gate", "us/eval", "evals/s", "x native", "compile us"
    );
    let names = baton::gates::names_in(Path::new("gates"));
    for name in names {
        let path = Path::new("gates").join(format!("{name}.rhai"));
        let source = std::fs::read_to_string(&path).unwrap_or_default();
        let start = Instant::now();
        for i in 0..COMPILES {
            // A different trailing comment each time, so the cache never hides the compile.
            black_box(engine.compile(&name, &path, &format!("{source}\n// {i}")).ok());
        }
        let compile = per_call(start.elapsed(), COMPILES);
        let Ok(gate) = engine.compile(&name, &path, &source) else {
            println!("{name:<22} does not compile");
            continue;
        };
        let start = Instant::now();
        for _ in 0..EVALS {
            black_box(engine.evaluate(&gate, black_box(&input)).ok());
        }
        let eval = per_call(start.elapsed(), EVALS);
        println!(
            "{name:<22} {eval:>10.2} {:>12.0} {:>10.1} {compile:>12.1}",
            1e6 / eval,
            eval / native
        );
    }
}
