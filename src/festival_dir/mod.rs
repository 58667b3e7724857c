//! Reads a Festival Methodology directory (numbered phases, sequences and task files, with YAML
//! front matter and a `.fest/progress_events.jsonl` status log) into the workflow's [`Task`]s.
//!
//! Identity and order come from paths and numeric prefixes, never from `fest_id`/`fest_order`.
//! The reader is lenient: unknown keys and values are ignored and broken files are diagnostics.
//! It never writes to the directory, never judges the task graph (that is `check`), and never
//! panics; only an unreadable festival directory is an `Err`.

mod frontmatter;
mod layout;
mod progress;
mod refs;
mod task_file;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::Path;

use crate::diagnostics::{Code, Diagnostic, FileId, Sources};
use crate::spec::yaml::{self, Node};
use crate::spec::{DEFAULT_MAX_ATTEMPTS, Progress, ReadError, Spanned, Task};
use layout::Layout;
use refs::{Place, Scope};
use task_file::TaskFile;

/// A festival directory, read.
#[derive(Debug, Clone)]
pub struct FestivalDir {
    /// `fest.yaml` `metadata.id` if present, else the directory name.
    pub id: String,
    /// `fest.yaml` `metadata.name` if present, else the directory name.
    pub name: String,
    /// In phase, sequence and step order (numeric prefix, then name).
    pub tasks: Vec<Task>,
}

/// Reads a festival directory. Never panics; an unreadable directory is an error (Err), everything
/// else is diagnostics. Files read are added to `sources` so diagnostics can point into them.
///
/// # Errors
///
/// When the directory itself cannot be listed (missing, not a directory, no permission).
pub fn read(sources: &mut Sources, dir: &Path) -> Result<(FestivalDir, Vec<Diagnostic>), ReadError> {
    let mut diagnostics = Vec::new();
    let layout = layout::scan(dir, &mut diagnostics)?;
    let (id, name) = identity(sources, dir, &mut diagnostics);
    let files = load(sources, &layout, &mut diagnostics);
    if files.is_empty() && !layout.has_workflow_phase() {
        diagnostics.push(
            Diagnostic::new(Code::NotAFestival, format!("`{}` holds no festival phases, sequences or tasks", dir.display()))
                .with_hint("a festival has numbered phase folders (`001_BUILD/`) holding numbered sequence folders (`01_setup/`) of numbered task files (`01_design.md`)"),
        );
    }
    let known: BTreeSet<String> = files.iter().map(|f| f.id.clone()).collect();
    let log = progress::read(sources, dir, &known, &mut diagnostics);
    let ids = layout.ids();
    let scope = Scope {
        layout: &layout,
        ids: &ids,
        phase: 0,
        seq: 0,
    };
    let implicit = refs::implicit(&files.iter().map(|f| (f.place, f.id.clone())).collect::<Vec<_>>());
    let tasks = files
        .into_iter()
        .zip(implicit)
        .map(|(file, implicit)| {
            let progress = log.get(&file.id).copied().unwrap_or(file.parsed.progress);
            task(&scope, file, implicit, progress, &mut diagnostics)
        })
        .collect();
    Ok((FestivalDir { id, name, tasks }, diagnostics))
}

/// One task file, read, with where it sits.
struct Loaded {
    place: Place,
    id: String,
    parsed: TaskFile,
}

/// Reads every task file of the layout, in order. An unreadable file is an Io diagnostic.
fn load(sources: &mut Sources, layout: &Layout, diagnostics: &mut Vec<Diagnostic>) -> Vec<Loaded> {
    let mut out = Vec::new();
    for (p, phase) in layout.phases.iter().enumerate() {
        for (s, sequence) in phase.sequences.iter().enumerate() {
            for path in &sequence.tasks {
                let file = match crate::spec::read(sources, &path.path) {
                    Ok(file) => file,
                    Err(e) => {
                        diagnostics.push(Diagnostic::new(Code::Io, e.to_string()));
                        continue;
                    }
                };
                let (parsed, found) = task_file::parse(file, sources.text(file), &path.stem);
                diagnostics.extend(found);
                let id = layout::task_id(phase, sequence, path);
                out.push(Loaded {
                    place: (p, s, path.step),
                    id,
                    parsed,
                });
            }
        }
    }
    out
}

/// Builds a task from its file; everything a festival file cannot say takes its default.
fn task(
    scope: &Scope<'_>,
    file: Loaded,
    implicit: Vec<String>,
    progress: Progress,
    diagnostics: &mut Vec<Diagnostic>,
) -> Task {
    let scope = Scope {
        phase: file.place.0,
        seq: file.place.1,
        ..*scope
    };
    let (depends_on, soft_depends_on) = dependencies(&scope, implicit, &file.parsed, diagnostics);
    let TaskFile {
        name,
        id_span,
        kind,
        estimate_secs,
        ..
    } = file.parsed;
    Task {
        id: Spanned::new(file.id, id_span),
        name,
        depends_on,
        soft_depends_on,
        agent: None,
        requires: Vec::new(),
        reward: None,
        input: serde_json::Value::Null,
        gates: Vec::new(),
        timeout_secs: None,
        max_attempts: DEFAULT_MAX_ATTEMPTS,
        estimate_secs,
        lifecycle: None,
        kind,
        progress,
    }
}

/// Hard dependencies (implicit ones, at the task's id span, then written ones) and soft ones.
fn dependencies(
    scope: &Scope<'_>,
    implicit: Vec<String>,
    parsed: &TaskFile,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Vec<Spanned<String>>, Vec<Spanned<String>>) {
    let mut hard: Vec<Spanned<String>> = implicit
        .into_iter()
        .map(|id| Spanned::new(id, parsed.id_span))
        .collect();
    for dependency in scope.resolve_all(&parsed.hard, false, diagnostics) {
        add(&mut hard, dependency);
    }
    // A soft dependency that is also a hard one says nothing more: it is dropped.
    let mut soft = Vec::new();
    for dependency in scope.resolve_all(&parsed.soft, true, diagnostics) {
        if !hard.iter().any(|d| d.value == dependency.value) {
            add(&mut soft, dependency);
        }
    }
    (hard, soft)
}

/// Adds a dependency once; a written reference replaces an implicit one's span.
fn add(list: &mut Vec<Spanned<String>>, dependency: Spanned<String>) {
    match list.iter_mut().find(|d| d.value == dependency.value) {
        Some(existing) => existing.span = dependency.span,
        None => list.push(dependency),
    }
}

/// The festival's id and name from `fest.yaml`, falling back to the directory name.
fn identity(sources: &mut Sources, dir: &Path, diagnostics: &mut Vec<Diagnostic>) -> (String, String) {
    let fallback = dir_name(dir);
    let path = dir.join("fest.yaml");
    if !path.is_file() {
        return (fallback.clone(), fallback);
    }
    let root = match crate::spec::read(sources, &path) {
        Ok(file) => fest_yaml(file, sources.text(file), diagnostics),
        Err(e) => {
            diagnostics.push(Diagnostic::new(Code::FestFrontMatter, e.to_string()));
            None
        }
    };
    let field = |key: &str| {
        let node = root.as_ref()?.get("metadata")?.get(key)?;
        let text = match &node.value {
            yaml::Value::String(s) | yaml::Value::Number(s) => s.trim(),
            _ => "",
        };
        (!text.is_empty()).then(|| text.to_string())
    };
    (
        field("id").unwrap_or_else(|| fallback.clone()),
        field("name").unwrap_or(fallback),
    )
}

/// Parses `fest.yaml` verbatim; its problems are W0702 warnings.
fn fest_yaml(file: FileId, text: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<Node> {
    let no_env = std::collections::BTreeMap::<String, String>::new();
    let (root, found) = yaml::parse(file, text, &no_env);
    for d in found {
        if matches!(d.code, Code::UnsetVariable | Code::BadInterpolation) {
            continue;
        }
        diagnostics.push(
            Diagnostic::new(Code::FestFrontMatter, format!("fest.yaml: {}", d.message))
                .at_opt(d.span)
                .with_hint("the festival's id and name fall back to the directory name"),
        );
    }
    root
}

fn dir_name(dir: &Path) -> String {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.or_else(|| {
        let canonical = dir.canonicalize().ok()?;
        canonical.file_name().map(|n| n.to_string_lossy().into_owned())
    });
    name.unwrap_or_else(|| dir.display().to_string())
}

/// Lines of a text: (start offset, line without `\n` or `\r\n`, start of the next line).
fn lines(text: &str) -> impl Iterator<Item = (usize, &str, usize)> {
    let mut start = 0;
    text.split_inclusive('\n').map(move |raw| {
        let at = start;
        start += raw.len();
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        (at, line.strip_suffix('\r').unwrap_or(line), start)
    })
}
