//! The plan as text for people, JSON for programs, DOT and Mermaid for drawings.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Plan, Totals, human_duration};
use crate::check::Festival;
use crate::spec::{Progress, TaskKind};

fn length_text(plan: &Plan) -> String {
    if plan.by_estimate {
        human_duration(plan.critical_length)
    } else {
        format!("{} task(s)", plan.critical_length)
    }
}

fn status_word(progress: Progress) -> &'static str {
    match progress {
        Progress::Pending => "pending",
        Progress::InProgress => "in_progress",
        Progress::Blocked => "blocked",
        Progress::Completed => "completed",
    }
}

/// The plan for a terminal.
#[must_use]
pub fn text(festival: &Festival, plan: &Plan) -> String {
    let mut out = String::new();
    let title = if festival.name.is_empty() {
        &festival.id
    } else {
        &festival.name
    };
    let _ = writeln!(out, "festival {} ({})", festival.id, title);
    for (w, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(out, "\nwave {} ({} task(s) in parallel)", w + 1, wave.len());
        for &i in wave {
            let task = &festival.tasks[i];
            let gate = match &task.kind {
                TaskKind::Gate(kind) => format!(" [gate: {kind}]"),
                TaskKind::Work => String::new(),
            };
            let reward = task
                .reward
                .as_ref()
                .map(|r| format!("  reward {}", r.value))
                .unwrap_or_default();
            let status = if task.progress == Progress::Pending {
                String::new()
            } else {
                format!("  ({})", status_word(task.progress))
            };
            let _ = writeln!(out, "  {}{gate}{reward}{status}", task.id.value);
        }
    }
    let path: Vec<&str> = plan
        .critical_path
        .iter()
        .map(|&i| festival.tasks[i].id.value.as_str())
        .collect();
    let _ = writeln!(out, "\ncritical path ({}): {}", length_text(plan), path.join(" -> "));
    write_totals(&mut out, &plan.totals, plan.waves.len());
    out
}

fn write_totals(out: &mut String, totals: &Totals, waves: usize) {
    let token = totals
        .token
        .as_deref()
        .map(|t| format!(" (token {t})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "totals: {} task(s) in {waves} wave(s), {} gate task(s), {} gate check(s), {} completed",
        totals.tasks, totals.gate_tasks, totals.gate_checks, totals.completed
    );
    let budget = totals
        .budget
        .as_deref()
        .map(|b| format!(", budget {b}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "spend: reward {}, worst case {}{budget}{token}",
        totals.reward, totals.worst_case_spend
    );
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    festival: &'a str,
    name: &'a str,
    waves: usize,
    tasks: Vec<JsonTask<'a>>,
    critical_path: Vec<&'a str>,
    critical_path_length: u64,
    critical_path_unit: &'static str,
    totals: &'a Totals,
}

#[derive(Serialize)]
struct JsonTask<'a> {
    id: &'a str,
    name: &'a str,
    wave: usize,
    depends_on: Vec<&'a str>,
    status: &'static str,
    gate: bool,
    gate_type: Option<&'a str>,
    reward: Option<String>,
    agent: Option<&'a str>,
}

/// The plan as one JSON object.
#[must_use]
pub fn json(festival: &Festival, plan: &Plan) -> String {
    let tasks = festival
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| JsonTask {
            id: &t.id.value,
            name: &t.name,
            wave: plan.wave_of[i] + 1,
            depends_on: festival
                .dependencies(i)
                .into_iter()
                .map(|d| festival.tasks[d].id.value.as_str())
                .collect(),
            status: status_word(t.progress),
            gate: matches!(t.kind, TaskKind::Gate(_)),
            gate_type: match &t.kind {
                TaskKind::Gate(kind) => Some(kind),
                TaskKind::Work => None,
            },
            reward: t.reward.as_ref().map(|r| r.value.to_string()),
            agent: t.agent.as_ref().map(|a| a.value.as_str()),
        })
        .collect();
    let value = JsonPlan {
        festival: &festival.id,
        name: &festival.name,
        waves: plan.waves.len(),
        tasks,
        critical_path: plan
            .critical_path
            .iter()
            .map(|&i| festival.tasks[i].id.value.as_str())
            .collect(),
        critical_path_length: plan.critical_length,
        critical_path_unit: if plan.by_estimate { "seconds" } else { "tasks" },
        totals: &plan.totals,
    };
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The DAG in Graphviz DOT, one cluster per wave, the critical path in bold.
#[must_use]
pub fn dot(festival: &Festival, plan: &Plan) -> String {
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  node [shape=box];\n",
        quoted(&festival.id)
    );
    for (w, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_wave_{} {{\n    label=\"wave {}\";",
            w + 1,
            w + 1
        );
        for &i in wave {
            let task = &festival.tasks[i];
            let shape = if matches!(task.kind, TaskKind::Gate(_)) {
                ", shape=diamond"
            } else {
                ""
            };
            let bold = if plan.critical_path.contains(&i) {
                ", penwidth=2"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    {} [label={}{shape}{bold}];",
                quoted(&task.id.value),
                quoted(&task.name)
            );
        }
        out.push_str("  }\n");
    }
    for edge in festival.graph.raw_edges() {
        let (a, b) = (edge.source().index(), edge.target().index());
        let on_path = plan.critical_path.windows(2).any(|w| w[0] == a && w[1] == b);
        let style = if on_path { " [penwidth=2]" } else { "" };
        let _ = writeln!(
            out,
            "  {} -> {}{style};",
            quoted(&festival.tasks[a].id.value),
            quoted(&festival.tasks[b].id.value)
        );
    }
    out.push_str("}\n");
    out
}

/// The DAG as a Mermaid flowchart; gates as rhombi, the critical path highlighted.
#[must_use]
pub fn mermaid(festival: &Festival, plan: &Plan) -> String {
    let mut out = String::from("flowchart LR\n");
    let label = |text: &str| text.replace('"', "#quot;");
    for (w, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(out, "  subgraph wave{}[\"wave {}\"]", w + 1, w + 1);
        for &i in wave {
            let task = &festival.tasks[i];
            let name = label(&task.name);
            let node = if matches!(task.kind, TaskKind::Gate(_)) {
                format!("{{\"{name}\"}}")
            } else {
                format!("[\"{name}\"]")
            };
            let _ = writeln!(out, "    t{i}{node}");
        }
        out.push_str("  end\n");
    }
    for edge in festival.graph.raw_edges() {
        let _ = writeln!(out, "  t{} --> t{}", edge.source().index(), edge.target().index());
    }
    if !plan.critical_path.is_empty() {
        out.push_str("  classDef critical stroke-width:3px,stroke:#d33\n");
        let ids: Vec<String> = plan.critical_path.iter().map(|i| format!("t{i}")).collect();
        let _ = writeln!(out, "  class {} critical", ids.join(","));
    }
    out
}
