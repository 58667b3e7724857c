//! A festival from a workflow text, wired to a local ledger in a temp dir of its own, for the
//! tests that run a coordinator in process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use baton::check::Festival;
use baton::engine::Engine;
use baton::executor::{Wiring, setup};
use baton::ledger::{LocalLedger, Status};
use baton::wire::Keyring;

/// What [`wired`] made; its directory is removed when it is dropped.
pub(crate) struct Wired {
    pub(crate) dir: PathBuf,
    pub(crate) festival: Arc<Festival>,
    pub(crate) ledger: Arc<LocalLedger>,
    pub(crate) wiring: Wiring,
    pub(crate) keys: Keyring,
}

impl Drop for Wired {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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

/// Task `task` of `engine` is paid `reward`, by exactly one successful transfer on `ledger`.
pub(crate) fn assert_paid_by_one_transfer(engine: &Engine, ledger: &LocalLedger, task: &str, reward: i64) {
    let views = engine.task_views();
    let view = views
        .iter()
        .find(|v| v.id == task)
        .expect("the task is in the festival");
    assert_eq!((view.state.as_str(), view.paid), ("paid", Some(reward)), "{view:#?}");
    let tx = view.tx.as_deref().expect("a paid task names its transaction");
    let transfers = ledger.transfers().expect("transfers can be listed");
    let paying = transfers
        .iter()
        .filter(|t| t.3 == Status::Success && t.0.to_string() == tx)
        .count();
    assert_eq!(paying, 1, "{task}: {transfers:?}");
}
