//! From a path on the command line to a checked festival: a workflow file, or a Festival
//! Methodology directory read as a plan with the standard lifecycle and no agents.

use std::path::{Path, PathBuf};

use crate::check::{self, Festival};
use crate::diagnostics::{Code, Diagnostic, Sources, Span, sort};
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
    let (workflow, diagnostics) = if path.is_dir() {
        (Some(directory_workflow(path)), Vec::new())
    } else {
        spec::load_workflow(&mut sources, path, env)?
    };
    Ok(finish(sources, workflow, diagnostics, env))
}

/// Loads and checks workflow text that is not (or not only) on disk, as if read from `path`.
#[must_use]
pub fn load_text(path: &Path, text: String, env: &dyn Env) -> Loaded {
    let mut sources = Sources::new();
    let file = sources.add(path, text);
    let (workflow, diagnostics) = spec::workflow_from_source(&sources, file, env);
    finish(sources, workflow, diagnostics, env)
}

fn finish(mut sources: Sources, workflow: Option<Workflow>, mut diagnostics: Vec<Diagnostic>, env: &dyn Env) -> Loaded {
    let festival = match workflow {
        Some(workflow) => {
            let workflow = with_festival_tasks(&mut sources, workflow, &mut diagnostics);
            let (festival, more) = check::compile(&mut sources, workflow, env);
            diagnostics.extend(more);
            festival
        }
        None => None,
    };
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
