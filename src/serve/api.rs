//! The JSON API's reads: the festival and its plan, the tasks (what `baton status --format json`
//! prints), the log since a position, and the approvals waiting. None needs the token.

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use super::AppState;
use super::follow::{Live, Shared};
use crate::cli::status;
use crate::plan;
use crate::spec::TransitionGates;

/// `GET /api/festival`: the festival, its plan (waves, critical path, totals, as `baton plan
/// --format json`), each task's gates and lifecycle, and who answers approvals.
pub(super) async fn festival(State(app): State<AppState>) -> Json<Value> {
    Json(festival_json(&app.shared))
}

fn festival_json(shared: &Shared) -> Value {
    let festival = shared.festival.as_ref();
    let the_plan = plan::plan(festival);
    let mut value: Value = serde_json::from_str(&plan::json(festival, &the_plan)).unwrap_or_else(|_| json!({}));
    if let Some(tasks) = value.get_mut("tasks").and_then(Value::as_array_mut) {
        for (i, task) in tasks.iter_mut().enumerate() {
            let lifecycle = &festival.lifecycles[festival.task_lifecycle[i]];
            task["gates"] = json!(gate_names(festival, i));
            task["lifecycle"] = json!(lifecycle.name);
            task["initial_state"] = json!(lifecycle.initial.value);
        }
    }
    value["approvers"] = json!(festival.approvers.iter().map(|a| &a.id.value).collect::<Vec<_>>());
    value["signers"] = json!(shared.options.signers);
    value["decimals"] = json!(festival.payment.decimals);
    value["network"] = json!("local");
    value["state_dir"] = json!(shared.options.state.display().to_string());
    value
}

/// The gates that judge task `t`: its own when its lifecycle runs them, and those its
/// lifecycle's transitions list, each once.
fn gate_names(festival: &crate::check::Festival, t: usize) -> Vec<String> {
    let lifecycle = &festival.lifecycles[festival.task_lifecycle[t]];
    let mut names: Vec<String> = Vec::new();
    for transition in &lifecycle.transitions {
        let uses: Vec<&str> = match &transition.gates {
            TransitionGates::None => Vec::new(),
            TransitionGates::Task => festival.tasks[t].gates.iter().map(|g| g.name.value.as_str()).collect(),
            TransitionGates::Listed(listed) => listed.iter().map(|g| g.name.value.as_str()).collect(),
        };
        for name in uses {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// `GET /api/tasks`: `baton status --format json`, with where the log stands.
pub(super) async fn tasks(State(app): State<AppState>) -> Json<Value> {
    let attached = app.shared.attached().is_some();
    let live = app.shared.read();
    Json(tasks_json(&live, attached))
}

fn tasks_json(live: &Live, attached: bool) -> Value {
    let mut value = status::json(&live.engine);
    value["position"] = json!(live.position);
    value["log_found"] = json!(attached);
    value["log_error"] = json!(live.error);
    value
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct Since {
    #[serde(default)]
    since: u64,
}

/// `GET /api/events?since=N`: the messages after position N (decoded, or with the reason they
/// were rejected), oldest first.
pub(super) async fn events(State(app): State<AppState>, Query(query): Query<Since>) -> Json<Value> {
    Json(app.shared.events_since(query.since))
}

/// `GET /api/approvals`: the tasks waiting for approval, who may answer each and which of them
/// this server signs as.
pub(super) async fn approvals(State(app): State<AppState>) -> Json<Value> {
    let live = app.shared.read();
    Json(approvals_json(&app.shared, &live))
}

fn approvals_json(shared: &Shared, live: &Live) -> Value {
    let engine = &live.engine;
    let waiting: Vec<Value> = engine
        .task_views()
        .into_iter()
        .enumerate()
        .filter(|(_, v)| v.waiting_for_approval)
        .map(|(t, v)| {
            let may = engine.approvers_for(t);
            let signers: Vec<&String> = may.iter().filter(|a| shared.options.signers.contains(a)).collect();
            json!({
                "task": v.id,
                "name": v.name,
                "state": v.state,
                "attempt": v.attempt,
                "may_answer": may,
                "signers": signers,
            })
        })
        .collect();
    json!({ "signers": shared.options.signers, "approvals": waiting })
}

/// What each event stream pushes: the tasks and the approvals, at one position of the log.
pub(super) fn snapshot(shared: &Shared) -> Value {
    let attached = shared.attached().is_some();
    let live = shared.read();
    json!({
        "status": tasks_json(&live, attached),
        "approvals": approvals_json(shared, &live),
    })
}
