//! A large document parsed in two halves at once: a workflow of thousands of tasks is nearly all
//! one sequence, the root mapping's last entry, and parsing its second half on a thread of its
//! own while this one parses the rest takes about half the time.
//!
//! The split is at an item of that sequence, where nothing after it is less indented than the
//! item: every later line is blank, a comment, another item at the same column or indented
//! past it. The first half then parses as the document with fewer items, the second as a
//! sequence of the items left, and together they are the tree the whole text parses to, spans
//! included. Anything that could make them differ sends the text to the whole parse instead:
//! a `$` (interpolation), a tab or carriage return, an anchor, any diagnostic in either half, or
//! halves that do not join as described. So this path never decides what a file means or what
//! is wrong with it; `halves_tests` holds it to the whole parse.

use std::collections::BTreeMap;

use super::{Node, Part, Value, parse_part};
use crate::diagnostics::FileId;

/// The smallest text parsed in halves: below it a thread costs more than it saves.
pub(super) const MIN_BYTES: usize = 256 * 1024;

/// How many lines after the middle are looked at to find the sequence's column.
const LOOK_AHEAD: usize = 256;

/// The tree of `text` parsed in two halves, when it is at least `min` bytes and the halves join;
/// `None` sends it to the whole parse.
pub(super) fn parse(file: FileId, text: &str, min: usize) -> Option<Node> {
    if text.len() < min || text.bytes().any(|b| matches!(b, b'$' | b'\t' | b'\r')) {
        return None;
    }
    let (split, column) = split_point(text)?;
    let (head, tail) = text.split_at(split);
    // No `$` in the text: interpolation has nothing to read.
    let no_env = BTreeMap::<String, String>::new();
    let (first, second) = std::thread::scope(|scope| {
        let second = std::thread::Builder::new()
            .name("baton-yaml".into())
            .spawn_scoped(scope, || {
                // The items are inside the root mapping: one level deep.
                parse_part(file, tail, &no_env, Part { base: split, depth: 1 })
            })
            .ok()?;
        let first = parse_part(file, head, &no_env, Part::default());
        Some((first, second.join().ok()?))
    })?;
    let clean = |p: &super::Parsed| p.diagnostics.is_empty() && !p.anchored;
    if !clean(&first) || !clean(&second) {
        return None;
    }
    join(text, first.root?, second.root?, column)
}

/// The start of the line the second half begins with, and the column of the sequence's items.
fn split_point(text: &str) -> Option<(usize, usize)> {
    // Bytes, so that a middle inside a character still finds the next line.
    let middle = text.len() / 2;
    let from = middle + text.as_bytes().get(middle..)?.iter().position(|&b| b == b'\n')? + 1;
    let column = lines(text, from)
        .take(LOOK_AHEAD)
        .filter_map(|(_, line)| item_column(line))
        .min()?;
    let (split, _) = lines(text, from).find(|(_, line)| item_column(line) == Some(column))?;
    let continues = text[split..].lines().all(|line| {
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        content.is_empty() || content.starts_with('#') || indent > column || item_column(line) == Some(column)
    });
    continues.then_some((split, column))
}

/// The lines of `text` from byte `from` (a line's start), each with its offset.
fn lines(text: &str, from: usize) -> impl Iterator<Item = (usize, &str)> {
    let rest = text.get(from..).unwrap_or("");
    rest.split_inclusive('\n').scan(from, |at, line| {
        let start = *at;
        *at += line.len();
        Some((start, line.trim_end_matches('\n')))
    })
}

/// The column of a line that starts a sequence item (`- ` or a lone `-`).
fn item_column(line: &str) -> Option<usize> {
    let content = line.trim_start_matches(' ');
    (content.starts_with("- ") || content == "-").then_some(line.len() - content.len())
}

/// The first half's root with the second half's items appended to its last entry's sequence,
/// when the halves are what the split expects: a mapping whose last entry is a sequence that
/// ends with the half and whose last item is at `column`, and a sequence whose first item is.
fn join(text: &str, mut root: Node, tail: Node, column: usize) -> Option<Node> {
    let Value::Seq(items) = tail.value else {
        return None;
    };
    if !item_at(text, items.first()?, column) {
        return None;
    }
    let end = root.span.end;
    let Value::Map(entries) = &mut root.value else {
        return None;
    };
    let (_, sequence) = entries.last_mut()?;
    if sequence.span.end != end {
        return None;
    }
    let Value::Seq(head) = &mut sequence.value else {
        return None;
    };
    if !item_at(text, head.last()?, column) {
        return None;
    }
    head.extend(items);
    sequence.span.end = tail.span.end;
    root.span.end = tail.span.end;
    Some(root)
}

/// Whether `item` is an item of a sequence at `column`: it starts on a line that starts an item
/// there, right after the `- `.
fn item_at(text: &str, item: &Node, column: usize) -> bool {
    let at = item.span.start;
    let line_start = text
        .get(..at)
        .and_then(|before| before.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line = text
        .get(line_start..)
        .and_then(|rest| rest.split('\n').next())
        .unwrap_or("");
    at - line_start == column + 2 && item_column(line) == Some(column)
}

#[cfg(test)]
#[path = "halves_tests.rs"]
mod tests;
