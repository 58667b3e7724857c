//! The shape of a festival directory: numbered phases, their numbered sequences, and the numbered
//! task files inside those, in order.
//!
//! This module only lists directories and applies the skip rules; it never opens a task file and
//! never panics on odd names (non-UTF-8 names, symlink loops and unreadable folders are skipped or
//! reported, never unwrapped).

use std::path::{Path, PathBuf};

use crate::diagnostics::{Code, Diagnostic};
use crate::spec::ReadError;

/// A festival directory's phases, in order.
#[derive(Debug, Default)]
pub(super) struct Layout {
    pub phases: Vec<Phase>,
}

/// A numbered top-level directory (`001_IMPLEMENT`).
#[derive(Debug)]
pub(super) struct Phase {
    pub name: String,
    pub sequences: Vec<Sequence>,
    /// Holds a `WORKFLOW.md` and no numbered sequences: a workflow phase, which has no tasks.
    pub workflow: bool,
}

/// A numbered directory inside a phase (`01_coordinator_websocket`).
#[derive(Debug)]
pub(super) struct Sequence {
    pub name: String,
    pub tasks: Vec<TaskPath>,
}

/// A numbered markdown file inside a sequence (`05_testing.md`).
#[derive(Debug)]
pub(super) struct TaskPath {
    /// The file name without `.md`.
    pub stem: String,
    /// The numeric prefix; tasks of a sequence that share it run in parallel.
    pub step: u64,
    pub path: PathBuf,
}

impl Layout {
    /// Whether any phase is a workflow phase.
    pub(super) fn has_workflow_phase(&self) -> bool {
        self.phases.iter().any(|p| p.workflow)
    }

    /// Every task id, in order.
    pub(super) fn ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for phase in &self.phases {
            for sequence in &phase.sequences {
                ids.extend(sequence.tasks.iter().map(|t| task_id(phase, sequence, t)));
            }
        }
        ids
    }
}

/// The festival-relative id of a task: its path without `.md`.
pub(super) fn task_id(phase: &Phase, sequence: &Sequence, task: &TaskPath) -> String {
    format!("{}/{}/{}", phase.name, sequence.name, task.stem)
}

/// The numeric prefix of a name: leading digits followed by `_`, `-`, `.` or nothing.
pub(super) fn number(name: &str) -> Option<u64> {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    match name.as_bytes().get(digits) {
        None | Some(b'_' | b'-' | b'.') => name.get(..digits)?.parse().ok(),
        Some(_) => None,
    }
}

/// A name without its numeric prefix and the separator after it (`01_design` → `design`).
pub(super) fn strip_number(name: &str) -> &str {
    if number(name).is_none() {
        return name;
    }
    let rest = name.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.strip_prefix(['_', '-']).unwrap_or(rest)
}

/// Names the reader never looks into: templates, metadata, archives, goals, hidden files.
fn skipped(name: &str) -> bool {
    matches!(name, "gates" | "results" | "completed") || name.contains("GOAL") || name.starts_with(['.', '_'])
}

/// One directory entry that survived the skip rules.
struct Entry {
    name: String,
    number: u64,
    is_dir: bool,
    path: PathBuf,
}

/// The numbered, non-skipped entries of a directory, ordered by number then name.
fn list(dir: &Path) -> std::io::Result<(Vec<Entry>, bool)> {
    let mut entries = Vec::new();
    let mut has_workflow = false;
    for item in std::fs::read_dir(dir)? {
        let Ok(item) = item else { continue };
        let Ok(name) = item.file_name().into_string() else {
            continue;
        };
        let path = item.path();
        if name == "WORKFLOW.md" {
            has_workflow = path.is_file();
        }
        if skipped(&name) {
            continue;
        }
        let Some(number) = number(&name) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        entries.push(Entry {
            name,
            number,
            is_dir: meta.is_dir(),
            path,
        });
    }
    entries.sort_by(|a, b| (a.number, &a.name).cmp(&(b.number, &b.name)));
    Ok((entries, has_workflow))
}

fn unreadable(path: &Path, error: &std::io::Error) -> Diagnostic {
    Diagnostic::new(
        Code::Io,
        format!("cannot read festival folder `{}`: {error}", path.display()),
    )
}

/// Lists a festival directory. Only the top directory being unreadable is an error.
pub(super) fn scan(dir: &Path, diagnostics: &mut Vec<Diagnostic>) -> Result<Layout, ReadError> {
    let (top, _) = list(dir).map_err(|source| ReadError {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut layout = Layout::default();
    for entry in top.into_iter().filter(|e| e.is_dir) {
        match list(&entry.path) {
            Ok((inner, has_workflow)) => {
                let sequences: Vec<Sequence> = inner
                    .into_iter()
                    .filter(|e| e.is_dir)
                    .filter_map(|e| sequence(e, diagnostics))
                    .collect();
                let workflow = has_workflow && sequences.is_empty();
                layout.phases.push(Phase {
                    name: entry.name,
                    sequences,
                    workflow,
                });
            }
            Err(e) => diagnostics.push(unreadable(&entry.path, &e)),
        }
    }
    Ok(layout)
}

fn sequence(entry: Entry, diagnostics: &mut Vec<Diagnostic>) -> Option<Sequence> {
    let (files, _) = match list(&entry.path) {
        Ok(listed) => listed,
        Err(e) => {
            diagnostics.push(unreadable(&entry.path, &e));
            return None;
        }
    };
    let tasks = files
        .into_iter()
        .filter(|f| !f.is_dir)
        .filter_map(|f| {
            let stem = f.name.strip_suffix(".md")?.to_string();
            Some(TaskPath {
                stem,
                step: f.number,
                path: f.path,
            })
        })
        .collect();
    Some(Sequence {
        name: entry.name,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn numbers_and_prefixes() {
        let cases: &[(&str, Option<u64>, &str)] = &[
            ("01_design", Some(1), "design"),
            ("001_IMPLEMENT", Some(1), "IMPLEMENT"),
            ("12-thing.md", Some(12), "thing.md"),
            ("07", Some(7), ""),
            ("2024report", None, "2024report"),
            ("SEQUENCE_GOAL.md", None, "SEQUENCE_GOAL.md"),
            ("design", None, "design"),
            ("99999999999999999999999_x", None, "99999999999999999999999_x"),
        ];
        for (name, expected_number, expected_rest) in cases {
            assert_eq!(number(name), *expected_number, "number of {name}");
            assert_eq!(strip_number(name), *expected_rest, "rest of {name}");
        }
    }

    #[test]
    fn skip_rules() {
        let cases = [
            ("gates", true),
            (".fest", true),
            ("results", true),
            ("completed", true),
            ("01_GOAL_notes.md", true),
            ("_draft", true),
            ("01_design.md", false),
            ("001_IMPLEMENT", false),
        ];
        for (name, expected) in cases {
            assert_eq!(skipped(name), expected, "{name}");
        }
    }
}
