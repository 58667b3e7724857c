//! Problems found in user files, as data: collected by every stage, rendered once.
//!
//! A [`Diagnostic`] carries a stable [`Code`], a severity, a message, the place in a file it is about
//! (byte offsets; lines and columns are computed only when rendering) and an optional hint. It is
//! never an error that ends a command: stages return what they could build plus every diagnostic.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Files, SimpleFiles};
use codespan_reporting::term;
use serde::Serialize;

mod code;
pub mod near;
pub use code::Code;

/// Which file of a [`Sources`] a span refers to.
pub type FileId = usize;

/// A byte range in one source file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

/// `file:start..end`: a compiled festival holds a span for nearly every name in it, and its
/// `Debug` text is what a snapshot's fingerprint hashes (`engine::fingerprint`).
impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}..{}", self.file, self.start, self.end)
    }
}

impl Span {
    #[must_use]
    pub fn new(file: FileId, range: Range<usize>) -> Self {
        Self {
            file,
            start: range.start,
            end: range.end,
        }
    }

    #[must_use]
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One problem in a user's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub span: Option<Span>,
    /// Further places that explain the first (e.g. the first definition of a duplicate).
    pub related: Vec<(Span, String)>,
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's own severity.
    #[must_use]
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.severity(),
            message: message.into(),
            span: None,
            related: Vec::new(),
            hint: None,
        }
    }

    #[must_use]
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    #[must_use]
    pub fn at_opt(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }

    #[must_use]
    pub fn with_related(mut self, span: Span, note: impl Into<String>) -> Self {
        self.related.push((span, note.into()));
        self
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The source files diagnostics point into, by [`FileId`].
#[derive(Default)]
pub struct Sources {
    files: SimpleFiles<String, String>,
    paths: Vec<PathBuf>,
}

impl Sources {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a file's text and returns its id. The name is how the path is shown.
    pub fn add(&mut self, path: &Path, text: String) -> FileId {
        self.paths.push(path.to_path_buf());
        self.files.add(display_path(path), text)
    }

    #[must_use]
    pub fn text(&self, file: FileId) -> &str {
        self.files.get(file).map_or("", |f| f.source().as_str())
    }

    #[must_use]
    pub fn path(&self, file: FileId) -> &Path {
        self.paths.get(file).map_or(Path::new(""), PathBuf::as_path)
    }

    /// 1-based line and column of a byte offset (column counted in characters).
    #[must_use]
    pub fn line_col(&self, file: FileId, offset: usize) -> (usize, usize) {
        match self.files.location(file, offset) {
            Ok(loc) => (loc.line_number, loc.column_number),
            Err(_) => (1, 1),
        }
    }
}

/// The path as shown: `./` dropped and `dir/..` folded, without touching the file system.
fn display_path(path: &Path) -> String {
    use std::path::Component;
    let mut parts: Vec<Component<'_>> = Vec::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(parts.last(), Some(Component::Normal(_))) => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let folded: PathBuf = parts.iter().collect();
    let text = folded.to_string_lossy();
    text.strip_prefix("./").unwrap_or(&text).to_string()
}

/// Counts errors and warnings.
#[must_use]
pub fn tally(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    (errors, diagnostics.len() - errors)
}

/// Sorts diagnostics by file and position, errors and warnings interleaved as they occur.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| d.span.map(|s| (s.file, s.start)).unwrap_or((usize::MAX, 0)));
}

/// Renders diagnostics like rustc, with a snippet and a caret. `color` writes ANSI escapes.
#[must_use]
pub fn render_human(sources: &Sources, diagnostics: &[Diagnostic], color: bool) -> String {
    let config = term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    };
    let mut out = Vec::new();
    for diagnostic in diagnostics {
        let cs = to_codespan(diagnostic);
        let result = if color {
            let mut writer = term::termcolor::Ansi::new(&mut out);
            term::emit_to_write_style(&mut writer, &config, &sources.files, &cs)
        } else {
            let mut writer = term::termcolor::NoColor::new(&mut out);
            term::emit_to_write_style(&mut writer, &config, &sources.files, &cs)
        };
        if result.is_err() {
            // A span past the end of its file would be a bug in a loader; show the message alone.
            let _ = writeln!(
                PlainOut(&mut out),
                "{}[{}]: {}",
                severity_word(diagnostic),
                diagnostic.code,
                diagnostic.message
            );
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct PlainOut<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for PlainOut<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn severity_word(diagnostic: &Diagnostic) -> &'static str {
    match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn to_codespan(diagnostic: &Diagnostic) -> cs::Diagnostic<FileId> {
    let base = match diagnostic.severity {
        Severity::Error => cs::Diagnostic::error(),
        Severity::Warning => cs::Diagnostic::warning(),
    };
    let mut labels = Vec::new();
    if let Some(span) = diagnostic.span {
        labels.push(cs::Label::primary(span.file, span.range()));
    }
    for (span, note) in &diagnostic.related {
        labels.push(cs::Label::secondary(span.file, span.range()).with_message(note.clone()));
    }
    let notes = diagnostic.hint.iter().map(|h| format!("hint: {h}")).collect();
    base.with_code(diagnostic.code.to_string())
        .with_message(diagnostic.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

/// The machine-readable form of one diagnostic.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub severity: Severity,
    pub code: String,
    pub message: &'a str,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub hint: Option<&'a str>,
}

/// Renders diagnostics as one JSON array.
#[must_use]
pub fn render_json(sources: &Sources, diagnostics: &[Diagnostic]) -> String {
    let items: Vec<JsonDiagnostic<'_>> = diagnostics
        .iter()
        .map(|d| {
            let place = d.span.map(|s| {
                let (line, column) = sources.line_col(s.file, s.start);
                let (end_line, end_column) = sources.line_col(s.file, s.end);
                (display_path(sources.path(s.file)), line, column, end_line, end_column)
            });
            JsonDiagnostic {
                severity: d.severity,
                code: d.code.to_string(),
                message: &d.message,
                file: place.as_ref().map(|p| p.0.clone()),
                line: place.as_ref().map(|p| p.1),
                column: place.as_ref().map(|p| p.2),
                end_line: place.as_ref().map(|p| p.3),
                end_column: place.as_ref().map(|p| p.4),
                hint: d.hint.as_deref(),
            }
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_string())
}

/// The byte offset of a 1-based line and column (in characters), clamped to the text.
#[must_use]
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_text = text[start..].split('\n').next().unwrap_or("");
    start
        + line_text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_text.len(), |(i, _)| i)
}
