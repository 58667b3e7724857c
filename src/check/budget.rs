//! Static spend analysis: rewards in the token's precision, totals, the worst case with retries.

use crate::diagnostics::{Code, Diagnostic};
use crate::spec::{Amount, Lifecycle, Workflow};

/// What a festival can spend, in the token's smallest units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spend {
    pub decimals: u32,
    /// Every task paid once.
    pub total: i128,
    /// Every task paid on every attempt its lifecycle could pay it again.
    pub worst_case: i128,
}

impl Spend {
    #[must_use]
    pub fn total_amount(&self) -> Amount {
        Amount::from_minor(self.total, self.decimals)
    }

    #[must_use]
    pub fn worst_case_amount(&self) -> Amount {
        Amount::from_minor(self.worst_case, self.decimals)
    }
}

/// Whether the lifecycle can pay a task more than once: a paying transition leaves a state that
/// lies on a cycle of the state machine (so an attempt after a payment can reach it again).
fn pays_per_attempt(lifecycle: &Lifecycle) -> bool {
    let edges: Vec<(&str, &str)> = lifecycle
        .transitions
        .iter()
        .flat_map(|t| {
            super::lifecycle::sources_of(lifecycle, &t.from)
                .into_iter()
                .map(move |f| (f, t.to.value.as_str()))
        })
        .collect();
    lifecycle
        .transitions
        .iter()
        .filter(|t| t.effects.iter().any(crate::spec::Effect::pays))
        .any(|t| {
            // A payment repeats when its target can lead back to one of its sources.
            let sources = super::lifecycle::sources_of(lifecycle, &t.from);
            let mut seen = vec![t.to.value.as_str()];
            let mut i = 0;
            while let Some(&state) = seen.get(i) {
                for (a, b) in &edges {
                    if *a == state && !seen.contains(b) {
                        seen.push(b);
                    }
                }
                i += 1;
            }
            sources.iter().any(|s| seen.contains(s))
        })
}

/// Checks every reward and the budget. Returns what the festival can spend.
pub(super) fn check(
    workflow: &Workflow,
    lifecycles: &[Lifecycle],
    task_lifecycle: &[usize],
    out: &mut Vec<Diagnostic>,
) -> Spend {
    let decimals = workflow.payment.decimals;
    let mut spend = Spend {
        decimals,
        total: 0,
        worst_case: 0,
    };
    for (i, task) in workflow.tasks.iter().enumerate() {
        let Some(reward) = &task.reward else { continue };
        if reward.value.is_negative() {
            out.push(
                Diagnostic::new(
                    Code::NegativeReward,
                    format!("task `{}` has a negative reward `{}`", task.id.value, reward.value),
                )
                .at(reward.span),
            );
            continue;
        }
        let Some(minor) = reward.value.to_minor(decimals) else {
            out.push(
                Diagnostic::new(
                    Code::RewardPrecision,
                    format!(
                        "task `{}` has reward `{}`, finer than the token's {decimals} decimal place(s)",
                        task.id.value, reward.value
                    ),
                )
                .at(reward.span)
                .with_hint(format!(
                    "round it to {decimals} decimal place(s), or raise `payment.decimals`"
                )),
            );
            continue;
        };
        let repeats = task_lifecycle
            .get(i)
            .and_then(|&l| lifecycles.get(l))
            .is_some_and(pays_per_attempt);
        let times = if repeats { i128::from(task.max_attempts) } else { 1 };
        spend.total = spend.total.saturating_add(minor);
        spend.worst_case = spend.worst_case.saturating_add(minor.saturating_mul(times));
    }
    check_budget(workflow, spend, out);
    spend
}

fn check_budget(workflow: &Workflow, spend: Spend, out: &mut Vec<Diagnostic>) {
    let Some(budget) = &workflow.payment.budget else {
        return;
    };
    let decimals = spend.decimals;
    let Some(limit) = budget.value.to_minor(decimals) else {
        out.push(
            Diagnostic::new(
                Code::RewardPrecision,
                format!(
                    "budget `{}` is finer than the token's {decimals} decimal place(s)",
                    budget.value
                ),
            )
            .at(budget.span),
        );
        return;
    };
    if limit < 0 {
        out.push(
            Diagnostic::new(Code::NegativeReward, format!("budget `{}` is negative", budget.value)).at(budget.span),
        );
    } else if spend.total > limit {
        out.push(
            Diagnostic::new(
                Code::OverBudget,
                format!(
                    "rewards total {}, over the budget of {}",
                    spend.total_amount(),
                    budget.value
                ),
            )
            .at(budget.span)
            .with_hint("raise the budget or lower rewards"),
        );
    } else if spend.worst_case > limit {
        out.push(
            Diagnostic::new(
                Code::WorstCaseOverBudget,
                format!(
                    "with every attempt paid, rewards could reach {}, over the budget of {}",
                    spend.worst_case_amount(),
                    budget.value
                ),
            )
            .at(budget.span)
            .with_hint("the lifecycle pays again after a retry; raise the budget or lower `max_attempts`"),
        );
    }
}
