//! Schema-valid YAML trees to typed workflows and lifecycles.
//!
//! Runs only after the schema passed, so shapes are known; it still never panics on a shape it
//! did not expect, it falls back to a default instead.

use std::path::PathBuf;

use serde_json::Value as Json;

use super::amount::Amount;
use super::types::{
    Agent, Approval, Approver, Effect, GateUse, Lifecycle, LifecycleRef, Payment, Progress, Spanned, Task, TaskKind,
    Timeout, Topics, Transition, TransitionGates, Workflow,
};
use super::yaml::{Node, Value};
use crate::diagnostics::FileId;

/// Default attempts per task when neither the task nor `defaults` says.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Default token decimals.
pub const DEFAULT_DECIMALS: u32 = 2;

fn text(node: &Node) -> Spanned<String> {
    let value = match &node.value {
        Value::String(s) | Value::Number(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    };
    Spanned::new(value, node.span)
}

fn opt_text(parent: &Node, key: &str) -> Option<Spanned<String>> {
    parent.get(key).filter(|n| n.value != Value::Null).map(text)
}

fn texts(parent: &Node, key: &str) -> Vec<Spanned<String>> {
    parent
        .get(key)
        .map(|n| n.as_seq().iter().map(text).collect())
        .unwrap_or_default()
}

fn int(parent: &Node, key: &str) -> Option<u64> {
    match &parent.get(key)?.value {
        Value::Number(n) => n.parse().ok(),
        _ => None,
    }
}

fn amount(node: &Node) -> Option<Spanned<Amount>> {
    match &node.value {
        Value::Number(t) | Value::String(t) => Amount::parse(t).map(|a| Spanned::new(a, node.span)),
        _ => None,
    }
}

/// Parses `30s`, `5m`, `1h30m`, `2d`, `250ms` (rounded up to seconds) or a number of seconds.
#[must_use]
pub fn duration_secs(node: &Node) -> Option<u64> {
    match &node.value {
        Value::Number(n) => n.parse().ok(),
        Value::String(s) => parse_duration(s),
        _ => None,
    }
}

fn parse_duration(s: &str) -> Option<u64> {
    let mut total_ms: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: u64 = rest.get(..digits)?.parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let factor_ms: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        total_ms = total_ms.checked_add(number.checked_mul(factor_ms)?)?;
        rest = &rest[unit_len..];
    }
    Some(total_ms.div_ceil(1_000))
}

fn json(node: Option<&Node>) -> Json {
    node.map_or(Json::Null, Node::to_json)
}

fn gate_use(node: &Node) -> GateUse {
    match &node.value {
        Value::String(_) => GateUse {
            name: text(node),
            params: Json::Object(serde_json::Map::new()),
        },
        _ => GateUse {
            name: node
                .get("gate")
                .map(text)
                .unwrap_or_else(|| Spanned::new(String::new(), node.span)),
            params: node
                .get("params")
                .map_or_else(|| Json::Object(serde_json::Map::new()), Node::to_json),
        },
    }
}

fn gate_uses(node: Option<&Node>) -> Vec<GateUse> {
    node.map(|n| n.as_seq().iter().map(gate_use).collect())
        .unwrap_or_default()
}

/// Builds a workflow from a schema-valid root.
#[must_use]
pub(crate) fn workflow(file: FileId, path: PathBuf, root: &Node) -> Workflow {
    let festival = root.get("festival");
    let defaults = root.get("defaults");
    let tasks_node = root.get("tasks");
    let (tasks, festival_dir) = match tasks_node.map(|n| &n.value) {
        Some(Value::Seq(items)) => (items.iter().map(|t| task(t, defaults)).collect(), None),
        _ => (
            Vec::new(),
            tasks_node
                .and_then(|n| n.get("festival"))
                .map(|n| Spanned::new(PathBuf::from(text(n).value), n.span)),
        ),
    };
    Workflow {
        file,
        path,
        id: festival
            .and_then(|f| f.get("id"))
            .map_or_else(|| Spanned::new(String::new(), root.span), text),
        name: festival
            .and_then(|f| opt_text(f, "name"))
            .map(|s| s.value)
            .unwrap_or_default(),
        agents: root
            .get("agents")
            .map(|a| a.as_seq().iter().map(agent).collect())
            .unwrap_or_default(),
        approvers: root
            .get("approvers")
            .map(|a| a.as_seq().iter().map(approver).collect())
            .unwrap_or_default(),
        tasks,
        festival_dir,
        payment: payment(root.get("payment")),
        topics: topics(root.get("topics")),
        lifecycle: root.get("lifecycle").map_or_else(
            || LifecycleRef::Named(Spanned::new("standard".to_string(), root.span)),
            |n| lifecycle_ref(file, n),
        ),
        lifecycles: root
            .get("lifecycles")
            .map(|l| {
                l.as_map()
                    .iter()
                    .map(|(k, v)| (Spanned::new(k.name.clone(), k.span), lifecycle_ref(file, v)))
                    .collect()
            })
            .unwrap_or_default(),
        gates_dir: root
            .get("gates_dir")
            .map(|n| Spanned::new(PathBuf::from(text(n).value), n.span)),
        max_parallel: int(root, "max_parallel").and_then(|n| u32::try_from(n).ok()),
        variables: festival
            .and_then(|f| f.get("variables"))
            .map(|v| {
                v.as_map()
                    .iter()
                    .map(|(k, n)| (k.name.clone(), text(n).value))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn agent(node: &Node) -> Agent {
    Agent {
        id: node
            .get("id")
            .map_or_else(|| Spanned::new(String::new(), node.span), text),
        account: opt_text(node, "account"),
        public_key: opt_text(node, "public_key").map(|s| s.value),
        capabilities: texts(node, "capabilities"),
    }
}

fn approver(node: &Node) -> Approver {
    Approver {
        id: node
            .get("id")
            .map_or_else(|| Spanned::new(String::new(), node.span), text),
        account: opt_text(node, "account"),
        public_key: opt_text(node, "public_key").map(|s| s.value),
    }
}

fn payment(node: Option<&Node>) -> Payment {
    Payment {
        token: node.and_then(|n| opt_text(n, "token")),
        decimals: node
            .and_then(|n| int(n, "decimals"))
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(DEFAULT_DECIMALS),
        budget: node.and_then(|n| n.get("budget")).and_then(amount),
    }
}

fn topics(node: Option<&Node>) -> Topics {
    Topics {
        tasks: node.and_then(|n| opt_text(n, "tasks")).map(|s| s.value),
        status: node.and_then(|n| opt_text(n, "status")).map(|s| s.value),
    }
}

fn task(node: &Node, defaults: Option<&Node>) -> Task {
    let pick = |key: &str| node.get(key).or_else(|| defaults.and_then(|d| d.get(key)));
    let id = node
        .get("id")
        .map_or_else(|| Spanned::new(String::new(), node.span), text);
    Task {
        name: opt_text(node, "name").map_or_else(|| id.value.clone(), |s| s.value),
        id,
        depends_on: texts(node, "depends_on"),
        soft_depends_on: Vec::new(),
        agent: opt_text(node, "agent"),
        requires: pick("requires")
            .map(|n| n.as_seq().iter().map(text).collect())
            .unwrap_or_default(),
        reward: pick("reward").and_then(amount),
        input: json(node.get("input")),
        gates: gate_uses(pick("gates")),
        timeout_secs: pick("timeout").and_then(duration_secs),
        max_attempts: pick("max_attempts")
            .and_then(|n| text(n).value.parse().ok())
            .unwrap_or(DEFAULT_MAX_ATTEMPTS),
        estimate_secs: node.get("estimate").and_then(duration_secs),
        lifecycle: opt_text(node, "lifecycle"),
        kind: TaskKind::Work,
        progress: Progress::Pending,
    }
}

fn lifecycle_ref(file: FileId, node: &Node) -> LifecycleRef {
    match &node.value {
        Value::String(s) if s.ends_with(".yaml") || s.ends_with(".yml") || s.contains('/') => {
            LifecycleRef::File(Spanned::new(PathBuf::from(s), node.span))
        }
        Value::String(_) => LifecycleRef::Named(text(node)),
        _ => LifecycleRef::Inline(Box::new(lifecycle(file, node))),
    }
}

/// Builds a lifecycle from a schema-valid root.
#[must_use]
pub(crate) fn lifecycle(file: FileId, node: &Node) -> Lifecycle {
    Lifecycle {
        file,
        name: opt_text(node, "name").map_or_else(|| "inline".to_string(), |s| s.value),
        span: node.span,
        states: texts(node, "states"),
        initial: node
            .get("initial")
            .map_or_else(|| Spanned::new(String::new(), node.span), text),
        terminal: texts(node, "terminal"),
        transitions: node
            .get("transitions")
            .map(|t| t.as_seq().iter().map(transition).collect())
            .unwrap_or_default(),
        timeouts: node
            .get("timeouts")
            .map(|t| t.as_seq().iter().filter_map(timeout).collect())
            .unwrap_or_default(),
    }
}

fn transition(node: &Node) -> Transition {
    let from = match node.get("from") {
        Some(n) if matches!(n.value, Value::Seq(_)) => n.as_seq().iter().map(text).collect(),
        Some(n) => vec![text(n)],
        None => Vec::new(),
    };
    let gates = match node.get("gates") {
        None => TransitionGates::None,
        Some(n) if n.as_str() == Some("task") => TransitionGates::Task,
        Some(n) => TransitionGates::Listed(gate_uses(Some(n))),
    };
    Transition {
        span: node.span,
        from,
        to: node
            .get("to")
            .map_or_else(|| Spanned::new(String::new(), node.span), text),
        on: node
            .get("on")
            .map_or_else(|| Spanned::new(String::new(), node.span), text),
        when: opt_text(node, "when"),
        gates,
        effects: node
            .get("do")
            .map(|d| d.as_seq().iter().map(effect).collect())
            .unwrap_or_default(),
        approval: node.get("approval").and_then(approval),
    }
}

fn effect(node: &Node) -> Effect {
    let mut params = node.to_json();
    if let Json::Object(map) = &mut params {
        map.remove("effect");
    }
    Effect {
        kind: node
            .get("effect")
            .map_or_else(|| Spanned::new(String::new(), node.span), text),
        params,
    }
}

fn approval(node: &Node) -> Option<Approval> {
    match &node.value {
        Value::Bool(false) => None,
        Value::Bool(true) => Some(Approval {
            span: node.span,
            approvers: Vec::new(),
            quorum: 1,
        }),
        _ => Some(Approval {
            span: node.span,
            approvers: texts(node, "approvers"),
            quorum: int(node, "quorum").and_then(|q| u32::try_from(q).ok()).unwrap_or(1),
        }),
    }
}

fn timeout(node: &Node) -> Option<Timeout> {
    Some(Timeout {
        state: text(node.get("state")?),
        after_secs: duration_secs(node.get("after")?)?,
        on: text(node.get("on")?),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        let cases = [
            ("30s", Some(30)),
            ("5m", Some(300)),
            ("1h30m", Some(5400)),
            ("1d", Some(86_400)),
            ("250ms", Some(1)),
            ("5x", None),
            ("m", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_duration(input), expected, "input {input}");
        }
    }
}
