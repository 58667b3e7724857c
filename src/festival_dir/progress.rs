//! The festival's status log, `.fest/progress_events.jsonl`: one JSON event per line, applied in
//! file order, giving the status of every task it mentions.
//!
//! The log is never written and timestamps are never parsed. A line that is not an event is a
//! W0703 warning at that line; unknown events and unknown tasks are ignored; nothing here panics.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::lines;
use crate::diagnostics::{Code, Diagnostic, FileId, Sources, Span};
use crate::spec::Progress;

/// Where the log lives, relative to the festival directory.
pub(super) const LOG_PATH: &str = ".fest/progress_events.jsonl";

/// Reads the log, if there is one, and returns the final status of each known task it mentions.
pub(super) fn read(
    sources: &mut Sources,
    dir: &Path,
    known: &BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Progress> {
    let path = dir.join(LOG_PATH);
    if !path.is_file() {
        return BTreeMap::new();
    }
    match crate::spec::read(sources, &path) {
        Ok(file) => apply(file, sources.text(file), known, diagnostics),
        Err(e) => {
            diagnostics.push(
                Diagnostic::new(Code::FestProgressLog, format!("{e}"))
                    .with_hint("task status falls back to `fest_status` and checkboxes"),
            );
            BTreeMap::new()
        }
    }
}

/// Applies every event of the log text in order.
pub(super) fn apply(
    file: FileId,
    text: &str,
    known: &BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Progress> {
    let mut status = BTreeMap::new();
    for (start, line, _) in lines(text) {
        if line.trim().is_empty() {
            continue;
        }
        match event(line) {
            Ok(Some((task, progress))) if known.contains(&task) => {
                status.insert(task, progress);
            }
            Ok(_) => {}
            Err(message) => {
                let span = Span::new(file, start..start + line.len());
                diagnostics.push(
                    Diagnostic::new(Code::FestProgressLog, message)
                        .at(span)
                        .with_hint("each line must be a JSON object like {\"ts\": ..., \"event\": \"completed\", \"task\": \"001_P/01_s/01_t.md\"}; the line is skipped"),
                );
            }
        }
    }
    status
}

/// One line: `Ok(None)` for an event that sets no status, `Err` for a line that is no event.
fn event(line: &str) -> Result<Option<(String, Progress)>, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("progress log line is not JSON: {}", json_problem(&e)))?;
    let field = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
    let (Some(name), Some(task)) = (field("event"), field("task")) else {
        return Err("progress log line has no `event` and `task` strings".to_string());
    };
    let progress = match name {
        "started" | "progress" | "unblocked" => Progress::InProgress,
        "completed" => Progress::Completed,
        "blocked" => Progress::Blocked,
        "reset" => Progress::Pending,
        _ => return Ok(None),
    };
    Ok(Some((task_id(task), progress)))
}

/// `serde_json`'s message without its "at line 1 column N": the span already says where.
fn json_problem(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => format!("{} (column {})", &text[..at], error.column()),
        None => text,
    }
}

/// A logged task path (festival-relative, with `.md`) as a task id.
fn task_id(path: &str) -> String {
    let path = path.trim();
    let path = path.strip_prefix("./").unwrap_or(path);
    path.strip_suffix(".md").unwrap_or(path).to_string()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn events_apply_in_order() {
        let known: BTreeSet<String> = ["p/s/a", "p/s/b", "p/s/c", "p/s/d"]
            .into_iter()
            .map(String::from)
            .collect();
        let text = [
            r#"{"ts":"t","event":"started","task":"p/s/a.md"}"#,
            r#"{"ts":"t","event":"completed","task":"p/s/a.md"}"#,
            r#"{"event":"blocked","task":"p/s/b.md"}"#,
            "",
            r#"{"event":"completed","task":"p/s/c.md"}"#,
            r#"{"event":"reset","task":"./p/s/c.md"}"#,
            r#"{"event":"noted","task":"p/s/d.md"}"#,
            r#"{"event":"completed","task":"p/s/unknown.md"}"#,
            r#"{"event":"completed"}"#,
            "{oops",
        ]
        .join("\n");
        let mut diagnostics = Vec::new();
        let status = apply(0, &text, &known, &mut diagnostics);
        let expected: BTreeMap<String, Progress> = [
            ("p/s/a", Progress::Completed),
            ("p/s/b", Progress::Blocked),
            ("p/s/c", Progress::Pending),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(status, expected);
        let spans: Vec<&str> = diagnostics
            .iter()
            .filter_map(|d| d.span)
            .map(|s| &text[s.start..s.end])
            .collect();
        assert_eq!(spans, vec![r#"{"event":"completed"}"#, "{oops"]);
    }
}
