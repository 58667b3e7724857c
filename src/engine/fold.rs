//! Folding one event of the log into the state. A message that does not fit (a repeated id, the
//! wrong sender, an event the task's state does not allow) is rejected with its reason and
//! changes nothing.
//!
//! What "does not fit" means for the bad messages a festival meets (the shell has already
//! refused bytes that do not decode, other festivals' messages, unknown senders and bad
//! signatures, see `executor::log::to_event`):
//!
//! - *Replayed*: an id is used once in the log. A message whose id an earlier event took is
//!   rejected as already seen, whatever it says. Only messages that reach the engine take an id
//!   (a refused one does not, see [`Engine::refuse`]), so a forgery cannot spend the id of a
//!   genuine message. The same body under a fresh id fails its signature, which covers the id.
//! - *Forged*, by a sender whose signature holds: each sender sends only what is its own. An
//!   agent reports on tasks it holds and for itself, only an approver named by the transition
//!   answers an approval, only the coordinator assigns, judges, pays and fires its events.
//! - *Out of order*: consensus order is total and every replica folds the same sequence, so no
//!   message is early or late with respect to the log. A message is out of order when the
//!   task's lifecycle does not allow it where consensus placed it: a result for a task its
//!   sender does not hold (the reason says the sender is not assigned the task), or holds and
//!   has not started; a `start` for a task in review or paid (the reason names the task's
//!   state). Results carry no attempt on the wire, so a result from an earlier attempt is judged
//!   against the state the task is in when it arrives: a state without `submit` rejects it; a
//!   task back in a state that takes `submit`, still held by the same agent, takes it as that
//!   agent's result for the current attempt.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value as Json;

use super::event::{Event, Fact, Rejection, Sender};
use super::machine::{APPROVAL_EVENTS, Duty, is_coordinator_event};
use super::state::Verdict;
use super::{Engine, Nanos};

pub(super) type Folded = Result<(), String>;

impl Engine {
    /// Folds one event. A rejected event is recorded (see [`Engine::rejections`]).
    pub fn apply(&mut self, event: &Event) {
        if let Some(hash) = self.admit(event) {
            let result = self.fold(event);
            self.settle(event, result);
            self.seen.insert(hash, &event.id);
        }
    }

    /// Counts the event and its time; the hash of its id to take it with, or `None`, with the
    /// rejection recorded, if the id was seen. The id is taken after the fold, which never reads
    /// `seen`.
    fn admit(&mut self, event: &Event) -> Option<u64> {
        self.applied += 1;
        self.now = self.now.max(event.consensus);
        let hash = self.seen.fresh(&event.id);
        if hash.is_none() {
            self.settle(event, Err(format!("message id `{}` was already seen", event.id)));
        }
        hash
    }

    fn settle(&mut self, event: &Event, result: Folded) {
        if let Err(reason) = result {
            self.rejections.push(Rejection {
                position: event.position,
                consensus: event.consensus,
                id: event.id.clone(),
                sender: event.sender.to_string(),
                task: fact_task(&event.fact).map(str::to_string),
                reason,
            });
        }
    }

    /// Records a message that never reached the engine (bad schema, bad signature).
    pub fn reject(&mut self, position: u64, consensus: Nanos, id: &str, sender: &str, reason: String) {
        self.refuse(Rejection {
            position,
            consensus,
            id: id.to_string(),
            sender: sender.to_string(),
            task: None,
            reason,
        });
    }

    /// Records a message that never became an event, as the shell describes it (what it
    /// claims to be, and why it was refused). Its id is not taken: a forged message cannot
    /// make a genuine one with the same id look replayed.
    pub fn refuse(&mut self, rejection: Rejection) {
        self.applied += 1;
        self.now = self.now.max(rejection.consensus);
        self.rejections.push(rejection);
    }

    fn fold(&mut self, event: &Event) -> Folded {
        match &event.fact {
            Fact::Tick => Ok(()),
            Fact::Heartbeat { agent } => {
                let a = self.agent_sending(&event.sender, agent)?;
                self.agents[a].last_heartbeat = event.consensus;
                Ok(())
            }
            Fact::Assigned { task, agent, attempt } => {
                coordinator(&event.sender, "task_assignment")?;
                self.fold_assigned(task, agent, *attempt)
            }
            Fact::Status {
                task,
                agent,
                status,
                attempt,
            } => {
                let t = self.agents_task(&event.sender, task, Some(agent), *attempt)?;
                self.fold_status(t, status)
            }
            Fact::Result {
                task,
                completed,
                report,
                error,
                attempt,
                started,
            } => {
                let t = self.agents_task(&event.sender, task, None, *attempt)?;
                self.fold_result(t, *started, *completed, report, error.as_deref())
            }
            Fact::Judged {
                task,
                attempt,
                passed,
                verdicts,
            } => {
                coordinator(&event.sender, "quality_gate")?;
                self.fold_judged(task, *attempt, *passed, verdicts)
            }
            Fact::ApprovalRequested { task } => {
                coordinator(&event.sender, "approval_request")?;
                self.fold_request(task)
            }
            Fact::Answered { task, approve, reason } => {
                self.fold_answer(&event.sender, task, *approve, reason.as_deref())
            }
            Fact::PaymentIntended { tx, payments } => {
                coordinator(&event.sender, "payment_intent")?;
                self.fold_intent(tx, payments)
            }
            Fact::PaymentSettled {
                task,
                tx,
                status,
                amount,
            } => {
                coordinator(&event.sender, "payment_settled")?;
                self.fold_settled(task, tx, status, *amount)
            }
            Fact::Decided {
                task,
                event: name,
                reason,
            } => {
                coordinator(&event.sender, "task_event")?;
                self.fold_decided(task, name, reason)
            }
        }
    }

    /// An agent's result: its report kept, the task submitted for judging or failed. A result
    /// that says it begins the work fires the start first, where the start leads straight to the
    /// work with nothing on the way that could refuse it or the result
    /// ([`super::machine::Machine::works_on_start`]): an agent that finishes at once sends one
    /// message, not two.
    fn fold_result(
        &mut self,
        t: usize,
        started: bool,
        completed: bool,
        report: &Arc<Json>,
        error: Option<&str>,
    ) -> Folded {
        if started {
            if !completed {
                return Err(format!(
                    "a failed result on task `{}` cannot begin its work",
                    self.task_id(t)
                ));
            }
            if !self.machine(t).works_on_start[self.tasks[t].state] {
                return Err(self.not_in(t, "where a result may begin its work"));
            }
            self.fire(t, "start")?;
        }
        let (event_name, reason) = if completed {
            ("submit", None)
        } else {
            (
                "fail",
                Some(error.unwrap_or("the agent reported a failure").to_string()),
            )
        };
        self.fire(t, event_name)?;
        self.tasks[t].report = Some(report.clone());
        self.tasks[t].last_reason = reason;
        Ok(())
    }

    fn fold_request(&mut self, task: &str) -> Folded {
        let t = self.task_index(task)?;
        // A request overtaken by its answer (approvers may answer before the request is in the
        // log) is stale and changes nothing.
        if matches!(self.machine(t).duty[self.tasks[t].state], Duty::Approve(_)) {
            self.tasks[t].approval_requested = true;
        }
        self.tasks[t].busy = false;
        Ok(())
    }

    /// An event the coordinator fired on a task (a timeout, giving up, `pay` with nothing owed).
    fn fold_decided(&mut self, task: &str, name: &str, reason: &str) -> Folded {
        let t = self.task_index(task)?;
        if !is_coordinator_event(name) && name != "fail" && !self.is_timeout_event(t, name) {
            return Err(format!("`{name}` is not an event the coordinator fires"));
        }
        if name == "pay" && self.amount_owed(t) > 0 {
            return Err(format!("task `{task}` is owed a payment: `pay` needs a settlement"));
        }
        self.fire(t, name)?;
        self.tasks[t].last_reason = Some(reason.to_string());
        Ok(())
    }

    fn fold_assigned(&mut self, task: &str, agent: &str, attempt: u32) -> Folded {
        let t = self.task_index(task)?;
        let a = *self
            .agent_index
            .get(agent)
            .ok_or_else(|| format!("agent `{agent}` is not in the workflow"))?;
        if attempt != self.tasks[t].attempt {
            return Err(format!(
                "assignment of attempt {attempt}, but task `{task}` is at attempt {}",
                self.tasks[t].attempt
            ));
        }
        let was_busy = self.tasks[t].busy;
        self.fire(t, "assign")?;
        if was_busy {
            self.reserved = self.reserved.saturating_sub(1);
            let r = &mut self.agents[a].reserved;
            *r = r.saturating_sub(1);
        }
        self.hold(t, false);
        self.tasks[t].agent = Some(a);
        self.hold(t, true);
        self.agents[a].last_heartbeat = self.agents[a].last_heartbeat.max(self.now);
        Ok(())
    }

    fn fold_status(&mut self, t: usize, status: &str) -> Folded {
        let m = self.machine(t);
        let state = self.tasks[t].state;
        // Agents name the event far more often than the state: only the state costs a copy.
        let event: Cow<str> = if m.has_event(state, status) {
            Cow::Borrowed(status)
        } else {
            let target = m.state_index(status);
            m.leaving[state]
                .iter()
                .map(|&i| &m.edges[i])
                .find(|e| {
                    Some(e.to) == target && !is_coordinator_event(&e.on) && !APPROVAL_EVENTS.contains(&e.on.as_str())
                })
                .map(|e| Cow::Owned(e.on.clone()))
                .ok_or_else(|| format!("status `{status}` does not follow from state `{}`", m.states[state]))?
        };
        if is_coordinator_event(&event) || APPROVAL_EVENTS.contains(&&*event) {
            return Err(format!("an agent cannot fire `{event}`"));
        }
        self.fire(t, &event)
    }

    fn fold_judged(&mut self, task: &str, attempt: u32, passed: bool, verdicts: &serde_json::Value) -> Folded {
        let t = self.task_index(task)?;
        let s = &self.tasks[t];
        if !matches!(self.machine(t).duty[s.state], Duty::Judge(_)) {
            return self.judged_again(t, attempt, passed, verdicts);
        }
        if attempt != s.attempt {
            return Err(format!(
                "verdict on attempt {attempt}, but task `{task}` is at attempt {}",
                s.attempt
            ));
        }
        self.fire(t, if passed { "gates_passed" } else { "gates_failed" })?;
        let s = &mut self.tasks[t];
        s.verdict = Some(Verdict {
            attempt,
            passed,
            verdicts: verdicts.clone(),
        });
        Ok(())
    }

    /// A verdict on a task not waiting for one. A log written before a pass with no gates took
    /// no message holds that pass as a verdict: one that agrees with the fold (a pass of no
    /// gates, the same attempt) changes nothing, as a stale approval request; any other is
    /// refused.
    fn judged_again(&self, t: usize, attempt: u32, passed: bool, verdicts: &serde_json::Value) -> Folded {
        let no_gates = |v: &serde_json::Value| v.as_array().is_some_and(Vec::is_empty);
        let implied = self.tasks[t]
            .verdict
            .as_ref()
            .is_some_and(|v| v.attempt == attempt && v.passed && no_gates(&v.verdicts));
        if !implied {
            return Err(self.not_in(t, "waiting for its gates"));
        }
        if passed && no_gates(verdicts) {
            return Ok(());
        }
        Err(format!(
            "task `{}` had no gates to run at attempt {attempt}: it passed them as its result came",
            self.task_id(t)
        ))
    }

    fn fold_answer(&mut self, sender: &Sender, task: &str, approve: bool, reason: Option<&str>) -> Folded {
        let Sender::Approver(who) = sender else {
            return Err(format!(
                "only an approver may answer an approval request, not the {sender}"
            ));
        };
        let t = self.task_index(task)?;
        let Duty::Approve(edge) = self.machine(t).duty[self.tasks[t].state] else {
            return Err(self.not_in(t, "waiting for approval"));
        };
        let Some(approval) = self.machine(t).edges[edge].approval.clone() else {
            return Err(self.not_in(t, "waiting for approval"));
        };
        if !self.named_approvers(&approval).contains(who) {
            return Err(format!("approver `{who}` may not approve task `{task}` in this state"));
        }
        if !approve {
            self.fire(t, "reject")?;
            self.tasks[t].last_reason = Some(format!("rejected by {who}: {}", reason.unwrap_or("no reason given")));
            return Ok(());
        }
        if self.tasks[t].approvals.iter().any(|a| a == who) {
            return Err(format!("approver `{who}` already approved task `{task}`"));
        }
        self.tasks[t].approvals.push(who.clone());
        if self.tasks[t].approvals.len() >= approval.quorum.max(1) as usize {
            self.fire(t, "approve")?;
            self.tasks[t].last_reason = Some(format!("approved by {who}"));
        }
        Ok(())
    }

    fn agent_sending(&self, sender: &Sender, agent: &str) -> Result<usize, String> {
        match sender {
            Sender::Agent(id) if id == agent => self
                .agent_index
                .get(agent)
                .copied()
                .ok_or_else(|| format!("agent `{agent}` is not in the workflow")),
            other => Err(format!("the {other} cannot speak for agent `{agent}`")),
        }
    }

    /// The task an agent's message is about; the agent must hold it, in the attempt it names.
    fn agents_task(
        &self,
        sender: &Sender,
        task: &str,
        agent: Option<&str>,
        attempt: Option<u32>,
    ) -> Result<usize, String> {
        let Sender::Agent(who) = sender else {
            return Err(format!("only an agent reports on its task, not the {sender}"));
        };
        if let Some(named) = agent.filter(|a| *a != who) {
            return Err(format!("agent `{who}` cannot report for agent `{named}`"));
        }
        let t = self.task_index(task)?;
        let holder = self.tasks[t].agent.map(|a| self.festival.agents[a].id.value.as_str());
        if holder != Some(who.as_str()) {
            return Err(format!("agent `{who}` is not assigned task `{task}`"));
        }
        match attempt {
            Some(a) if a != self.tasks[t].attempt => Err(format!(
                "a report on attempt {a} of task `{task}`, which is at attempt {}",
                self.tasks[t].attempt
            )),
            _ => Ok(t),
        }
    }

    pub(super) fn task_index(&self, task: &str) -> Result<usize, String> {
        self.task_index
            .get(&self.festival, task)
            .ok_or_else(|| format!("task `{task}` is not in the festival"))
    }

    pub(super) fn not_in(&self, t: usize, what: &str) -> String {
        let m = self.machine(t);
        format!(
            "task `{}` is in state `{}`, not {what}",
            self.task_id(t),
            m.states[self.tasks[t].state]
        )
    }

    fn is_timeout_event(&self, t: usize, name: &str) -> bool {
        self.machine(t).timeouts.iter().flatten().any(|(_, e)| e == name)
    }
}

fn coordinator(sender: &Sender, what: &str) -> Folded {
    if *sender == Sender::Coordinator {
        Ok(())
    } else {
        Err(format!("only the coordinator may send `{what}`, not the {sender}"))
    }
}

fn fact_task(fact: &Fact) -> Option<&str> {
    match fact {
        Fact::Assigned { task, .. }
        | Fact::Status { task, .. }
        | Fact::Result { task, .. }
        | Fact::Judged { task, .. }
        | Fact::ApprovalRequested { task }
        | Fact::Answered { task, .. }
        | Fact::PaymentSettled { task, .. }
        | Fact::Decided { task, .. } => Some(task),
        Fact::PaymentIntended { payments, .. } => payments.first().map(|p| p.task.as_str()),
        Fact::Heartbeat { .. } | Fact::Tick => None,
    }
}

/// The valid start of a transaction id `payer@secs.nanos`, in nanoseconds (0 if unreadable).
pub(super) fn valid_start_of(tx: &str) -> Nanos {
    let Some((_, start)) = tx.split_once('@') else { return 0 };
    let Some((secs, nanos)) = start.split_once('.') else {
        return 0;
    };
    let secs: i64 = secs.parse().unwrap_or(0);
    let nanos: i64 = nanos.parse().unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

#[cfg(test)]
mod tests;
