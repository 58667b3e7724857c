//! One festival task file read on its own: name, kind (work or gate), status from its front matter
//! or checkboxes, estimate, and the dependency references exactly as written.
//!
//! It never resolves references (that is `refs`) and never looks at the progress log (that is
//! `progress`); unknown keys and values are ignored, never reported, and no text makes it panic.

use super::frontmatter;
use super::layout::strip_number;
use super::lines;
use crate::diagnostics::{Diagnostic, FileId, Span};
use crate::spec::yaml::{Node, Value};
use crate::spec::{Progress, Spanned, TaskKind, duration_secs};

/// What one task file says about its task.
#[derive(Debug)]
pub(super) struct TaskFile {
    pub name: String,
    /// The `fest_name` value, or else the file's first line.
    pub id_span: Span,
    pub kind: TaskKind,
    /// From `fest_status`, else from the checkboxes; the progress log may override it.
    pub progress: Progress,
    pub estimate_secs: Option<u64>,
    /// `fest_dependencies`, unresolved.
    pub hard: Vec<Spanned<String>>,
    /// `fest_soft_dependencies`, unresolved.
    pub soft: Vec<Spanned<String>>,
}

/// Reads a task file's text. `stem` is the file name without `.md`.
pub(super) fn parse(file: FileId, text: &str, stem: &str) -> (TaskFile, Vec<Diagnostic>) {
    let (front, diagnostics) = frontmatter::parse(file, text);
    let node = front.node.as_ref();
    let body = text.get(front.body_start..).unwrap_or("");
    let field = |key: &str| node.and_then(|n| n.get(key)).and_then(scalar);
    let fest_name = field("fest_name");
    let name = fest_name
        .as_ref()
        .map(|n| n.value.clone())
        .or_else(|| heading(body))
        .unwrap_or_else(|| stem.to_string());
    let first_line = lines(text).next().map_or(0, |(_, line, _)| line.len());
    let id_span = fest_name.map_or(Span::new(file, 0..first_line), |n| n.span);
    let kind = match field("fest_type") {
        Some(t) if t.value.eq_ignore_ascii_case("gate") => {
            TaskKind::Gate(field("fest_gate_type").map_or_else(|| "gate".to_string(), |g| g.value))
        }
        _ => legacy_gate(stem).unwrap_or(TaskKind::Work),
    };
    let progress = field("fest_status").map_or_else(|| checkboxes(body), |s| status_word(&s.value));
    let estimate = |key: &str| node.and_then(|n| n.get(key)).and_then(duration_secs);
    let task = TaskFile {
        name,
        id_span,
        kind,
        progress,
        estimate_secs: estimate("fest_estimate").or_else(|| estimate("estimate")),
        hard: references(node, "fest_dependencies"),
        soft: references(node, "fest_soft_dependencies"),
    };
    (task, diagnostics)
}

/// A scalar's text, when it is a non-empty scalar.
fn scalar(node: &Node) -> Option<Spanned<String>> {
    let text = match &node.value {
        Value::String(s) | Value::Number(s) => s.trim().to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then(|| Spanned::new(text, node.span))
}

/// A block or flow list of references, or a single one; anything else is ignored.
fn references(node: Option<&Node>, key: &str) -> Vec<Spanned<String>> {
    let Some(list) = node.and_then(|n| n.get(key)) else {
        return Vec::new();
    };
    match &list.value {
        Value::Seq(items) => items.iter().filter_map(scalar).collect(),
        _ => scalar(list).into_iter().collect(),
    }
}

/// Gates of older festivals, recognised by their file name.
fn legacy_gate(stem: &str) -> Option<TaskKind> {
    let kind = match strip_number(stem) {
        "testing_and_verify" => "testing",
        "code_review" => "review",
        "review_results_iterate" => "iterate",
        _ => return None,
    };
    Some(TaskKind::Gate(kind.to_string()))
}

/// A `fest_status` value; anything unknown counts as pending.
pub(super) fn status_word(word: &str) -> Progress {
    match word.trim().to_ascii_lowercase().as_str() {
        "completed" | "complete" | "done" => Progress::Completed,
        "in_progress" | "in-progress" | "active" | "started" => Progress::InProgress,
        "blocked" => Progress::Blocked,
        _ => Progress::Pending,
    }
}

/// Lines of markdown outside fenced code blocks.
fn prose(body: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    lines(body).filter_map(move |(_, line, _)| {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            return None;
        }
        (!fenced).then_some(line)
    })
}

/// The first `# ...` heading, without a `Task:` prefix.
fn heading(body: &str) -> Option<String> {
    prose(body).find_map(|line| {
        let title = line.strip_prefix("# ")?.trim();
        let title = title.strip_prefix("Task:").map_or(title, str::trim);
        (!title.is_empty()).then(|| title.to_string())
    })
}

/// Status from `- [x]` / `- [ ]` items: all checked is done, some checked is in progress.
fn checkboxes(body: &str) -> Progress {
    let (mut checked, mut total) = (0usize, 0usize);
    for line in prose(body) {
        let item = line.trim_start();
        let Some(rest) = item.strip_prefix(['-', '*', '+']).and_then(|r| r.strip_prefix(' ')) else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with("[x]") || rest.starts_with("[X]") {
            checked += 1;
            total += 1;
        } else if rest.starts_with("[ ]") {
            total += 1;
        }
    }
    match (checked, total) {
        (0, _) => Progress::Pending,
        (c, t) if c == t => Progress::Completed,
        _ => Progress::InProgress,
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn checkbox_status() {
        let cases = [
            ("no boxes", Progress::Pending),
            ("- [ ] a\n- [ ] b", Progress::Pending),
            ("- [x] a\n- [ ] b", Progress::InProgress),
            ("- [x] a\n  * [X] b", Progress::Completed),
            ("- [x] a\n```\n- [ ] in code\n```\n", Progress::Completed),
        ];
        for (body, expected) in cases {
            assert_eq!(checkboxes(body), expected, "{body:?}");
        }
    }

    #[test]
    fn status_words() {
        let cases = [
            ("completed", Progress::Completed),
            ("Complete", Progress::Completed),
            ("done", Progress::Completed),
            ("in_progress", Progress::InProgress),
            ("active", Progress::InProgress),
            ("blocked", Progress::Blocked),
            ("not_started", Progress::Pending),
            ("dungeon/completed", Progress::Pending),
        ];
        for (word, expected) in cases {
            assert_eq!(status_word(word), expected, "{word}");
        }
    }

    #[test]
    fn names_and_kinds() {
        let cases: &[(&str, &str, &str, TaskKind)] = &[
            (
                "---\nfest_name: Named\n---\n# Task: Heading\n",
                "01_x",
                "Named",
                TaskKind::Work,
            ),
            ("# Task: Heading\n", "01_x", "Heading", TaskKind::Work),
            ("## Sub\n# Plain title\n", "01_x", "Plain title", TaskKind::Work),
            ("no heading", "01_x", "01_x", TaskKind::Work),
            (
                "---\nfest_type: gate\n---\n",
                "04_t",
                "04_t",
                TaskKind::Gate("gate".into()),
            ),
            (
                "---\nfest_type: gate\nfest_gate_type: commit\n---\n",
                "04_t",
                "04_t",
                TaskKind::Gate("commit".into()),
            ),
            ("", "05_code_review", "05_code_review", TaskKind::Gate("review".into())),
            (
                "",
                "06_testing_and_verify",
                "06_testing_and_verify",
                TaskKind::Gate("testing".into()),
            ),
            (
                "",
                "07_review_results_iterate",
                "07_review_results_iterate",
                TaskKind::Gate("iterate".into()),
            ),
        ];
        for (text, stem, name, kind) in cases {
            let (task, diagnostics) = parse(0, text, stem);
            assert_eq!(diagnostics, vec![], "{text:?}");
            assert_eq!((task.name.as_str(), &task.kind), (*name, kind), "{text:?}");
        }
    }

    #[test]
    fn estimates_and_references() {
        let text = "---\nfest_estimate: 1h30m\nfest_dependencies: [a, ../s/b]\nfest_soft_dependencies: c\n---\n";
        let (task, _) = parse(0, text, "01_x");
        assert_eq!(task.estimate_secs, Some(5400));
        let hard: Vec<&str> = task.hard.iter().map(|r| &text[r.span.start..r.span.end]).collect();
        assert_eq!(hard, vec!["a", "../s/b"]);
        let soft: Vec<&str> = task.soft.iter().map(|r| r.value.as_str()).collect();
        assert_eq!(soft, vec!["c"]);
    }
}
