//! Snapshots: an engine restored from a snapshot of a log's prefix and folding the rest ends
//! where folding the whole log ends.

use std::sync::Arc;

use pretty_assertions::assert_eq;

use super::super::{Config, Engine, Event, Festival, Outcome, Snapshot, SnapshotError, fingerprint};
use super::flow::{THREE, World, drive};
use super::{Run, festival, shipped};

/// A festival's whole log, driven to its end.
fn log_of(festival: &Arc<Festival>, world: &mut World) -> Vec<Event> {
    let mut run = Run::new(festival.clone());
    drive(&mut run, world);
    run.log
}

fn folded(festival: &Arc<Festival>, log: &[Event]) -> Engine {
    let mut engine = Engine::new(festival.clone(), &Config::default()).expect("an engine");
    for event in log {
        engine.apply(event);
    }
    engine
}

/// A snapshot as it comes back from its file.
fn through_json(snapshot: &Snapshot) -> Snapshot {
    let text = serde_json::to_string(snapshot).expect("a snapshot serializes");
    serde_json::from_str(&text).expect("a snapshot reads back")
}

fn same(restored: &mut Engine, whole: &mut Engine) {
    assert_eq!(restored.snapshot(), whole.snapshot());
    assert_eq!(restored.task_views(), whole.task_views());
    assert_eq!(restored.rejections(), whole.rejections());
    assert_eq!(restored.counts(), whole.counts());
    assert_eq!(restored.decide(), whole.decide(), "the same commands next");
}

#[test]
fn a_restored_prefix_folds_the_rest_to_the_same_state() {
    let cases = [
        (shipped("release-pipeline.yaml"), World::default()),
        (shipped("hedera-foundation.yaml"), World::default()),
        (festival(THREE), failing("x")),
    ];
    for (festival, mut world) in cases {
        let log = log_of(&festival, &mut world);
        for cut in [0, 1, log.len() / 3, log.len() / 2, log.len() - 1, log.len()] {
            let prefix = folded(&festival, &log[..cut]);
            assert_eq!(
                serde_json::to_string(&prefix.snapshot_view()).expect("a view serializes"),
                serde_json::to_string(&prefix.snapshot()).expect("a snapshot serializes"),
                "what is written is what is read back"
            );
            let snapshot = through_json(&prefix.snapshot());
            let mut restored = Engine::restore(festival.clone(), &Config::default(), snapshot).expect("restores");
            assert_eq!(restored.snapshot(), prefix.snapshot(), "{}: at {cut}", festival.id);
            for event in &log[cut..] {
                restored.apply(event);
            }
            same(&mut restored, &mut folded(&festival, &log));
        }
        assert_ne!(
            folded(&festival, &log).replayed_outcome(),
            Outcome::Running,
            "{}",
            festival.id
        );
    }
}

#[test]
fn a_snapshot_keeps_only_the_timers_that_can_still_fire() {
    let festival = shipped("hedera-foundation.yaml");
    let log = log_of(&festival, &mut World::default());
    let timers = |cut: usize| {
        let json = serde_json::to_value(folded(&festival, &log[..cut]).snapshot()).expect("serializes");
        json["deadlines"].as_array().map_or(usize::MAX, Vec::len)
    };
    assert!((1..log.len()).any(|cut| timers(cut) > 0), "some timers on the way");
    assert_eq!(timers(log.len()), 0, "a finished festival has no timer left to fire");
}

#[test]
fn a_damaged_snapshot_is_refused_with_what_does_not_fit() {
    let festival = festival(THREE);
    let log = log_of(&festival, &mut World::default());
    let engine = folded(&festival, &log[..log.len() / 2]);
    let mut value = serde_json::to_value(engine.snapshot()).expect("serializes");
    value["tasks"][1]["state"] = 99.into();
    let damaged: Snapshot = serde_json::from_value(value).expect("still a snapshot's shape");
    let error = Engine::restore(festival.clone(), &Config::default(), damaged).err();
    assert!(
        matches!(&error, Some(SnapshotError::Mismatch(m)) if m.contains("task `y`")),
        "{error:?}"
    );
    let other = festival_of_one();
    let error = Engine::restore(other, &Config::default(), engine.snapshot()).err();
    assert!(
        matches!(&error, Some(SnapshotError::Mismatch(m)) if m.contains("tasks, the festival has 1")),
        "{error:?}"
    );
}

#[test]
fn the_fingerprint_follows_the_plan_and_the_settings() {
    let three = festival(THREE);
    let config = Config::default();
    assert_eq!(fingerprint(&three, &config), fingerprint(&festival(THREE), &config));
    assert_ne!(fingerprint(&three, &config), fingerprint(&festival_of_one(), &config));
    let longer = Config {
        heartbeat_grace_secs: 300,
        ..Config::default()
    };
    assert_ne!(fingerprint(&three, &config), fingerprint(&three, &longer));
}

fn failing(task: &str) -> World {
    let mut world = World::default();
    world.failing = vec![task.into()];
    world
}

fn festival_of_one() -> Arc<Festival> {
    festival(super::ONE_TASK)
}
