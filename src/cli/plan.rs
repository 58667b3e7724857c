//! `baton plan`: waves, critical path and spend, as text, JSON, DOT or Mermaid.

use std::path::Path;

use super::{FAILURE, INVALID, OK, PlanFormat};
use crate::diagnostics;
use crate::load::load;
use crate::plan;
use crate::spec::ProcessEnv;

pub(super) fn run(path: &Path, format: PlanFormat, color: bool) -> u8 {
    let loaded = match load(path, &ProcessEnv) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILURE;
        }
    };
    eprint!(
        "{}",
        diagnostics::render_human(&loaded.sources, &loaded.diagnostics, color)
    );
    let Some(festival) = loaded.festival else {
        let (errors, _) = diagnostics::tally(&loaded.diagnostics);
        eprintln!(
            "{}: invalid, {errors} error(s); run `baton validate` for details",
            path.display()
        );
        return INVALID;
    };
    let planned = plan::plan(&festival);
    let out = match format {
        PlanFormat::Text => plan::text(&festival, &planned),
        PlanFormat::Json => plan::json(&festival, &planned) + "\n",
        PlanFormat::Dot => plan::dot(&festival, &planned),
        PlanFormat::Mermaid => plan::mermaid(&festival, &planned),
    };
    print!("{out}");
    OK
}
