//! The file formats: workflows and lifecycles, loaded with spans, interpolated, schema-checked, typed.
//!
//! This module reads files and reports what is wrong with them; it never judges references
//! between things (that is `check`) and never touches a ledger.

mod amount;
mod build;
pub mod interp;
pub mod schema;
mod types;
pub mod yaml;

use std::path::{Path, PathBuf};

pub use amount::Amount;
pub use build::{DEFAULT_DECIMALS, DEFAULT_MAX_ATTEMPTS, duration_secs};
pub use interp::{Env, ProcessEnv};
pub use types::*;

use crate::diagnostics::{Diagnostic, Sources};

/// The built-in lifecycle every workflow uses unless it names another.
pub const STANDARD_LIFECYCLE: &str = include_str!("../../workflows/lifecycles/standard.yaml");
/// The name the built-in lifecycle is known by.
pub const STANDARD_NAME: &str = "standard";

/// A file the command was asked to read could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{path}`: {source}")]
pub struct ReadError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Reads a file into `sources`, returning its id.
pub fn read(sources: &mut Sources, path: &Path) -> Result<crate::diagnostics::FileId, ReadError> {
    let text = std::fs::read(path).map_err(|source| ReadError {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(text).map_err(|e| ReadError {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8: {e}")),
    })?;
    Ok(sources.add(path, text))
}

/// A workflow file's first steps: syntax and interpolation, before the schema
/// ([`schema::validate`]); [`crate::load`] takes it on from there.
#[must_use]
pub fn parse_workflow(
    sources: &Sources,
    file: crate::diagnostics::FileId,
    env: &dyn Env,
) -> (Option<yaml::Node>, Vec<Diagnostic>) {
    yaml::parse(file, sources.text(file), env)
}

/// A workflow file's last step: the workflow a parsed document describes. It is what the file
/// means only where [`schema::validate`] found no error in `root`.
#[must_use]
pub fn build_workflow(sources: &Sources, file: crate::diagnostics::FileId, root: &yaml::Node) -> Workflow {
    build::workflow(file, sources.path(file).to_path_buf(), root)
}

/// Loads a lifecycle already in `sources`.
#[must_use]
pub fn lifecycle_from_source(
    sources: &Sources,
    file: crate::diagnostics::FileId,
    env: &dyn Env,
) -> (Option<Lifecycle>, Vec<Diagnostic>) {
    let (root, mut diagnostics) = yaml::parse(file, sources.text(file), env);
    let Some(root) = root else {
        return (None, diagnostics);
    };
    diagnostics.extend(schema::validate(schema::Kind::Lifecycle, &root));
    if diagnostics.iter().any(Diagnostic::is_error) {
        return (None, diagnostics);
    }
    (Some(build::lifecycle(file, &root)), diagnostics)
}

/// The built-in `standard` lifecycle, registered in `sources` so diagnostics can point into it.
#[must_use]
pub fn standard_lifecycle(sources: &mut Sources) -> (Option<Lifecycle>, Vec<Diagnostic>) {
    let file = sources.add(Path::new("<builtin>/standard.yaml"), STANDARD_LIFECYCLE.to_string());
    let no_env = std::collections::BTreeMap::<String, String>::new();
    lifecycle_from_source(sources, file, &no_env)
}
