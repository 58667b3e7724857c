//! The plan of a checked festival: waves of tasks that can run in parallel, the critical path,
//! totals. Pure: reads a [`Festival`], never a file or a ledger.

mod render;

use petgraph::algo::toposort;
use serde::Serialize;

pub use render::{dot, json, mermaid, text};

use crate::check::Festival;
use crate::spec::{Progress, TaskKind};

/// Waves, critical path and totals of a festival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `waves[w]` holds the tasks of wave `w`, in file order; wave 0 has no dependencies.
    pub waves: Vec<Vec<usize>>,
    /// The wave of each task.
    pub wave_of: Vec<usize>,
    /// The longest chain of dependent tasks, first to last.
    pub critical_path: Vec<usize>,
    /// Its length: seconds of estimates, or a count of tasks.
    pub critical_length: u64,
    /// Whether the critical path weighs tasks by `estimate` (else by count).
    pub by_estimate: bool,
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub tasks: usize,
    /// Tasks that are quality gates (festival gate steps).
    pub gate_tasks: usize,
    /// Gate scripts run when every task is judged once.
    pub gate_checks: usize,
    pub completed: usize,
    pub reward: String,
    pub worst_case_spend: String,
    pub budget: Option<String>,
    pub token: Option<String>,
}

/// Plans a festival. The festival is acyclic (checked), so every task gets a wave.
#[must_use]
pub fn plan(festival: &Festival) -> Plan {
    let n = festival.tasks.len();
    let order: Vec<usize> = match toposort(&festival.graph, None) {
        Ok(nodes) => nodes.into_iter().map(|n| n.index()).collect(),
        Err(_) => (0..n).collect(),
    };
    let by_estimate = festival.tasks.iter().any(|t| t.estimate_secs.is_some());
    let weight = |i: usize| {
        if by_estimate {
            festival.tasks[i].estimate_secs.unwrap_or(0)
        } else {
            1
        }
    };
    let mut wave_of = vec![0usize; n];
    let mut length = vec![0u64; n];
    let mut previous: Vec<Option<usize>> = vec![None; n];
    for &task in &order {
        let deps = festival.dependencies(task);
        wave_of[task] = deps.iter().map(|&d| wave_of[d] + 1).max().unwrap_or(0);
        let best = deps.iter().copied().max_by_key(|&d| (length[d], std::cmp::Reverse(d)));
        length[task] = weight(task) + best.map_or(0, |d| length[d]);
        previous[task] = best;
    }
    let mut waves = vec![Vec::new(); wave_of.iter().max().map_or(0, |m| m + 1)];
    for (task, &wave) in wave_of.iter().enumerate() {
        waves[wave].push(task);
    }
    let end = (0..n).max_by_key(|&i| (length[i], std::cmp::Reverse(i)));
    let mut critical_path = Vec::new();
    let mut cursor = end;
    while let Some(task) = cursor {
        critical_path.push(task);
        cursor = previous[task];
    }
    critical_path.reverse();
    Plan {
        waves,
        wave_of,
        critical_length: end.map_or(0, |e| length[e]),
        critical_path,
        by_estimate,
        totals: totals(festival),
    }
}

fn totals(festival: &Festival) -> Totals {
    let tasks = &festival.tasks;
    Totals {
        tasks: tasks.len(),
        gate_tasks: tasks.iter().filter(|t| matches!(t.kind, TaskKind::Gate(_))).count(),
        gate_checks: tasks.iter().map(|t| t.gates.len()).sum(),
        completed: tasks.iter().filter(|t| t.progress == Progress::Completed).count(),
        reward: festival.spend.total_amount().to_string(),
        worst_case_spend: festival.spend.worst_case_amount().to_string(),
        budget: festival.payment.budget.as_ref().map(|b| b.value.to_string()),
        token: festival.payment.token.as_ref().map(|t| t.value.clone()),
    }
}

/// Formats seconds as `1h30m`, `45s`, `2d3h`.
#[must_use]
pub fn human_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let parts = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut rest = secs;
    let mut out = String::new();
    for (size, unit) in parts {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}
