//! Snapshots through the binary: a restart takes up the last snapshot and ends where folding the
//! whole log ends; a damaged snapshot, or one of another log, is said, set aside, and the log is
//! folded from its start.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const WORKFLOW: &str = "workflows/quality-pipeline.yaml";

fn state_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-snapshot-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn baton(args: &[&str], state: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .arg("--state")
        .arg(state)
        .env("NO_COLOR", "1")
        .output()
        .expect("baton starts");
    assert!(out.status.success(), "baton {args:?}: {}", text(&out));
    out
}

fn run(state: &Path, seed: &str) -> Output {
    let args = [
        "run",
        WORKFLOW,
        "--simulate",
        "--quiet",
        "--work-ms",
        "10",
        "--seed",
        seed,
        "--snapshot-every",
        "4",
    ];
    baton(&args, state)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `baton status` from the log alone, without the line of the run's own message count.
fn status(state: &Path) -> String {
    String::from_utf8_lossy(&baton(&["status", WORKFLOW], state).stdout).into_owned()
}

/// The table a run printed, as `baton status` prints it.
fn table(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter(|l| !l.contains("messages in the log"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn snapshot_file(state: &Path) -> PathBuf {
    state.join("snapshots").join("quality-pipeline.json")
}

#[test]
fn a_restart_takes_up_the_snapshot_and_ends_as_the_whole_log_does() {
    let state = state_dir("restart");
    run(&state, "3");
    assert!(snapshot_file(&state).is_file(), "a finished run leaves a snapshot");
    let again = run(&state, "3");
    let said = text(&again);
    assert!(said.contains("took up snapshot"), "{said}");
    assert!(said.contains("0 transfer(s)"), "nothing paid again: {said}");
    assert_eq!(table(&again), status(&state), "the restored run and the log agree");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn a_damaged_snapshot_is_set_aside_and_the_log_folded_from_its_start() {
    let state = state_dir("damaged");
    run(&state, "3");
    let file = snapshot_file(&state);
    let good = std::fs::read_to_string(&file).expect("the snapshot reads");
    let damaged = good.replacen("\"attempt\":1", "\"attempt\":2", 1);
    assert_ne!(damaged, good, "the state line names an attempt");
    std::fs::write(&file, damaged).expect("the snapshot is written");
    let again = run(&state, "3");
    let said = text(&again);
    assert!(said.contains("not used (its state does not match its hash)"), "{said}");
    assert!(said.contains("0 transfer(s)"), "{said}");
    assert_eq!(table(&again), status(&state));

    std::fs::write(&file, "{\"format\":1").expect("the snapshot is written");
    let said = text(&run(&state, "3"));
    assert!(said.contains("not used (it has no state line)"), "{said}");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn a_snapshot_of_another_log_is_set_aside() {
    let (first, second) = (state_dir("first"), state_dir("second"));
    run(&first, "3");
    run(&second, "4");
    std::fs::copy(snapshot_file(&first), snapshot_file(&second)).expect("the snapshot is copied");
    let again = run(&second, "4");
    let said = text(&again);
    assert!(said.contains("are not the ones it was taken of"), "{said}");
    assert!(said.contains("0 transfer(s)"), "{said}");
    assert_eq!(table(&again), status(&second));
    for dir in [first, second] {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
