//! `baton gate test`: run one gate on a report, or every case file in `gates/tests/`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{FAILURE, INVALID, OK};
use crate::gates::{GateEngine, GateInput, cases};

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Run a gate on a report and print its verdict (exit 0 pass, 1 fail, 2 error), or with
    /// `--all` run every case in `gates/tests/*.yaml`.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// A gate name (`gates/NAME.rhai`) or a path to a `.rhai` file.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    gate: Option<String>,
    /// The agent's report: a JSON or YAML file.
    #[arg(long, required_unless_present = "all")]
    report: Option<PathBuf>,
    /// Parameters for this use of the gate, as JSON.
    #[arg(long)]
    params: Option<String>,
    /// Task fields over the default task (`{"attempt": 2}`), as JSON.
    #[arg(long)]
    task: Option<String>,
    /// Upstream verdicts and reports, as JSON.
    #[arg(long)]
    upstream: Option<String>,
    /// Run every case file in `DIR/tests/`.
    #[arg(long)]
    all: bool,
    /// The gates folder.
    #[arg(long, default_value = "gates")]
    dir: PathBuf,
}

pub(super) fn run(command: &GateCommand) -> u8 {
    let GateCommand::Test(args) = command;
    let engine = GateEngine::default();
    if args.all {
        return run_all(&engine, &args.dir);
    }
    match run_one(&engine, args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            FAILURE
        }
    }
}

fn json_arg(name: &str, text: Option<&String>) -> Result<Option<Value>, String> {
    text.map(|t| serde_json::from_str(t).map_err(|e| format!("--{name} is not JSON: {e}")))
        .transpose()
}

fn run_one(engine: &GateEngine, args: &TestArgs) -> Result<u8, String> {
    let name = args.gate.clone().unwrap_or_default();
    let path = if Path::new(&name).extension().is_some_and(|e| e == "rhai") {
        PathBuf::from(&name)
    } else {
        args.dir.join(format!("{name}.rhai"))
    };
    let gate_name = path
        .file_stem()
        .map_or(name.clone(), |s| s.to_string_lossy().into_owned());
    let gate = engine.load(&gate_name, &path).map_err(|e| e.to_string())?;
    let report = crate::spec::yaml::read_json(args.report.as_deref().unwrap_or(Path::new("")))
        .map_err(|e| format!("report {e}"))?;
    let input = GateInput {
        task: cases::merged(cases::default_task(), json_arg("task", args.task.as_ref())?.as_ref()),
        report,
        params: json_arg("params", args.params.as_ref())?.unwrap_or_else(|| json!({})),
        upstream: json_arg("upstream", args.upstream.as_ref())?.unwrap_or_else(|| json!({})),
        festival: json!({"id": "gate-test", "variables": {}}),
    };
    let verdict = engine.evaluate(&gate, &input).map_err(|e| e.to_string())?;
    let short = verdict.script_hash.get(..12).unwrap_or(&verdict.script_hash);
    let score = verdict.score.map(|s| format!(", score {s}")).unwrap_or_default();
    println!(
        "gate `{}`: {}{score} (script sha256 {short})",
        verdict.gate,
        if verdict.pass { "pass" } else { "fail" }
    );
    for reason in &verdict.reasons {
        println!("  - {reason}");
    }
    Ok(if verdict.pass { OK } else { INVALID })
}

fn run_all(engine: &GateEngine, dir: &Path) -> u8 {
    let tests = dir.join("tests");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&tests) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", tests.display());
            return FAILURE;
        }
    };
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    files.sort();
    let (mut passed, mut failed, mut broken) = (0usize, 0usize, 0usize);
    for file in &files {
        let outcomes = cases::read(file).and_then(|cases| cases::run(engine, &cases, dir));
        match outcomes {
            Err(message) => {
                eprintln!("error: {message}");
                broken += 1;
            }
            Ok(outcomes) => {
                for o in outcomes {
                    match &o.failure {
                        None => passed += 1,
                        Some(why) => {
                            failed += 1;
                            println!("FAILED {} / {}: {why}", o.gate, o.case);
                        }
                    }
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if broken > 0 {
        FAILURE
    } else if failed > 0 {
        INVALID
    } else {
        OK
    }
}
