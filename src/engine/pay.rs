//! Payment intents in the log: folding an intent and its settlements, and the transfers of
//! intents not settled yet.
//!
//! Intents are kept by index, in the order they reach the log; tasks name their intent by that
//! index, so that a task in an intent costs no copy of the transaction id. `unsettled` stays
//! sorted by transaction id: transfers are handed out in that order.

use super::Engine;
use super::event::{Command, PaymentOrder};
use super::fold::{Folded, valid_start_of};
use super::machine::Duty;
use super::state::Intent;

impl Engine {
    pub(super) fn fold_intent(&mut self, tx: &str, payments: &[PaymentOrder]) -> Folded {
        if self.intent_index.contains_key(tx) {
            return Err(format!("transaction `{tx}` already has an intent"));
        }
        let mut orders = Vec::with_capacity(payments.len());
        for p in payments {
            let t = self.task_index(&p.task)?;
            let s = &self.tasks[t];
            if self.machine(t).duty[s.state] != Duty::Pay {
                return Err(self.not_in(t, "waiting for payment"));
            }
            if let Some(other) = s.intent {
                return Err(format!(
                    "task `{}` is already in the intent of transaction `{}`",
                    p.task, self.intents[other].tx
                ));
            }
            let agent = s.agent.filter(|&a| self.festival.agents[a].id.value == p.agent);
            let Some(agent) = agent else {
                return Err(format!("task `{}` was not done by agent `{}`", p.task, p.agent));
            };
            if p.amount != self.amount_owed(t) {
                return Err(format!(
                    "task `{}` is owed {}, not {}",
                    p.task,
                    self.amount_owed(t),
                    p.amount
                ));
            }
            orders.push((t, agent, p.amount));
        }
        let i = self.intents.len();
        for &(t, _, _) in &orders {
            self.tasks[t].intent = Some(i);
            self.tasks[t].busy = false;
        }
        self.last_valid_start = self.last_valid_start.max(valid_start_of(tx));
        let at = self.unsettled_position(tx).unwrap_or_else(|at| at);
        self.unsettled.insert(at, i);
        self.intent_index.insert(tx.to_string(), i);
        self.intents.push(Intent {
            tx: tx.to_string(),
            payments: orders,
            settled: 0,
            transferring: false,
        });
        Ok(())
    }

    pub(super) fn fold_settled(&mut self, task: &str, tx: &str, status: &str, amount: i64) -> Folded {
        let t = self.task_index(task)?;
        let Some(i) = self.tasks[t].intent.filter(|&i| self.intents[i].tx == tx) else {
            return Err(format!("task `{task}` has no payment intent under transaction `{tx}`"));
        };
        if self.tasks[t].paid.is_some() || self.tasks[t].payment_error.is_some() {
            return Err(format!("the payment of task `{task}` is already settled"));
        }
        if status == "SUCCESS" {
            self.fire(t, "pay")?;
            self.tasks[t].paid = Some(amount);
        } else {
            self.tasks[t].payment_error = Some(format!("transfer `{tx}` failed: {status}"));
        }
        let intent = &mut self.intents[i];
        intent.settled += 1;
        if intent.settled >= intent.payments.len() {
            intent.transferring = false;
            if let Ok(at) = self.unsettled_position(tx) {
                self.unsettled.remove(at);
            }
        }
        Ok(())
    }

    /// Where intent `tx` is, or would go, in `unsettled`.
    fn unsettled_position(&self, tx: &str) -> Result<usize, usize> {
        self.unsettled
            .binary_search_by(|&i| self.intents[i].tx.as_str().cmp(tx))
    }

    /// A transfer for each intent in the log not settled and not with the shell yet, in order of
    /// transaction id, with the payments of its tasks not settled yet.
    pub(super) fn transfers(&mut self, out: &mut Vec<Command>) {
        let start = out.len();
        for &i in &self.unsettled {
            let intent = &self.intents[i];
            if intent.transferring {
                continue;
            }
            let payments: Vec<PaymentOrder> = intent
                .payments
                .iter()
                .filter(|&&(t, _, _)| self.tasks[t].paid.is_none() && self.tasks[t].payment_error.is_none())
                .map(|&(t, a, amount)| PaymentOrder {
                    task: self.task_id(t).to_string(),
                    agent: self.festival.agents[a].id.value.clone(),
                    amount,
                })
                .collect();
            out.push(Command::Transfer {
                tx: intent.tx.clone(),
                payments,
            });
        }
        if out.len() == start {
            return;
        }
        for &i in &self.unsettled {
            self.intents[i].transferring = true;
        }
    }
}
