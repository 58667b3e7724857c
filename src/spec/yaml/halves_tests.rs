//! Parsing in halves gives the whole parse's tree, spans included, or leaves the text to it.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use proptest::prelude::*;

use super::super::{Node, Part, parse_part};
use super::parse;

const HEAD: &str = "version: 1\nfestival:\n  id: f  # the festival\nagents:\n  - id: a\n    account: 0.0.1001\n";

/// A workflow of `n` tasks, each written by `task`.
fn workflow(n: usize, task: impl Fn(usize) -> String) -> String {
    let mut text = format!("{HEAD}tasks:\n");
    for i in 0..n {
        text.push_str(&task(i));
    }
    text
}

fn plain(i: usize) -> String {
    let depends = if i == 0 {
        String::new()
    } else {
        format!("    depends_on: [t{}]\n", i - 1)
    };
    format!("  - id: t{i}\n    reward: 1.25\n{depends}")
}

fn whole(text: &str) -> (Option<Node>, usize) {
    let parsed = parse_part(0, text, &BTreeMap::<String, String>::new(), Part::default());
    (parsed.root, parsed.diagnostics.len())
}

/// The halves' tree, checked against the whole parse's.
fn halves(text: &str) -> Option<Node> {
    let split = parse(0, text, 0);
    if let Some(root) = &split {
        assert_eq!(whole(text), (Some(root.clone()), 0));
    }
    split
}

#[test]
fn a_long_task_list_parses_in_halves_to_the_whole_tree() {
    let shapes: Vec<Box<dyn Fn(usize) -> String>> = vec![
        Box::new(plain),
        // Text beyond ASCII, whose spans are counted in bytes.
        Box::new(|i| format!("  - id: t{i}\n    name: tâche é{i} — ✓\n")),
        // Comments and blank lines between items, at any column.
        Box::new(|i| format!("{}\n# t{i}\n\n    # more\n", plain(i))),
        // Nested sequences and mappings, block scalars, flow sequences over lines, quoted text.
        Box::new(|i| {
            format!(
                "  - id: t{i}\n    requires:\n    - rust\n    - review\n    input:\n      command: |\n        cargo test\n          --all\n\n      notes: >-\n        two\n        lines\n    labels: [a,\n      b]\n    name: \"multi\n      line\"\n"
            )
        }),
    ];
    for shape in &shapes {
        let text = workflow(200, shape);
        let root = halves(&text).expect("parsed in halves");
        let tasks = root.get("tasks").map_or(0, |t| t.as_seq().len());
        assert_eq!(tasks, 200);
    }
    // A text whose middle byte is inside a character.
    let wide = workflow(200, |i| format!("  - id: t{i}\n    name: {}\n", "é".repeat(60)));
    let text = (0..400)
        .map(|n| format!("#{}\n{wide}", "x".repeat(n)))
        .find(|t| !t.is_char_boundary(t.len() / 2))
        .expect("a middle inside a character");
    assert!(halves(&text).is_some());
    // Items at the mapping's own column, and a comment after the last.
    let text = workflow(200, |i| format!("- id: t{i}\n  reward: 1\n")) + "# the end\n";
    assert!(halves(&text).is_some());
    // Items with nothing on the dash's line are left to the whole parse.
    assert_eq!(halves(&workflow(200, |i| format!("  -\n    id: t{i}\n"))), None);
    // As is a split inside a nested sequence that runs to the end.
    let nested = format!("{}    labels:\n{}", workflow(1, plain), "    - x\n".repeat(400));
    assert_eq!(halves(&nested), None);
}

#[test]
fn text_the_halves_could_read_otherwise_is_left_to_the_whole_parse() {
    let base = workflow(200, plain);
    let cases = [
        // Interpolation, tabs, carriage returns.
        base.replace("reward: 1.25", "reward: ${R:-1}"),
        base.replace("    reward", "\treward"),
        base.replace('\n', "\r\n"),
        // An anchor (and its alias) anywhere.
        base.replace("  - id: t150\n", "  - id: &x t150\n    name: *x\n"),
        // Another key after the tasks.
        base.clone() + "lifecycle: standard\n",
        // A syntax error, or a duplicate key, in either half.
        base.replace("  - id: t150\n", "  - id: [t150\n"),
        base.replace("  - id: t150\n", "  - id: t150\n    id: again\n"),
        base.replace("  - id: t50\n", "  - id: t50\n    id: again\n"),
    ];
    for text in &cases {
        assert_eq!(halves(text), None, "{}", &text[..text.len().min(200)]);
    }
    assert_eq!(parse(0, &base, base.len() + 1), None, "too small");
    // A quoted string over lines, one of which looks like an item: whichever line the split
    // takes, the halves are the whole tree or are not used.
    let text = workflow(200, |i| format!("  - id: t{i}\n    name: \"open\n  - id: x\"\n"));
    let _ = halves(&text);
}

fn mutated(lines: &[String], edits: &[(usize, usize)]) -> String {
    let mut lines = lines.to_vec();
    for &(at, what) in edits {
        let n = lines.len();
        let line = lines[at % n].clone();
        match what % 5 {
            0 => {
                lines.remove(at % n);
            }
            1 => lines.insert(at % n, line),
            2 => lines.insert(at % n, format!("  {line}")),
            3 => lines[at % n] = line.trim_start().to_string(),
            _ => lines.insert(at % n, "  # note".to_string()),
        }
    }
    lines.join("\n") + "\n"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn whenever_the_halves_join_they_are_the_whole_tree(edits in prop::collection::vec((any::<usize>(), any::<usize>()), 1..6)) {
        let lines: Vec<String> = workflow(120, plain).lines().map(str::to_string).collect();
        // `halves` compares with the whole parse whenever it joins.
        let _ = halves(&mutated(&lines, &edits));
    }
}
