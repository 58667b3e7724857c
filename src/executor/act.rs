//! Acting on the engine's commands: every decision goes to the log as a signed message before
//! anything acts on it; transfers execute only for intents already in the log. A transfer the
//! ledger refuses (an account not associated with the token, say) is settled in the log with its
//! status, then ends the run that submitted it with an error naming its tasks, agents, accounts
//! and the status.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::{Coordinator, RunError};
use crate::check::Festival;
use crate::engine::{Command, PaymentOrder};
use crate::gates::{Gate, GateInput};
use crate::ledger::{ConsensusTime, Ledger, LedgerError, Receipt, Status, TokenMove, TokenTransfer, TxId};
use crate::spec::GateUse;
use crate::wire::{
    ApprovalRequest, Assignment, Body, GateReport, IntendedPayment, PaymentIntent, Settlement, TaskEvent, VerdictRecord,
};

impl<L: Ledger> Coordinator<L> {
    pub(super) async fn act(&mut self, command: Command) -> Result<(), RunError> {
        match command {
            Command::Assign { task, agent, attempt } => {
                let t = self.task(&task)?;
                let body = Body::TaskAssignment(assignment(&self.festival, t, &agent, attempt));
                self.publish(body);
                Ok(())
            }
            Command::RunGates {
                task,
                attempt,
                gates,
                report,
                upstream,
            } => {
                let verdicts = self.judge(&task, attempt, &gates, &report, &upstream)?;
                let passed = verdicts.iter().all(|v| v.pass);
                let body = Body::QualityGate(GateReport {
                    task_id: task,
                    attempt,
                    passed,
                    verdicts,
                });
                self.publish(body);
                Ok(())
            }
            Command::RequestApproval {
                task,
                state,
                approvers,
                quorum,
            } => {
                let body = Body::ApprovalRequest(ApprovalRequest {
                    task_id: task,
                    state,
                    approvers,
                    quorum,
                });
                self.publish(body);
                Ok(())
            }
            Command::Pay { valid_start, payments } => self.intend(valid_start, payments).await,
            // The intent is in the log already (the engine asks for a transfer only then); the
            // step's other messages go with its settlements at the end of the step.
            Command::Transfer { tx, payments } => self.transfer(&tx, &payments).await,
            Command::Fire { task, event, reason } => {
                self.publish(Body::TaskEvent(TaskEvent {
                    task_id: task,
                    event,
                    reason,
                }));
                Ok(())
            }
        }
    }

    /// Runs each gate on the report; a gate that cannot give a verdict fails with its error.
    fn judge(
        &mut self,
        task: &str,
        attempt: u32,
        uses: &[GateUse],
        report: &Json,
        upstream: &Json,
    ) -> Result<Vec<VerdictRecord>, RunError> {
        let t = self.task(task)?;
        let spec = &self.festival.tasks[t];
        let task_json = json!({
            "id": spec.id.value, "name": spec.name, "attempt": attempt, "max_attempts": spec.max_attempts,
            "reward": spec.reward.as_ref().map(|r| r.value.to_string()), "inputs": spec.input,
        });
        let festival_json = json!({
            "id": self.festival.id,
            "variables": self.festival.variables.iter().cloned().collect::<HashMap<_, _>>(),
        });
        let mut out = Vec::new();
        for gate_use in uses {
            let name = &gate_use.name.value;
            let input = GateInput {
                task: task_json.clone(),
                report: report.clone(),
                params: gate_use.params.clone(),
                upstream: upstream.clone(),
                festival: festival_json.clone(),
            };
            let record = match self
                .gate(name)
                .map(|g| (self.gates.evaluate(&g, &input), g.hash.clone()))
            {
                Ok((Ok(v), _)) => VerdictRecord {
                    gate: v.gate,
                    script_hash: v.script_hash,
                    pass: v.pass,
                    reasons: v.reasons,
                    score: v.score,
                    error: None,
                },
                Ok((Err(e), hash)) => failed_record(name, hash, e.to_string()),
                Err(e) => failed_record(name, String::new(), e.to_string()),
            };
            out.push(record);
        }
        Ok(out)
    }

    fn gate(&mut self, name: &str) -> Result<Gate, crate::gates::GateError> {
        if let Some(g) = self.loaded_gates.get(name) {
            return Ok(g.clone());
        }
        let path = self
            .festival
            .gate_files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .unwrap_or_default();
        let gate = self.gates.load(name, &path)?;
        self.loaded_gates.insert(name.to_string(), gate.clone());
        Ok(gate)
    }

    async fn intend(&mut self, valid_start: i64, payments: Vec<PaymentOrder>) -> Result<(), RunError> {
        let tx = TxId {
            payer: self.wiring.treasury.clone(),
            valid_start: ConsensusTime(valid_start),
        };
        let mut intended = Vec::new();
        for p in payments {
            let account = self
                .wiring
                .accounts
                .get(&p.agent)
                .cloned()
                .ok_or_else(|| RunError::Task {
                    task: p.task.clone(),
                    operation: "payment intent",
                    reason: format!("agent `{}` has no account", p.agent),
                })?;
            intended.push(IntendedPayment {
                memo: memo(&p.task),
                task_id: p.task,
                agent_id: p.agent,
                account,
                amount: p.amount,
            });
        }
        self.fresh_intents.insert(tx.clone());
        let body = Body::PaymentIntent(PaymentIntent {
            tx_id: tx,
            token_id: self.wiring.token.clone(),
            payments: intended,
        });
        self.publish(body);
        Ok(())
    }

    /// Executes an intent from the log exactly once: a transaction the ledger already has is
    /// settled from its receipt; otherwise it is submitted with the intent's own id, which the
    /// ledger de-duplicates. When the ledger no longer keeps its receipt (Hedera's nodes keep
    /// them about three minutes) and refuses it again as a duplicate or as expired, it is settled
    /// from the ledger's lasting record ([`Ledger::settled_record`]): as it executed, or as
    /// `TRANSACTION_EXPIRED` when it never did and never can.
    async fn transfer(&mut self, tx: &str, payments: &[PaymentOrder]) -> Result<(), RunError> {
        let first = payments.first().map_or("", |p| p.task.as_str()).to_string();
        let context = |e: LedgerError| RunError::Task {
            task: first.clone(),
            operation: "payment transfer",
            reason: e.to_string(),
        };
        let tx: TxId = tx.parse().map_err(context)?;
        let fresh = self.fresh_intents.remove(&tx);
        let early = self.submitted.remove(&tx);
        let Some((receipt, submitted)) = self.patiently(&tx, payments, fresh, early).await.map_err(context)? else {
            tracing::warn!(task = %first, transaction = %tx, "stopped while the network did not answer: the intent stays in the log for the next run");
            return Ok(());
        };
        self.transfers_made += 1;
        for p in payments {
            let body = Body::PaymentSettled(Settlement {
                task_id: p.task.clone(),
                agent_id: p.agent.clone(),
                amount: p.amount,
                token_id: self.wiring.token.clone(),
                tx_status: receipt.status.to_string(),
                tx_id: tx.clone(),
            });
            self.publish(body);
        }
        if receipt.status != Status::Success {
            let reason = self.refusal(&tx, payments, receipt.status);
            // A refusal read back from a receipt or a record was met by an earlier run (which said
            // so) or expired while no run was there: it is in the log now, and the run goes on.
            if !submitted {
                tracing::warn!(task = %first, "payment transfer: {reason}");
                return Ok(());
            }
            return Err(RunError::Task {
                task: first,
                operation: "payment transfer",
                reason,
            });
        }
        Ok(())
    }

    /// Why a transfer the ledger refused ends the run: its status, and each payment it held with
    /// the agent and account it was for. Its settlements are in the log, so no restart retries it.
    fn refusal(&self, tx: &TxId, payments: &[PaymentOrder], status: Status) -> String {
        let paid: Vec<String> = payments
            .iter()
            .map(|p| {
                let account = self.wiring.accounts.get(&p.agent).map_or("?", |a| a.0.as_str());
                format!("`{}` to agent `{}` (account `{account}`)", p.task, p.agent)
            })
            .collect();
        let hint = match status {
            Status::TokenNotAssociatedToAccount => format!(
                "; every account paid must first be associated with token `{}`",
                self.wiring.token
            ),
            _ => String::new(),
        };
        let (what, verb) = if paid.len() == 1 {
            ("payment", "is")
        } else {
            ("payments", "are")
        };
        format!(
            "the ledger refused transaction `{tx}` with {status}: nothing moved; the {what} of {} {verb} \
             recorded in the log as refused and not retried{hint}",
            paid.join(", ")
        )
    }

    /// Carries out intent `tx` (reading its receipt first unless it is `fresh`, or from the
    /// `early` answer of [`Self::submit_together`]), again while the network does not answer:
    /// the intent is in the log and the ledger de-duplicates by its id, so asking again, or
    /// submitting again, cannot pay twice. Pauses double from 1 s to 30 s, for
    /// [`Options::network_patience`](super::Options) in all; `None` when the run is stopped
    /// meanwhile.
    async fn patiently(
        &self,
        tx: &TxId,
        payments: &[PaymentOrder],
        mut fresh: bool,
        mut early: Option<Result<Receipt, LedgerError>>,
    ) -> Result<Option<(Receipt, bool)>, LedgerError> {
        let mut pause = Duration::from_secs(1);
        let mut waited = Duration::ZERO;
        loop {
            let attempt = match (early.take(), fresh) {
                (Some(answer), _) => self.answered(tx, answer).await,
                (None, true) => self.submit_transfer(tx, payments).await,
                (None, false) => match self.ledger.receipt(tx).await {
                    Ok(Some(receipt)) => Ok((receipt, false)),
                    Ok(None) => self.submit_transfer(tx, payments).await,
                    Err(e) => Err(e),
                },
            };
            match attempt {
                Err(LedgerError::Network { operation, reason }) if waited < self.network_patience => {
                    tracing::warn!(transaction = %tx, %operation, %reason, "the network did not answer: asking again in {pause:?}");
                    tokio::select! {
                        () = self.stop.cancelled() => return Ok(None),
                        () = tokio::time::sleep(pause) => {}
                    }
                    waited += pause;
                    pause = (pause * 2).min(Duration::from_secs(30));
                    fresh = false;
                }
                Err(LedgerError::Network { .. }) if self.stop.is_cancelled() => return Ok(None),
                other => return other.map(Some),
            }
        }
    }

    /// Submits the step's transfers of intents this run just published together, where there
    /// are several: the ledger may commit them at once (the local one does). Each answer waits
    /// in [`Self::submitted`] for [`Self::transfer`], which acts on it as on its own submission.
    /// When the ledger fails them all, nothing was executed, and each is submitted on its own.
    pub(super) async fn submit_together(&mut self, commands: &[Command]) {
        self.submitted.clear();
        let transfers: Vec<TokenTransfer> = commands
            .iter()
            .filter_map(|c| match c {
                Command::Transfer { tx, payments } => {
                    let tx: TxId = tx.parse().ok().filter(|tx| self.fresh_intents.contains(tx))?;
                    self.transfer_of(tx, payments).ok()
                }
                _ => None,
            })
            .collect();
        if transfers.len() < 2 {
            return;
        }
        if let Ok(answers) = self.ledger.transfer_all(&transfers).await {
            self.submitted = transfers.into_iter().map(|t| t.tx).zip(answers).collect();
        }
    }

    /// Submits the transfer of an intent under its own id; its receipt, and whether it is this
    /// submission's (`false` when the ledger had the id already and the outcome is read back).
    async fn submit_transfer(&self, tx: &TxId, payments: &[PaymentOrder]) -> Result<(Receipt, bool), LedgerError> {
        let t = self.transfer_of(tx.clone(), payments)?;
        let answer = self.ledger.transfer(&t.tx, &t.token, &t.moves, &t.memo).await;
        self.answered(tx, answer).await
    }

    /// The ledger's answer to the submission of `tx` as a receipt, and whether it is this
    /// submission's: a duplicate or an expired transaction is read back.
    async fn answered(&self, tx: &TxId, answer: Result<Receipt, LedgerError>) -> Result<(Receipt, bool), LedgerError> {
        match answer {
            Err(LedgerError::Duplicate(_)) => match self.ledger.receipt(tx).await? {
                Some(receipt) => Ok((receipt, false)),
                None => Ok((self.settled_record(tx, "a duplicate").await?, false)),
            },
            Err(LedgerError::Expired(_)) => Ok((self.settled_record(tx, "expired").await?, false)),
            other => other.map(|receipt| (receipt, true)),
        }
    }

    /// The transfer paying `payments` from the treasury under `tx`: one movement per account.
    fn transfer_of(&self, tx: TxId, payments: &[PaymentOrder]) -> Result<TokenTransfer, LedgerError> {
        let mut moves: Vec<TokenMove> = Vec::new();
        let mut total = 0i64;
        for p in payments {
            let account = self
                .wiring
                .accounts
                .get(&p.agent)
                .cloned()
                .ok_or_else(|| LedgerError::Other(format!("agent `{}` has no account", p.agent)))?;
            total += p.amount;
            match moves.iter_mut().find(|m| m.account == account) {
                Some(m) => m.amount += p.amount,
                None => moves.push(TokenMove {
                    account,
                    amount: p.amount,
                }),
            }
        }
        moves.insert(
            0,
            TokenMove {
                account: self.wiring.treasury.clone(),
                amount: -total,
            },
        );
        let tasks: Vec<&str> = payments.iter().map(|p| p.task.as_str()).collect();
        Ok(TokenTransfer {
            tx,
            token: self.wiring.token.clone(),
            moves,
            memo: transfer_memo(&tasks),
        })
    }

    /// The outcome of `tx` from the ledger's lasting record, once the ledger has no receipt of
    /// it and refused it again as `refused_as`.
    async fn settled_record(&self, tx: &TxId, refused_as: &str) -> Result<Receipt, LedgerError> {
        let receipt = self.ledger.settled_record(tx).await?.ok_or_else(|| {
            LedgerError::Other(format!(
                "transaction `{tx}` was refused as {refused_as}, the ledger keeps no receipt of it and has no \
                 record of it yet: run again later to settle it"
            ))
        })?;
        tracing::info!(transaction = %tx, status = %receipt.status, "settled from the ledger's record");
        Ok(receipt)
    }
}

fn failed_record(gate: &str, script_hash: String, error: String) -> VerdictRecord {
    VerdictRecord {
        gate: gate.to_string(),
        script_hash,
        pass: false,
        reasons: vec![error.clone()],
        score: None,
        error: Some(error),
    }
}

/// The assignment of task `t` to `agent`, as the coordinator publishes it and an agent reads it.
#[must_use]
pub fn assignment(festival: &Festival, t: usize, agent: &str, attempt: u32) -> Assignment {
    let spec = &festival.tasks[t];
    Assignment {
        task_id: spec.id.value.clone(),
        task_name: spec.name.clone(),
        agent_id: agent.to_string(),
        attempt,
        command: spec.input.get("command").and_then(Json::as_str).map(str::to_string),
        input: spec.input.clone(),
        dependencies: spec.depends_on.iter().map(|d| d.value.clone()).collect(),
    }
}

/// The original coordinator's payment memo.
#[must_use]
pub fn memo(task: &str) -> String {
    format!("payment:task:{task}")
}

/// Hedera's limit on a transaction's memo, in bytes.
const MAX_MEMO_BYTES: usize = 100;

/// A transfer's memo: the original coordinator's `payment:task:<id>` for one task, and
/// `payment:task:<id>,<id>,...` for a batch, within Hedera's 100 bytes. Ids that do not fit are
/// counted instead (`... +3`): the payment intent in the log, under the same transaction id,
/// names every task the transfer pays.
#[must_use]
pub fn transfer_memo(tasks: &[&str]) -> String {
    let mut memo = memo(tasks.first().copied().unwrap_or_default());
    for (i, task) in tasks.iter().enumerate().skip(1) {
        let rest = tasks.len() - i;
        let room = MAX_MEMO_BYTES.saturating_sub(format!(" +{}", rest - 1).len());
        if (rest == 1 && memo.len() + 1 + task.len() <= MAX_MEMO_BYTES) || memo.len() + 1 + task.len() <= room {
            memo.push(',');
            memo.push_str(task);
        } else {
            memo.push_str(&format!(" +{rest}"));
            break;
        }
    }
    truncate(&memo, MAX_MEMO_BYTES)
}

fn truncate(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::transfer_memo;

    #[test]
    fn memos_name_what_fits_in_100_bytes_and_count_the_rest() {
        assert_eq!(transfer_memo(&["t1"]), "payment:task:t1");
        assert_eq!(transfer_memo(&["t1", "t2", "t3"]), "payment:task:t1,t2,t3");
        let long: Vec<String> = (0..10).map(|i| format!("hcs-subscription-resume-{i}")).collect();
        let ids: Vec<&str> = long.iter().map(String::as_str).collect();
        let memo = transfer_memo(&ids);
        assert!(memo.len() <= 100, "{memo}");
        assert_eq!(
            memo,
            "payment:task:hcs-subscription-resume-0,hcs-subscription-resume-1,hcs-subscription-resume-2 +7"
        );
        let huge = "x".repeat(150);
        assert_eq!(transfer_memo(&[&huge]).len(), 100);
    }
}
