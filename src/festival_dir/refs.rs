//! Festival task dependencies: the implicit order of steps, sequences and phases, and the explicit
//! `fest_dependencies` references resolved to task ids.
//!
//! It never reads files. An explicit reference that names no task is an E0701 diagnostic at the
//! reference, never silently dropped; no reference text can make it panic.

use super::layout::{Layout, Phase, Sequence, TaskPath, strip_number, task_id};
use crate::diagnostics::{Code, Diagnostic, near};
use crate::spec::Spanned;

/// Where a task sits, for the implicit order: phase index, sequence index, step number.
pub(super) type Place = (usize, usize, u64);

/// The implicit hard dependencies of tasks listed in order.
///
/// Tasks of one sequence that share a step number run in parallel, and each depends on every task
/// of the previous step present. Sequences and phases run in order: the first step of a sequence
/// depends on every task of the last step of the sequence before it (in the same phase, or for a
/// phase's first sequence, the last sequence of the phase before). Empty sequences and workflow
/// phases have no tasks and do not break the chain.
pub(super) fn implicit(tasks: &[(Place, String)]) -> Vec<Vec<String>> {
    let mut previous: Vec<String> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut place: Option<Place> = None;
    let mut out = Vec::with_capacity(tasks.len());
    for (at, id) in tasks {
        if place != Some(*at) {
            if !current.is_empty() {
                previous = std::mem::take(&mut current);
            }
            place = Some(*at);
        }
        out.push(previous.clone());
        current.push(id.clone());
    }
    out
}

/// Resolves a reference written in a task of sequence `seq` of phase `phase`.
///
/// Accepted forms (`.md` optional, numeric prefixes optional on every part): `task`,
/// `../seq/task`, `../../phase/seq/task`, and without `..` also `seq/task` (same phase) and
/// `phase/seq/task` (festival-relative).
pub(super) fn resolve(layout: &Layout, phase: usize, seq: usize, reference: &str) -> Option<String> {
    let trimmed = reference.trim();
    let path = trimmed.strip_suffix(".md").unwrap_or(trimmed);
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let up = parts.iter().take_while(|p| **p == "..").count();
    let names = parts.get(up..)?;
    if names.is_empty() || names.contains(&"..") {
        return None;
    }
    // How many levels (phase, sequence) stay fixed to the referring task's.
    let fixed = if up > 0 {
        2usize.checked_sub(up)?
    } else {
        3usize.checked_sub(names.len())?
    };
    if names.len() + fixed != 3 {
        return None;
    }
    let (phase, names) = match fixed {
        0 => (pick(&layout.phases, |p: &Phase| &p.name, names[0])?, &names[1..]),
        _ => (phase, names),
    };
    let p = layout.phases.get(phase)?;
    let (seq, names) = match fixed {
        0 | 1 => (pick(&p.sequences, |s: &Sequence| &s.name, names[0])?, &names[1..]),
        _ => (seq, names),
    };
    let s = p.sequences.get(seq)?;
    let t = pick(&s.tasks, |t: &TaskPath| &t.stem, names.first()?)?;
    Some(task_id(p, s, s.tasks.get(t)?))
}

/// Where references are written: the festival, every task id, and the referring task's place.
#[derive(Clone, Copy)]
pub(super) struct Scope<'a> {
    pub layout: &'a Layout,
    pub ids: &'a [String],
    pub phase: usize,
    pub seq: usize,
}

impl Scope<'_> {
    /// Resolves references in order; each one that names no task is an E0701 diagnostic.
    pub(super) fn resolve_all(
        &self,
        references: &[Spanned<String>],
        soft: bool,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Vec<Spanned<String>> {
        let mut out = Vec::new();
        for reference in references {
            match resolve(self.layout, self.phase, self.seq, &reference.value) {
                Some(id) => out.push(Spanned::new(id, reference.span)),
                None => diagnostics.push(unresolved(self.ids, reference, soft)),
            }
        }
        out
    }
}

/// The index of the item named `want`, exactly or without its numeric prefix.
fn pick<T>(items: &[T], name: impl Fn(&T) -> &String, want: &str) -> Option<usize> {
    items
        .iter()
        .position(|i| name(i) == want)
        .or_else(|| items.iter().position(|i| strip_number(name(i)) == want))
}

/// The E0701 diagnostic for a reference that names no task.
fn unresolved(ids: &[String], reference: &Spanned<String>, soft: bool) -> Diagnostic {
    let which = if soft { "soft dependency" } else { "dependency" };
    let d = Diagnostic::new(
        Code::BrokenFestReference,
        format!("{which} `{}` names no task of this festival", reference.value),
    )
    .at(reference.span);
    let near = closest(ids, &reference.value);
    if near.is_empty() {
        d.with_hint("write `task`, `../sequence/task` or `../../phase/sequence/task`, relative to this task's sequence")
    } else {
        let list: Vec<String> = near.iter().map(|id| format!("`{id}`")).collect();
        d.with_hint(format!("did you mean {}?", list.join(", ")))
    }
}

/// Up to three task ids whose file name is close to the reference's last part, nearest first
/// ([`near::distance`]), ties in the order of the ids.
fn closest<'a>(ids: &'a [String], reference: &str) -> Vec<&'a String> {
    let want = last(reference.trim());
    let limit = (want.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &String)> = ids
        .iter()
        .map(|id| (near::distance(want, last(id)), id))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, id)| id).collect()
}

/// The last part of a path, without `.md` and numeric prefix.
fn last(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    strip_number(name.strip_suffix(".md").unwrap_or(name))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use pretty_assertions::assert_eq;

    use super::*;

    fn layout() -> Layout {
        let task = |stem: &str| TaskPath {
            stem: stem.into(),
            step: 0,
            path: PathBuf::new(),
        };
        let seq = |name: &str, tasks: &[&str]| Sequence {
            name: name.into(),
            tasks: tasks.iter().map(|t| task(t)).collect(),
        };
        Layout {
            phases: vec![
                Phase {
                    name: "001_PLAN".into(),
                    sequences: vec![seq("01_research", &["01_read", "02_write"])],
                    workflow: false,
                },
                Phase {
                    name: "002_BUILD".into(),
                    sequences: vec![
                        seq("01_core", &["01_design", "02_api"]),
                        seq("02_ship", &["01_package"]),
                    ],
                    workflow: false,
                },
            ],
        }
    }

    #[test]
    fn references() {
        let layout = layout();
        let cases: &[(&str, Option<&str>)] = &[
            ("package", Some("002_BUILD/02_ship/01_package")),
            ("01_package.md", Some("002_BUILD/02_ship/01_package")),
            ("../01_core/02_api", Some("002_BUILD/01_core/02_api")),
            ("../core/api.md", Some("002_BUILD/01_core/02_api")),
            ("core/design", Some("002_BUILD/01_core/01_design")),
            (
                "../../001_PLAN/01_research/02_write",
                Some("001_PLAN/01_research/02_write"),
            ),
            ("../../PLAN/research/read", Some("001_PLAN/01_research/01_read")),
            ("001_PLAN/01_research/01_read", Some("001_PLAN/01_research/01_read")),
            ("./package", Some("002_BUILD/02_ship/01_package")),
            ("missing", None),
            ("../package", None),
            ("../../../x/y/z", None),
            ("../01_core/../02_api", None),
            ("", None),
            ("a/b/c/d", None),
        ];
        for (reference, expected) in cases {
            assert_eq!(resolve(&layout, 1, 1, reference).as_deref(), *expected, "{reference:?}");
        }
    }

    #[test]
    fn implicit_order() {
        let tasks: Vec<(Place, String)> = [
            ((0, 0, 1), "a"),
            ((0, 0, 2), "b1"),
            ((0, 0, 2), "b2"),
            ((0, 1, 1), "c"),
            ((1, 0, 5), "d"),
        ]
        .into_iter()
        .map(|(p, id)| (p, id.to_string()))
        .collect();
        let expected: Vec<Vec<&str>> = vec![vec![], vec!["a"], vec!["a"], vec!["b1", "b2"], vec!["c"]];
        assert_eq!(implicit(&tasks), expected);
    }

    #[test]
    fn hints_name_close_ids() {
        let ids = layout().ids();
        let d = unresolved(
            &ids,
            &Spanned::new("../core/desing".to_string(), crate::diagnostics::Span::default()),
            false,
        );
        assert_eq!(d.hint.as_deref(), Some("did you mean `002_BUILD/01_core/01_design`?"));
    }
}
