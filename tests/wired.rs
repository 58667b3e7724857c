//! A festival from a workflow text, wired to a local ledger in a temp dir of its own, for the
//! tests that run a coordinator in process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use baton::check::Festival;
use baton::executor::{Wiring, setup};
use baton::ledger::LocalLedger;
use baton::wire::Keyring;

/// What [`wired`] made; the caller removes `dir` when done.
pub(crate) struct Wired {
    pub(crate) dir: PathBuf,
    pub(crate) festival: Arc<Festival>,
    pub(crate) ledger: Arc<LocalLedger>,
    pub(crate) wiring: Wiring,
    pub(crate) keys: Keyring,
}

/// Writes `workflow` (with `@GATES@` standing for the shipped gates) to `<dir>/<name>.yaml`, loads
/// it, and wires the festival to a local ledger under `<dir>/state`.
pub(crate) async fn wired(name: &str, workflow: &str) -> Wired {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("baton-{name}-{}-{nanos}", std::process::id()));
    let state = dir.join("state");
    std::fs::create_dir_all(&state).expect("the temp state dir can be created");
    let path = dir.join(format!("{name}.yaml"));
    let gates = concat!(env!("CARGO_MANIFEST_DIR"), "/gates");
    std::fs::write(&path, workflow.replace("@GATES@", gates)).expect("the workflow can be written");
    let loaded = baton::load::load(&path, &BTreeMap::new()).expect("the workflow can be read");
    let festival = Arc::new(loaded.festival.expect("the workflow is valid"));
    let ledger = Arc::new(LocalLedger::open(&state).expect("the local ledger opens"));
    let keys = setup::keyring(&state, &festival).expect("the keyring is created");
    let wiring = setup::local(&ledger, &state, &festival, &keys).await;
    let wiring = wiring.expect("the festival is wired to the local ledger");
    Wired {
        dir,
        festival,
        ledger,
        wiring,
        keys,
    }
}
