//! `baton validate`: every problem in every file, at once.

use std::path::{Path, PathBuf};

use super::{DiagnosticFormat, FAILURE, INVALID, OK};
use crate::diagnostics::{self, Diagnostic, Sources};
use crate::load::{Loaded, load};
use crate::spec::ProcessEnv;

pub(super) fn run(paths: &[PathBuf], format: DiagnosticFormat, color: bool) -> u8 {
    let mut worst = OK;
    let mut json_items: Vec<serde_json::Value> = Vec::new();
    for path in paths {
        let Loaded {
            sources,
            festival,
            diagnostics,
        } = match load(path, &ProcessEnv) {
            Ok(loaded) => loaded,
            Err(e) => {
                eprintln!("error: {e}");
                worst = FAILURE;
                continue;
            }
        };
        match format {
            DiagnosticFormat::Human => report_human(
                path,
                &sources,
                &diagnostics,
                festival.as_ref().map(|f| f.tasks.len()),
                color,
            ),
            DiagnosticFormat::Json => json_items.extend(json_values(&sources, &diagnostics)),
        }
        if festival.is_none() && worst == OK {
            worst = INVALID;
        }
    }
    if format == DiagnosticFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json_items).unwrap_or_else(|_| "[]".into())
        );
    }
    worst
}

fn json_values(sources: &Sources, diagnostics: &[Diagnostic]) -> Vec<serde_json::Value> {
    let text = diagnostics::render_json(sources, diagnostics);
    serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap_or_default()
}

fn report_human(path: &Path, sources: &Sources, diagnostics: &[Diagnostic], tasks: Option<usize>, color: bool) {
    eprint!("{}", diagnostics::render_human(sources, diagnostics, color));
    let (errors, warnings) = diagnostics::tally(diagnostics);
    let warned = if warnings == 0 {
        String::new()
    } else {
        format!(", {warnings} warning(s)")
    };
    match tasks {
        Some(n) => eprintln!("{}: valid, {n} task(s){warned}", path.display()),
        None => eprintln!("{}: invalid, {errors} error(s){warned}", path.display()),
    }
}
