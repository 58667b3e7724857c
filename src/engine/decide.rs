//! Deciding what happens next: due timers, the duty of each task whose state changed, payments
//! in batches, transfers of intents in the log, and assignments of ready tasks.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json, json};

use super::event::{Command, PaymentOrder};
use super::machine::Duty;
use super::{Engine, Nanos};
use super::{MAX_AGENTS_PER_TRANSFER, MAX_PAYMENTS_PER_TRANSFER};
use crate::spec::{GateUse, TransitionGates};

const HEARTBEAT: usize = usize::MAX;

impl Engine {
    /// What should happen next, given everything folded so far and the latest consensus time.
    /// A command is given once: it is not repeated until its message is in the log, unless
    /// [`Engine::forget_in_flight`] is called.
    pub fn decide(&mut self) -> Vec<Command> {
        let mut out = Vec::new();
        self.due_deadlines(&mut out);
        let dirty = self.dirty.take();
        let mut orders = Vec::new();
        for &t in &dirty {
            self.duty(t, &mut out, &mut orders);
        }
        self.dirty.recycle(dirty);
        let groups = self.payments_due(orders);
        self.pay(groups, &mut out);
        self.transfers(&mut out);
        self.assign(&mut out);
        #[cfg(test)]
        self.assert_indexes();
        out
    }

    fn due_deadlines(&mut self, out: &mut Vec<Command>) {
        while let Some(&Reverse(deadline)) = self.deadlines.peek() {
            let (when, t, entered, k) = deadline;
            if when > self.now {
                break;
            }
            // The same deadline pushed twice is one deadline.
            while self.deadlines.peek() == Some(&Reverse(deadline)) {
                self.deadlines.pop();
            }
            let s = &self.tasks[t];
            if s.entered != entered {
                continue;
            }
            if s.busy {
                self.deadlines
                    .push(Reverse((self.now.saturating_add(1_000_000_000), t, entered, k)));
                continue;
            }
            let (event, reason) = if k == HEARTBEAT {
                let Some(a) = s.agent else { continue };
                let last = entered.max(self.agents[a].last_heartbeat);
                if self.now.saturating_sub(last) < self.grace {
                    self.deadlines
                        .push(Reverse((last.saturating_add(self.grace), t, entered, k)));
                    continue;
                }
                let agent = &self.festival.agents[a].id.value;
                (
                    "heartbeat_missed".to_string(),
                    format!("no heartbeat from agent `{agent}` for {}", secs(self.grace)),
                )
            } else {
                let m = self.machine(t);
                let Some((after, event)) = m.timeouts[s.state].get(k) else {
                    continue;
                };
                let reason = format!("no progress in state `{}` for {}", m.states[s.state], secs(*after));
                (event.clone(), reason)
            };
            self.fire_command(t, event, reason, out);
        }
    }

    fn fire_command(&mut self, t: usize, event: String, reason: String, out: &mut Vec<Command>) {
        self.tasks[t].busy = true;
        out.push(Command::Fire {
            task: self.task_id(t).to_string(),
            event,
            reason,
        });
    }

    fn duty(&mut self, t: usize, out: &mut Vec<Command>, orders: &mut Vec<PaymentOrder>) {
        let s = &self.tasks[t];
        if s.busy {
            return;
        }
        let m = self.machine(t);
        if s.state == m.initial {
            let max = self.festival.tasks[t].max_attempts;
            if s.attempt > max {
                if m.has_event(s.state, "fail") {
                    self.fire_command(t, "fail".into(), format!("all {max} attempts used"), out);
                }
            } else if self.dependencies_done(t) {
                self.ready.insert(t);
            }
            return;
        }
        match m.duty[s.state] {
            Duty::Judge(edge) => self.run_gates(t, edge, out),
            Duty::Approve(edge) if !s.approval_requested => self.request_approval(t, edge, out),
            Duty::Pay if s.intent.is_none() && s.paid.is_none() && s.payment_error.is_none() => {
                let amount = self.amount_owed(t);
                if amount == 0 {
                    self.fire_command(t, "pay".into(), "nothing to pay".into(), out);
                } else if let Some(a) = s.agent {
                    orders.push(PaymentOrder {
                        task: self.task_id(t).to_string(),
                        agent: self.festival.agents[a].id.value.clone(),
                        amount,
                    });
                    self.tasks[t].busy = true;
                }
            }
            Duty::Recover => self.recover(t, out),
            _ => {}
        }
    }

    /// The gates edge `edge` of task `t`'s lifecycle runs.
    pub(super) fn gates_of(&self, t: usize, edge: usize) -> &[GateUse] {
        match &self.machine(t).edges[edge].gates {
            TransitionGates::None => &[],
            TransitionGates::Task => &self.festival.tasks[t].gates,
            TransitionGates::Listed(list) => list,
        }
    }

    fn dependencies_done(&self, t: usize) -> bool {
        let node = self.festival.node(t);
        self.festival
            .graph
            .neighbors_directed(node, petgraph::Direction::Incoming)
            .all(|d| {
                let d = d.index();
                self.machine(d).done[self.tasks[d].state]
            })
    }

    fn run_gates(&mut self, t: usize, edge: usize, out: &mut Vec<Command>) {
        let gates = self.gates_of(t, edge).to_vec();
        let s = &self.tasks[t];
        let report = s.report.clone().unwrap_or_else(|| Arc::new(json!({})));
        let attempt = s.attempt;
        // Only gates read the tasks upstream: with none to run, building them is wasted.
        let upstream = if gates.is_empty() {
            Json::Object(Map::new())
        } else {
            self.upstream(t)
        };
        self.tasks[t].busy = true;
        out.push(Command::RunGates {
            task: self.task_id(t).to_string(),
            attempt,
            gates,
            report,
            upstream,
        });
    }

    /// Task id to `{verdict: {pass, reasons}, report}` of the tasks `t` depends on (built by hand:
    /// `json!` would serialize the reasons through serde).
    fn upstream(&self, t: usize) -> Json {
        let mut map = Map::new();
        for d in self.festival.dependencies(t) {
            let s = &self.tasks[d];
            let (pass, reasons) = s.verdict.as_ref().map_or((Json::Null, Vec::new()), |v| {
                (Json::Bool(v.passed), super::view::reasons(&v.verdicts))
            });
            let report = s.report.as_deref().cloned().unwrap_or(Json::Null);
            let reasons = Json::Array(reasons.into_iter().map(Json::String).collect());
            let mut verdict = Map::new();
            verdict.insert("pass".into(), pass);
            verdict.insert("reasons".into(), reasons);
            let mut entry = Map::new();
            entry.insert("verdict".into(), Json::Object(verdict));
            entry.insert("report".into(), report);
            map.insert(self.task_id(d).to_string(), Json::Object(entry));
        }
        Json::Object(map)
    }

    fn request_approval(&mut self, t: usize, edge: usize, out: &mut Vec<Command>) {
        let m = self.machine(t);
        let Some(approval) = &m.edges[edge].approval else {
            return;
        };
        let approvers = self.named_approvers(approval);
        let command = Command::RequestApproval {
            task: self.task_id(t).to_string(),
            state: m.states[self.tasks[t].state].clone(),
            approvers,
            quorum: approval.quorum.max(1),
        };
        self.tasks[t].busy = true;
        out.push(command);
    }

    fn recover(&mut self, t: usize, out: &mut Vec<Command>) {
        let state = self.tasks[t].state;
        let input = self.guard_input(t);
        let m = self.machine(t);
        let retry = m.select(state, "retry", &self.gates, &input).ok().flatten();
        let (event, reason) = if retry.is_some() {
            ("retry", "attempts remain".to_string())
        } else if m.has_event(state, "give_up") {
            (
                "give_up",
                format!("all {} attempts used", self.festival.tasks[t].max_attempts),
            )
        } else {
            return;
        };
        self.fire_command(t, event.into(), reason, out);
    }

    /// The transfers to make now: every payment due at once without a payment window; with one,
    /// only full transfers (ten payments, or nine agents) until the oldest payment held has waited
    /// the window or no other task is left to pay, when everything held goes.
    fn payments_due(&mut self, orders: Vec<PaymentOrder>) -> Vec<Vec<PaymentOrder>> {
        if self.payment_window == 0 {
            return batches(orders);
        }
        let now = self.now;
        self.held_payments.extend(orders.into_iter().map(|o| (now, o)));
        let waited = self
            .held_payments
            .first()
            .is_some_and(|(since, _)| now.saturating_sub(*since) >= self.payment_window);
        let everything = waited || self.open <= self.held_payments.len();
        if !everything && self.held_payments.len() < MAX_PAYMENTS_PER_TRANSFER {
            return Vec::new();
        }
        let since: HashMap<String, Nanos> = self.held_payments.iter().map(|(t, o)| (o.task.clone(), *t)).collect();
        let mut groups = batches(self.held_payments.drain(..).map(|(_, o)| o).collect());
        if !everything && groups.last().is_some_and(|b| !full(b)) {
            let rest = groups.pop().unwrap_or_default();
            self.held_payments = rest
                .into_iter()
                .map(|o| (since.get(&o.task).copied().unwrap_or(now), o))
                .collect();
        }
        groups
    }

    fn pay(&mut self, groups: Vec<Vec<PaymentOrder>>, out: &mut Vec<Command>) {
        for payments in groups {
            let valid_start = self.now.max(self.last_valid_start.saturating_add(1));
            self.last_valid_start = valid_start;
            out.push(Command::Pay { valid_start, payments });
        }
    }

    fn assign(&mut self, out: &mut Vec<Command>) {
        let mut capacity = self.max_parallel.saturating_sub(self.active + self.reserved);
        if capacity == 0 || self.ready.is_empty() {
            return;
        }
        let candidates: Vec<usize> = self.ready.iter().copied().collect();
        for t in candidates {
            if capacity == 0 {
                break;
            }
            let s = &self.tasks[t];
            if s.busy || s.state != self.machine(t).initial {
                self.ready.remove(&t);
                continue;
            }
            let Some(a) = self.choose_agent(t) else { continue };
            self.ready.remove(&t);
            self.tasks[t].busy = true;
            self.reserved += 1;
            self.agents[a].reserved += 1;
            capacity -= 1;
            out.push(Command::Assign {
                task: self.task_id(t).to_string(),
                agent: self.festival.agents[a].id.value.clone(),
                attempt: self.tasks[t].attempt,
            });
        }
    }

    /// The task's own agent, or the least loaded capable one (one that lost the task last).
    fn choose_agent(&self, t: usize) -> Option<usize> {
        let task = &self.festival.tasks[t];
        if let Some(named) = &task.agent {
            return self.agent_index.get(&named.value).copied();
        }
        let avoid = self.tasks[t].avoid;
        (0..self.agents.len())
            .filter(|&a| {
                task.requires
                    .iter()
                    .all(|r| self.agents[a].capabilities.iter().any(|c| c == &r.value))
            })
            .min_by_key(|&a| (Some(a) == avoid, self.agents[a].load + self.agents[a].reserved, a))
    }
}

/// Splits payments into transfers of at most ten payments to at most nine agents, in order.
/// Whether a transfer can take no more payments: ten, or nine agents besides the treasury.
fn full(batch: &[PaymentOrder]) -> bool {
    let mut agents: Vec<&str> = batch.iter().map(|p| p.agent.as_str()).collect();
    agents.sort_unstable();
    agents.dedup();
    batch.len() >= MAX_PAYMENTS_PER_TRANSFER || agents.len() >= MAX_AGENTS_PER_TRANSFER
}

pub(super) fn batches(orders: Vec<PaymentOrder>) -> Vec<Vec<PaymentOrder>> {
    let mut out: Vec<Vec<PaymentOrder>> = Vec::new();
    // Agents in the last batch, counted rather than copied: the batch itself says who is in it.
    let mut agents = 0;
    for order in orders {
        let new_agent = out.last().is_none_or(|b| b.iter().all(|p| p.agent != order.agent));
        let full = out
            .last()
            .is_none_or(|b| b.len() >= MAX_PAYMENTS_PER_TRANSFER || (new_agent && agents >= MAX_AGENTS_PER_TRANSFER));
        if full {
            out.push(Vec::with_capacity(MAX_PAYMENTS_PER_TRANSFER));
            agents = 0;
        }
        if full || new_agent {
            agents += 1;
        }
        if let Some(batch) = out.last_mut() {
            batch.push(order);
        }
    }
    out
}

fn secs(ns: Nanos) -> String {
    crate::plan::human_duration(u64::try_from(ns / 1_000_000_000).unwrap_or(0))
}
