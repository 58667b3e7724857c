//! `baton schema`: the JSON Schemas compiled into the binary, for editors and other tools.

use clap::ValueEnum;

use super::OK;
use crate::spec::schema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    Workflow,
    Lifecycle,
}

pub(super) fn run(which: Which) -> u8 {
    match which {
        Which::Workflow => print!("{}", schema::WORKFLOW),
        Which::Lifecycle => print!("{}", schema::LIFECYCLE),
    }
    OK
}
