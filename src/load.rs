//! From a path on the command line to a checked festival: a workflow file, or a Festival
//! Methodology directory read as a plan with the standard lifecycle and no agents.

use std::path::{Path, PathBuf};

use crate::check::{self, Festival};
use crate::diagnostics::{Code, Diagnostic, FileId, Sources, Span, sort};
use crate::spec::{self, Env, LifecycleRef, Payment, Spanned, Topics, Workflow};

/// What loading and checking produced: the sources (for rendering), the festival when it is
/// valid, and every diagnostic, sorted by place.
pub struct Loaded {
    pub sources: Sources,
    pub festival: Option<Festival>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads and checks a workflow file or festival directory. Errs only when `path` cannot be read.
pub fn load(path: &Path, env: &dyn Env) -> Result<Loaded, spec::ReadError> {
    let mut sources = Sources::new();
    if path.is_dir() {
        return Ok(finish(sources, Some(directory_workflow(path)), Vec::new(), env));
    }
    let file = spec::read(&mut sources, path)?;
    Ok(load_source(sources, file, env))
}

/// Loads and checks workflow text that is not (or not only) on disk, as if read from `path`.
#[must_use]
pub fn load_text(path: &Path, text: String, env: &dyn Env) -> Loaded {
    let mut sources = Sources::new();
    let file = sources.add(path, text);
    load_source(sources, file, env)
}

/// Loads and checks the workflow file `file` of `sources`: syntax, the schema, types, then
/// what [`finish`] checks. The schema is checked on a thread of its own
/// while the workflow is built and compiled as if it held, which for a large workflow saves most
/// of the schema's time. Where the schema finds an error, what was built is dropped with what
/// compiling it found, and the schema's diagnostics are said alone, as when nothing is built.
fn load_source(mut sources: Sources, file: FileId, env: &dyn Env) -> Loaded {
    let (root, mut diagnostics) = spec::parse_workflow(&sources, file, env);
    let Some(root) = root else {
        return finish(sources, None, diagnostics, env);
    };
    let validate = || spec::schema::validate_keeping(spec::schema::Kind::Workflow, &root);
    let (schema, compiled) = std::thread::scope(|scope| {
        let checking = std::thread::Builder::new()
            .name("baton-schema".into())
            .spawn_scoped(scope, validate);
        let workflow = spec::build_workflow(&sources, file, &root);
        let compiled = compile(&mut sources, workflow, env);
        let schema = match checking {
            Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: the schema is checked here.
            Err(_) => validate(),
        };
        (schema, compiled)
    });
    // The document's tree, and its JSON that the schema checked, are freed on a thread of their
    // own: on a large workflow that takes milliseconds the caller would otherwise wait for.
    // Without a thread, the closure that holds them frees them here.
    let (schema, json) = schema;
    let _ = std::thread::Builder::new()
        .name("baton-free".into())
        .spawn(move || drop((root, json)));
    diagnostics.extend(schema);
    let festival = if diagnostics.iter().any(Diagnostic::is_error) {
        None
    } else {
        let (festival, more) = compiled;
        diagnostics.extend(more);
        festival
    };
    checked(sources, festival, diagnostics)
}

fn finish(mut sources: Sources, workflow: Option<Workflow>, mut diagnostics: Vec<Diagnostic>, env: &dyn Env) -> Loaded {
    let festival = match workflow {
        Some(workflow) => {
            let (festival, more) = compile(&mut sources, workflow, env);
            diagnostics.extend(more);
            festival
        }
        None => None,
    };
    checked(sources, festival, diagnostics)
}

/// The festival of `workflow` with what compiling it (and reading its festival directory) found.
fn compile(sources: &mut Sources, workflow: Workflow, env: &dyn Env) -> (Option<Festival>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let workflow = with_festival_tasks(sources, workflow, &mut diagnostics);
    let (festival, more) = check::compile(sources, workflow, env);
    diagnostics.extend(more);
    (festival, diagnostics)
}

fn checked(sources: Sources, festival: Option<Festival>, mut diagnostics: Vec<Diagnostic>) -> Loaded {
    sort(&mut diagnostics);
    // Problems found before compiling (in a festival directory, say) make the festival invalid too.
    let festival = festival.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Loaded {
        sources,
        festival,
        diagnostics,
    }
}

/// A workflow whose tasks are the directory's, resolved relative to the directory itself.
fn directory_workflow(dir: &Path) -> Workflow {
    let name = dir
        .file_name()
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    let span = Span::default();
    Workflow {
        file: 0,
        path: dir.join("fest.yaml"),
        id: Spanned::new(name.clone(), span),
        name,
        agents: Vec::new(),
        approvers: Vec::new(),
        tasks: Vec::new(),
        festival_dir: Some(Spanned::new(PathBuf::from("."), span)),
        payment: Payment {
            token: None,
            decimals: spec::DEFAULT_DECIMALS,
            budget: None,
        },
        topics: Topics::default(),
        lifecycle: LifecycleRef::Named(Spanned::new(spec::STANDARD_NAME.to_string(), span)),
        lifecycles: Vec::new(),
        gates_dir: None,
        max_parallel: None,
        variables: Vec::new(),
    }
}

/// Reads the festival directory a workflow takes its tasks from, if it names one.
fn with_festival_tasks(sources: &mut Sources, mut workflow: Workflow, out: &mut Vec<Diagnostic>) -> Workflow {
    let Some(dir) = workflow.festival_dir.clone() else {
        return workflow;
    };
    let base = workflow
        .path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let path = if dir.value == Path::new(".") {
        base
    } else {
        base.join(&dir.value)
    };
    match crate::festival_dir::read(sources, &path) {
        Ok((festival, diagnostics)) => {
            out.extend(diagnostics);
            if dir.span == Span::default() {
                workflow.id.value = festival.id;
                workflow.name = festival.name;
            }
            workflow.tasks = festival.tasks;
        }
        Err(e) => out.push(
            Diagnostic::new(Code::Io, format!("cannot read festival directory: {e}"))
                .at_opt((dir.span != Span::default()).then_some(dir.span)),
        ),
    }
    workflow
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const HEAD: &str = "version: 1\nfestival:\n  id: f\nagents:\n  - id: a\n    account: 0.0.1001\ntasks:\n";

    fn loaded(text: &str) -> (bool, Vec<Code>) {
        let loaded = load_text(
            Path::new("w.yaml"),
            text.to_string(),
            &BTreeMap::<String, String>::new(),
        );
        let codes = loaded.diagnostics.iter().map(|d| d.code).collect();
        (loaded.festival.is_some(), codes)
    }

    #[test]
    fn where_the_schema_fails_only_the_schema_is_said() {
        // `reward` has the wrong type, and `t2` depends on a task that does not exist.
        let text = format!("{HEAD}  - id: t1\n    reward: [1]\n  - id: t2\n    reward: 1\n    depends_on: [nowhere]\n");
        let (valid, codes) = loaded(&text);
        assert!(!valid);
        assert!(!codes.is_empty());
        assert!(codes.iter().all(|c| c.number() / 100 == 1), "{codes:?}");
    }

    #[test]
    fn where_the_schema_holds_what_compiling_finds_is_said() {
        let text = format!("{HEAD}  - id: t2\n    reward: 1\n    depends_on: [nowhere]\n");
        let (valid, codes) = loaded(&text);
        assert!(!valid);
        assert_eq!(codes, vec![Code::UnknownTask]);
        let text = format!("{HEAD}  - id: t1\n    reward: 1\n");
        assert_eq!(loaded(&text), (true, Vec::new()));
    }
}
