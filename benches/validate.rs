//! Validate and plan a generated 10,000-task workflow (100 layers x 100 tasks, each depending on
//! two tasks of the layer before), end to end from the file, in release mode:
//! `cargo bench --bench validate`. The baseline, run in the same process, is saphyr-parser alone
//! reading the same text into events: the floor any YAML-based validator pays.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const LAYERS: usize = 100;
const RUNS: usize = 15;

fn time<F: FnMut()>(mut f: F) -> Duration {
    f();
    common::median(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let text = common::generate(LAYERS);
    let dir = std::env::temp_dir().join(format!("baton-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("bench.yaml");
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("cannot write {}: {e}", path.display());
        return;
    }
    let env = BTreeMap::<String, String>::new();
    let baseline = time(|| {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut parser = saphyr_parser::Parser::new_from_str(&text);
        while let Some(Ok(_)) = parser.next_event() {}
    });
    let validate = time(|| {
        let loaded = baton::load::load(&path, &env).unwrap_or_else(|e| panic!("{e}"));
        assert!(loaded.festival.is_some(), "the generated workflow must be valid");
    });
    let plan = time(|| {
        let loaded = baton::load::load(&path, &env).unwrap_or_else(|e| panic!("{e}"));
        let festival = loaded.festival.unwrap_or_else(|| panic!("invalid"));
        let planned = baton::plan::plan(&festival);
        assert_eq!(planned.waves.len(), LAYERS);
        let _ = baton::plan::text(&festival, &planned);
    });
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{} tasks, {} KiB of YAML, median of {RUNS} runs",
        LAYERS * common::WIDTH,
        text.len() / 1024
    );
    println!("baseline  (saphyr-parser events only): {:8.2} ms", ms(baseline));
    println!(
        "validate  (load, schema, check):       {:8.2} ms  ({:.1}x baseline)",
        ms(validate),
        ms(validate) / ms(baseline)
    );
    println!(
        "plan      (validate + plan + render):  {:8.2} ms  ({:.1}x baseline)",
        ms(plan),
        ms(plan) / ms(baseline)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
