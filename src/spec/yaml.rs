//! YAML text to a tree of [`Node`]s that keeps every node's byte span.
//!
//! Built on saphyr-parser's event stream. Plain scalars are resolved with the YAML 1.2 core schema
//! after `${VAR}` interpolation, so `reward: ${REWARD:-10}` is a number. Anchors and aliases are
//! expanded with a budget, nesting is bounded, and duplicate keys are reported: no input can make
//! the loader panic, recurse without bound or allocate without bound.

use std::borrow::Cow;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan};

mod halves;

use super::interp::{Env, interpolate};
use crate::diagnostics::{Code, Diagnostic, FileId, Span};

/// The deepest nesting a document may have.
pub const MAX_DEPTH: usize = 128;
/// How many nodes alias expansion may add to a document in all.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// One YAML node and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// A number, kept as its text so that decimal amounts are never rounded through a float.
    Number(String),
    String(String),
    Seq(Vec<Node>),
    /// Entries in file order; keys are strings (other keys are rendered as text).
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

impl Node {
    /// The entry of a mapping with this key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key of a mapping entry, for pointing at the name rather than the value.
    #[must_use]
    pub fn key_span(&self, key: &str) -> Option<Span> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(k, _)| k.span),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    #[must_use]
    pub fn as_map(&self) -> &[(Key, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The node at a JSON pointer's segments, and the deepest node reached on the way.
    #[must_use]
    pub fn walk<'a, I: IntoIterator<Item = &'a str>>(&self, segments: I) -> &Node {
        let mut node = self;
        for segment in segments {
            let next = match &node.value {
                Value::Map(_) => node.get(segment),
                Value::Seq(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    /// Converts to JSON for schema validation.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(text) => number_to_json(text),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.name.clone(), v.to_json())).collect()),
        }
    }
}

fn number_to_json(text: &str) -> serde_json::Value {
    let clean = text.replace('_', "");
    if let Ok(i) = clean.parse::<i64>() {
        return i.into();
    }
    let parsed = parse_radix(&clean).map(|i| i as f64).or_else(|| parse_float(&clean));
    parsed
        .and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::String(text.to_string()), serde_json::Value::Number)
}

fn parse_radix(text: &str) -> Option<i64> {
    let (digits, radix) = if let Some(d) = text.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = text.strip_prefix("0o") {
        (d, 8)
    } else {
        return None;
    };
    i64::from_str_radix(digits, radix).ok()
}

fn parse_float(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        ".inf" | "+.inf" => Some(f64::INFINITY),
        "-.inf" => Some(f64::NEG_INFINITY),
        ".nan" => Some(f64::NAN),
        other => other.parse::<f64>().ok(),
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn resolve_plain(text: String) -> Value {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        t if is_core_number(t) => Value::Number(text),
        _ => Value::String(text),
    }
}

fn is_core_number(t: &str) -> bool {
    let int = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = t.strip_prefix(['-', '+']).unwrap_or(t);
    if int(unsigned) {
        return true;
    }
    if let Some(hex) = t.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    if let Some(oct) = t.strip_prefix("0o") {
        return !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b));
    }
    if matches!(unsigned.to_ascii_lowercase().as_str(), ".inf" | ".nan") {
        return true;
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => (int(a) || a.is_empty()) && (int(b) || b.is_empty()) && !(a.is_empty() && b.is_empty()),
        None => int(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| int(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// Maps saphyr's character indices to byte offsets.
struct Offsets {
    /// Byte offset of each character, or `None` when the text is ASCII (index == offset).
    table: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Self {
        let table = (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect());
        Self { table, len: text.len() }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

/// Parses one YAML document. Returns the root node (if the text could be parsed) and diagnostics.
/// A large document whose last entry is a long sequence is parsed in two halves at once
/// ([`halves`]) where that gives the same tree.
#[must_use]
pub fn parse(file: FileId, text: &str, env: &dyn Env) -> (Option<Node>, Vec<Diagnostic>) {
    if let Some(root) = halves::parse(file, text, halves::MIN_BYTES) {
        return (Some(root), Vec::new());
    }
    let parsed = parse_part(file, text, env, Part::default());
    (parsed.root, parsed.diagnostics)
}

/// Where the text a parse reads sits in its file: its first byte's offset, and how deep the
/// document nests around it.
#[derive(Clone, Copy, Default)]
struct Part {
    base: usize,
    depth: usize,
}

/// What a parse found, and whether the text defines an anchor.
struct Parsed {
    root: Option<Node>,
    diagnostics: Vec<Diagnostic>,
    anchored: bool,
}

/// Parses `text` as the part `part` of a file: spans are offsets in the file.
fn parse_part(file: FileId, text: &str, env: &dyn Env, part: Part) -> Parsed {
    let mut builder = Builder {
        file,
        text,
        part,
        offsets: Offsets::new(text),
        env,
        stack: Vec::new(),
        anchors: Vec::new(),
        alias_nodes: 0,
        root: None,
        diagnostics: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        match next {
            Ok((event, span)) => {
                if let Err(d) = builder.event(event, span) {
                    builder.diagnostics.push(d);
                    return builder.parsed(false);
                }
            }
            Err(e) => {
                let at = builder.offsets.byte(e.marker().index());
                let end = next_char_end(text, at);
                let d = Diagnostic::new(Code::YamlSyntax, format!("invalid YAML: {}", e.info()))
                    .at(Span::new(file, part.base + at..part.base + end));
                builder.diagnostics.push(d);
                return builder.parsed(false);
            }
        }
    }
    builder.parsed(true)
}

fn next_char_end(text: &str, at: usize) -> usize {
    text.get(at..)
        .and_then(|rest| rest.chars().next())
        .map_or(at, |c| at + c.len_utf8())
}

enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        key: Option<Key>,
    },
}

struct Builder<'a> {
    file: FileId,
    text: &'a str,
    part: Part,
    offsets: Offsets,
    env: &'a dyn Env,
    stack: Vec<Frame>,
    anchors: Vec<(usize, Node)>,
    alias_nodes: usize,
    root: Option<Node>,
    diagnostics: Vec<Diagnostic>,
}

impl Builder<'_> {
    /// What was built: the root when the text parsed to its end (an empty text is `null`).
    fn parsed(mut self, whole: bool) -> Parsed {
        let root = whole.then(|| {
            self.root.take().unwrap_or(Node {
                span: Span::new(self.file, self.part.base..self.part.base),
                value: Value::Null,
            })
        });
        Parsed {
            root,
            diagnostics: self.diagnostics,
            anchored: !self.anchors.is_empty(),
        }
    }

    fn span(&self, span: YSpan) -> Span {
        let base = self.part.base;
        Span::new(
            self.file,
            base + self.offsets.byte(span.start.index())..base + self.offsets.byte(span.end.index()),
        )
    }

    fn event(&mut self, event: Event<'_>, span: YSpan) -> Result<(), Diagnostic> {
        let at = self.span(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = self.scalar(text, style, tag.as_deref().map(|t| t.suffix.as_str()), at);
                self.push(Node { span: at, value }, anchor)
            }
            Event::SequenceStart(anchor, _) => self.open(
                Frame::Seq {
                    start: at.start,
                    anchor,
                    items: Vec::new(),
                },
                at,
            ),
            Event::MappingStart(anchor, _) => self.open(
                Frame::Map {
                    start: at.start,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                },
                at,
            ),
            Event::SequenceEnd | Event::MappingEnd => self.close(at.end),
            Event::Alias(id) => self.alias(id, at),
            _ => Ok(()),
        }
    }

    fn open(&mut self, frame: Frame, at: Span) -> Result<(), Diagnostic> {
        if self.part.depth + self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::new(
                Code::TooDeep,
                format!("the document nests deeper than {MAX_DEPTH} levels"),
            )
            .at(at));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, end: usize) -> Result<(), Diagnostic> {
        let (start, anchor, value) = match self.stack.pop() {
            Some(Frame::Seq { start, anchor, items }) => (start, anchor, Value::Seq(items)),
            Some(Frame::Map {
                start, anchor, entries, ..
            }) => (start, anchor, Value::Map(entries)),
            None => return Ok(()),
        };
        let end = self.trim_end(start, end.max(start));
        self.push(
            Node {
                span: Span::new(self.file, start..end),
                value,
            },
            anchor,
        )
    }

    /// Block collections end where the next token starts; pull the end back over whitespace.
    fn trim_end(&self, start: usize, end: usize) -> usize {
        let base = self.part.base;
        let slice = self
            .text
            .get(start.saturating_sub(base)..end.saturating_sub(base))
            .unwrap_or("");
        start + slice.trim_end().len()
    }

    fn alias(&mut self, id: usize, at: Span) -> Result<(), Diagnostic> {
        let Some((_, node)) = self.anchors.iter().rev().find(|(a, _)| *a == id) else {
            return Err(Diagnostic::new(Code::YamlSyntax, "alias to an unknown anchor").at(at));
        };
        self.alias_nodes += count_nodes(node);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(Diagnostic::new(
                Code::TooDeep,
                format!("aliases expand to more than {MAX_ALIAS_NODES} nodes"),
            )
            .at(at));
        }
        let node = Node {
            span: at,
            value: node.value.clone(),
        };
        self.push(node, 0)
    }

    fn push(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    let name = key_text(&node.value);
                    *key = Some(Key { name, span: node.span });
                }
                Some(k) => {
                    if let Some((first, _)) = entries.iter().find(|(e, _)| e.name == k.name) {
                        let d = Diagnostic::new(Code::DuplicateKey, format!("duplicate key `{}`", k.name))
                            .at(k.span)
                            .with_related(first.span, "first defined here")
                            .with_hint("remove one of the two entries");
                        self.diagnostics.push(d);
                    } else {
                        entries.push((k, node));
                    }
                }
            },
        }
        Ok(())
    }

    fn scalar(&mut self, text: Cow<'_, str>, style: ScalarStyle, tag: Option<&str>, at: Span) -> Value {
        let text = match interpolate(&text, self.env) {
            Ok(t) => t,
            Err(problems) => {
                for (code, message, hint) in problems {
                    self.diagnostics
                        .push(Diagnostic::new(code, message).at(at).with_hint(hint));
                }
                text.into_owned()
            }
        };
        match (style, tag) {
            (_, Some("str")) => Value::String(text),
            (ScalarStyle::Plain, _) => resolve_plain(text),
            _ => Value::String(text),
        }
    }
}

fn key_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) | Value::String(n) => n.clone(),
        Value::Seq(_) | Value::Map(_) => "<collection>".into(),
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(_, v)| count_nodes(v)).sum::<usize>(),
        _ => 1,
    }
}

/// Reads a YAML or JSON data file (a report, a case file) as JSON, without interpolation.
pub fn read_json(path: &std::path::Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let env = std::collections::BTreeMap::<String, String>::new();
    let (root, diagnostics) = parse(0, &text, &env);
    match (root, diagnostics.iter().find(|d| d.is_error())) {
        (Some(root), None) => Ok(root.to_json()),
        (_, Some(d)) => Err(format!("`{}`: {}", path.display(), d.message)),
        (None, None) => Err(format!("`{}` is empty", path.display())),
    }
}
