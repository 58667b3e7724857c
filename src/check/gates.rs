//! Gate names to script files: every gate a task or transition uses must exist.
//!
//! A name ending in `.rhai` is a path relative to the workflow file. Any other name is looked up as
//! `NAME.rhai` in `gates_dir:` when the workflow sets one, else in `gates/` beside the workflow file
//! and then in `../gates/` (so that `workflows/x.yaml` finds the project's `gates/`).

use std::path::{Path, PathBuf};

use crate::diagnostics::{Code, Diagnostic};
use crate::spec::{GateUse, Lifecycle, TransitionGates, Workflow};

fn search_dirs(workflow: &Workflow, base: &Path) -> Vec<PathBuf> {
    match &workflow.gates_dir {
        Some(dir) => vec![base.join(&dir.value)],
        None => vec![base.join("gates"), base.join("..").join("gates")],
    }
}

fn locate(name: &str, dirs: &[PathBuf], base: &Path) -> Option<PathBuf> {
    if Path::new(name).extension().is_some_and(|e| e == "rhai") {
        let path = base.join(name);
        return path.is_file().then_some(path);
    }
    dirs.iter()
        .map(|d| d.join(format!("{name}.rhai")))
        .find(|p| p.is_file())
}

fn available(dirs: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = dirs.iter().flat_map(|d| crate::gates::names_in(d)).collect();
    names.sort();
    names.dedup();
    names
}

/// Resolves every gate use; reports the missing ones. Returns `(name, file)` pairs, each once.
pub(super) fn resolve(
    workflow: &Workflow,
    lifecycles: &[Lifecycle],
    base: &Path,
    out: &mut Vec<Diagnostic>,
) -> Vec<(String, PathBuf)> {
    let dirs = search_dirs(workflow, base);
    let task_uses = workflow.tasks.iter().flat_map(|t| t.gates.iter());
    let transition_uses = lifecycles
        .iter()
        .flat_map(|l| l.transitions.iter())
        .flat_map(|t| match &t.gates {
            TransitionGates::Listed(uses) => uses.as_slice(),
            _ => &[],
        });
    let mut resolved: Vec<(String, PathBuf)> = Vec::new();
    let mut names: Option<Vec<String>> = None;
    for gate in task_uses.chain(transition_uses) {
        if resolved.iter().any(|(n, _)| *n == gate.name.value) {
            continue;
        }
        match locate(&gate.name.value, &dirs, base) {
            Some(path) => resolved.push((gate.name.value.clone(), path)),
            None => out.push(missing(gate, &dirs, names.get_or_insert_with(|| available(&dirs)))),
        }
    }
    resolved
}

fn missing(gate: &GateUse, dirs: &[PathBuf], names: &[String]) -> Diagnostic {
    let looked: Vec<String> = dirs.iter().map(|d| format!("`{}`", d.display())).collect();
    let hint = match super::refs::closest(&gate.name.value, names.iter().map(String::as_str)) {
        Some(near) => format!("did you mean `{near}`?"),
        None if names.is_empty() => format!("no gate scripts found in {}", looked.join(" or ")),
        None => format!("available gates: {}", names.join(", ")),
    };
    Diagnostic::new(
        Code::MissingGate,
        format!(
            "gate `{}` has no script: looked for `{}.rhai` in {}",
            gate.name.value,
            gate.name.value,
            looked.join(" and ")
        ),
    )
    .at(gate.name.span)
    .with_hint(hint)
}
