//! The YAML front matter of a festival markdown file: found between two `---` lines at the top,
//! parsed with spans that point into the whole file.
//!
//! Front matter is never interpolated (`${NAME}` stays as written), and a broken block is a W0702
//! warning, never an error: this module must never make a task unreadable, and never panic on text.

use super::lines;
use crate::diagnostics::{Code, Diagnostic, FileId, Span};
use crate::spec::Env;
use crate::spec::yaml::{self, Node, Value};

/// An [`Env`] that gives back `${NAME}` for every name, so that front matter reads verbatim.
struct Verbatim;

impl Env for Verbatim {
    fn var(&self, name: &str) -> Option<String> {
        Some(format!("${{{name}}}"))
    }
}

/// A file's front matter, if it has a readable one, and where the markdown body starts.
#[derive(Debug)]
pub(super) struct FrontMatter {
    /// The mapping; `None` when there is no front matter or it could not be read.
    pub node: Option<Node>,
    pub body_start: usize,
}

/// Where the front matter block is.
#[derive(Debug, PartialEq)]
enum Block {
    None,
    /// Opened by `---` on the first line and never closed; the span is that first line.
    Unclosed(std::ops::Range<usize>),
    /// `yaml_end` is where the closing line starts, `body_start` where the line after it starts.
    Closed {
        yaml_end: usize,
        body_start: usize,
    },
}

fn is_fence(line: &str) -> bool {
    line.trim_start_matches('\u{feff}').trim_end() == "---"
}

fn find_block(text: &str) -> Block {
    let mut all = lines(text);
    let Some((_, first, _)) = all.next() else {
        return Block::None;
    };
    if !is_fence(first) {
        return Block::None;
    }
    for (start, line, next) in all {
        if matches!(line.trim_end(), "---" | "...") {
            return Block::Closed {
                yaml_end: start,
                body_start: next,
            };
        }
    }
    Block::Unclosed(0..first.len())
}

/// A front-matter warning from a YAML loader diagnostic; interpolation problems are dropped.
fn warning(d: Diagnostic) -> Option<Diagnostic> {
    if matches!(d.code, Code::UnsetVariable | Code::BadInterpolation) {
        return None;
    }
    let hint = match d.code {
        Code::DuplicateKey => "the first entry is used",
        _ => "the task is read with default values; fix the YAML between the `---` lines",
    };
    let mut out = Diagnostic::new(Code::FestFrontMatter, format!("front matter: {}", d.message))
        .at_opt(d.span)
        .with_hint(hint);
    out.related = d.related;
    Some(out)
}

/// Finds and parses the front matter of a markdown file.
pub(super) fn parse(file: FileId, text: &str) -> (FrontMatter, Vec<Diagnostic>) {
    let absent = |diagnostics| {
        (
            FrontMatter {
                node: None,
                body_start: 0,
            },
            diagnostics,
        )
    };
    match find_block(text) {
        Block::None => absent(Vec::new()),
        Block::Unclosed(first) => {
            let d = Diagnostic::new(Code::FestFrontMatter, "front matter opened with `---` is never closed")
                .at(Span::new(file, first))
                .with_hint("end the front matter with a line `---`; the task is read with default values");
            absent(vec![d])
        }
        Block::Closed { yaml_end, body_start } => {
            // The slice starts at the file's first byte, so the loader's spans are file offsets.
            let (node, diagnostics) = load(file, text.get(..yaml_end).unwrap_or(""));
            (FrontMatter { node, body_start }, diagnostics)
        }
    }
}

/// Parses the YAML of a front matter block; only a mapping (or nothing) is front matter.
fn load(file: FileId, yaml: &str) -> (Option<Node>, Vec<Diagnostic>) {
    let (root, diagnostics) = yaml::parse(file, yaml, &Verbatim);
    let mut diagnostics: Vec<Diagnostic> = diagnostics.into_iter().filter_map(warning).collect();
    let node = match root {
        Some(node) if matches!(node.value, Value::Map(_) | Value::Null) => Some(node),
        Some(node) => {
            let d = Diagnostic::new(
                Code::FestFrontMatter,
                "front matter is not a mapping of `key: value` lines",
            )
            .at(node.span)
            .with_hint("the task is read with default values");
            diagnostics.push(d);
            None
        }
        None => None,
    };
    (node, diagnostics)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn blocks() {
        let cases: &[(&str, Block)] = &[
            ("# Title\n", Block::None),
            ("", Block::None),
            (
                "---\na: 1\n---\nbody",
                Block::Closed {
                    yaml_end: 9,
                    body_start: 13,
                },
            ),
            (
                "---\r\na: 1\r\n---\r\n",
                Block::Closed {
                    yaml_end: 11,
                    body_start: 16,
                },
            ),
            (
                "---\n---\n",
                Block::Closed {
                    yaml_end: 4,
                    body_start: 8,
                },
            ),
            ("---\na: 1\n", Block::Unclosed(0..3)),
        ];
        for (text, expected) in cases {
            assert_eq!(&find_block(text), expected, "{text:?}");
        }
    }

    #[test]
    fn spans_point_into_the_file_and_nothing_is_interpolated() {
        let text = "---\nfest_name: Build ${THING}\n---\n# Body\n";
        let (fm, diagnostics) = parse(0, text);
        assert_eq!(diagnostics, vec![]);
        let name = fm.node.as_ref().and_then(|n| n.get("fest_name"));
        assert_eq!(name.and_then(Node::as_str), Some("Build ${THING}"));
        let span = name.map(|n| n.span).unwrap_or_default();
        assert_eq!(&text[span.start..span.end], "Build ${THING}");
        assert_eq!(&text[fm.body_start..], "# Body\n");
    }

    #[test]
    fn broken_front_matter_is_a_warning() {
        let cases = ["---\nfest_status: [open\n---\n", "---\n- a\n- b\n---\n", "---\nx: 1\n"];
        for text in cases {
            let (fm, diagnostics) = parse(0, text);
            assert!(fm.node.is_none(), "{text:?}");
            let codes: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
            assert_eq!(codes, vec![Code::FestFrontMatter], "{text:?}");
        }
    }
}
