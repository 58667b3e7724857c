//! Golden tests: every input under `tests/data/invalid/` (a `.yaml` workflow or a festival
//! directory) beside `NAME.expected`, the diagnostics rendered as a person sees them.
//! `UPDATE_GOLDEN=1 cargo test` rewrites the expectations; review the diff before committing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baton::diagnostics::{render_human, tally};
use baton::load::load;
use pretty_assertions::assert_eq;

const DIR: &str = "tests/data/invalid";

/// The environment golden inputs see: fixed, so expectations never depend on the machine.
fn env() -> BTreeMap<String, String> {
    [("BATON_TEST_ACCOUNT".to_string(), "0.0.1001".to_string())].into()
}

fn inputs() -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(DIR)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    inputs.retain(|p| p.is_dir() || p.extension().is_some_and(|e| e == "yaml"));
    inputs.sort();
    inputs
}

fn rendered(path: &Path) -> String {
    match load(path, &env()) {
        Ok(loaded) => {
            let (errors, warnings) = tally(&loaded.diagnostics);
            let verdict = if loaded.festival.is_some() { "valid" } else { "invalid" };
            format!(
                "{}{verdict}: {errors} error(s), {warnings} warning(s)\n",
                render_human(&loaded.sources, &loaded.diagnostics, false)
            )
        }
        Err(e) => format!("read error: {e}\n"),
    }
}

#[test]
fn invalid_inputs_render_their_expected_diagnostics() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let inputs = inputs();
    assert!(
        inputs.len() >= 30,
        "expected at least 30 golden inputs, found {}",
        inputs.len()
    );
    for input in inputs {
        let got = rendered(&input);
        let expected_path = input.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &got).unwrap_or_else(|e| panic!("writing {}: {e}", expected_path.display()));
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!(
                "{} has no {}; run with UPDATE_GOLDEN=1",
                input.display(),
                expected_path.display()
            )
        });
        assert_eq!(got, expected, "diagnostics of {}", input.display());
        assert!(
            got.contains("invalid:") || got.contains("warning["),
            "{} should fail or warn",
            input.display()
        );
    }
}
