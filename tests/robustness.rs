//! No input makes the loader or the checker panic: arbitrary bytes, and mutations of a valid
//! workflow (lines dropped, duplicated, swapped, characters replaced).

use std::collections::BTreeMap;
use std::path::Path;

use baton::load::load_text;
use proptest::prelude::*;

const SEED: &str = include_str!("../workflows/quality-pipeline.yaml");

fn check(text: String) {
    let env = BTreeMap::<String, String>::new();
    let loaded = load_text(Path::new("workflows/fuzz.yaml"), text, &env);
    // Rendering must not panic either, whatever the spans are.
    let _ = baton::diagnostics::render_human(&loaded.sources, &loaded.diagnostics, false);
    let _ = baton::diagnostics::render_json(&loaded.sources, &loaded.diagnostics);
    if let Some(festival) = loaded.festival {
        let plan = baton::plan::plan(&festival);
        let _ = baton::plan::text(&festival, &plan);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Drop(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Replace(usize, char),
    Insert(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                ':', '-', '[', '{', '&', '*', '!', '"', ' ', '\t', '$', '}', '#', 'é'
            ])
        )
            .prop_map(|(a, c)| Mutation::Replace(a, c)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                "${X}",
                "- id: a",
                "  depends_on: [a]",
                "*x",
                "&x ",
                "reward: -1",
                "\u{0}",
                "? "
            ])
            .prop_map(str::to_string)
        )
            .prop_map(|(a, s)| Mutation::Insert(a, s)),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for m in mutations {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match m {
            Mutation::Drop(i) => {
                lines.remove(i % n);
            }
            Mutation::Duplicate(i) => lines.insert(i % n, lines[i % n].clone()),
            Mutation::Swap(a, b) => lines.swap(a % n, b % n),
            Mutation::Replace(i, c) => {
                let line = &mut lines[i % n];
                if let Some((at, _)) = line.char_indices().nth(i % line.chars().count().max(1)) {
                    line.replace_range(
                        at..at + line[at..].chars().next().map_or(0, char::len_utf8),
                        &c.to_string(),
                    );
                }
            }
            Mutation::Insert(i, s) => lines.insert(i % n, s.clone()),
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn mutated_workflows_never_panic(mutations in prop::collection::vec(mutation(), 1..6)) {
        check(apply(SEED, &mutations));
    }
}

#[test]
fn deep_nesting_and_alias_bombs_are_diagnostics() {
    let deep = format!("version: 1\nx: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    check(deep);
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "b{i}: &b{i} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
            p = if i == 1 { "a".to_string() } else { format!("b{}", i - 1) }
        ));
    }
    check(bomb);
}
