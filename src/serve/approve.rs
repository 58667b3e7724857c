//! Answers through the page: `POST /api/tasks/TASK/approve` and `POST /api/tasks/TASK/reject`,
//! with `Authorization: Bearer TOKEN` and an optional JSON body `{"as": APPROVER, "reason": R}`.
//!
//! Refusals change nothing and say why in `{"error": ...}`, naming the task and the approver:
//! 401 without the server's token, 400 for a body that is not the expected JSON or a rejection
//! without a reason, 404 for a task not in the festival, 403 for an approver the workflow does not
//! name, one this server does not sign as, or one who may not answer the task in its state, 409
//! for a task not waiting for approval (or already answered, until the log shows it). An answer
//! that passes is signed and published by [`crate::approval`], as `baton approve` does.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use serde_json::{Value, json};

use super::follow::{Attached, Shared, Source};
use super::{AppState, error};
use crate::approval::{self, Answer, ApprovalError};
use crate::ledger::ConsensusTime;

/// The body of an answer; both fields are optional (a rejection needs its reason).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    /// The approver to sign as; by default the first one this server signs as who may answer.
    #[serde(rename = "as")]
    approver: Option<String>,
    reason: Option<String>,
}

pub(super) async fn approve(
    State(app): State<AppState>,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&app.shared, task, &headers, &body, true).await
}

pub(super) async fn reject(
    State(app): State<AppState>,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&app.shared, task, &headers, &body, false).await
}

/// An answer refused (or failed), with its status and message.
#[derive(Debug)]
struct Refused(StatusCode, String);

impl From<Refused> for Response {
    fn from(Refused(status, message): Refused) -> Response {
        error(status, message)
    }
}

/// Checks, signs and publishes one answer, or refuses it with its status.
async fn answer(shared: &Shared, task: String, headers: &HeaderMap, body: &[u8], approve: bool) -> Response {
    match answer_checked(shared, task, headers, body, approve).await {
        Ok(reply) => (StatusCode::OK, axum::Json(reply)).into_response(),
        Err(refused) => refused.into(),
    }
}

async fn answer_checked(
    shared: &Shared,
    task: String,
    headers: &HeaderMap,
    body: &[u8],
    approve: bool,
) -> Result<Value, Refused> {
    let verb = if approve { "approving" } else { "rejecting" };
    if !authorized(headers, &shared.token) {
        return Err(Refused(
            StatusCode::UNAUTHORIZED,
            format!(
                "{verb} task `{task}`: missing or wrong token; send the one `baton serve` printed as `Authorization: Bearer TOKEN`"
            ),
        ));
    }
    let body: AnswerBody = if body.iter().all(u8::is_ascii_whitespace) {
        AnswerBody::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            Refused(
                StatusCode::BAD_REQUEST,
                format!("{verb} task `{task}`: the body is not `{{\"as\": APPROVER, \"reason\": R}}`: {e}"),
            )
        })?
    };
    let reason = body.reason.filter(|r| !r.trim().is_empty());
    if !approve && reason.is_none() {
        return Err(Refused(
            StatusCode::BAD_REQUEST,
            format!("rejecting task `{task}` needs a reason"),
        ));
    }
    let approver = signer(shared, &task, body.approver)?;
    let answer = Answer { task, approve, reason };
    let sequence = publish(shared, &approver, &answer).await?;
    shared.wake.notify_one();
    let decision = if approve { "approved" } else { "rejected" };
    Ok(json!({ "task": answer.task, "decision": decision, "as": approver, "sequence": sequence }))
}

/// Whether `headers` carry `Authorization: Bearer TOKEN` with the server's token, compared in
/// time that does not depend on where they differ.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let given = given.trim().as_bytes();
    given.len() == token.len()
        && given
            .iter()
            .zip(token.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The approver to sign as: the one asked for, which the workflow must name and this server
/// must sign as, or by default the first signer who may answer the task in its state.
fn signer(shared: &Shared, task: &str, asked: Option<String>) -> Result<String, Refused> {
    let signers = &shared.options.signers;
    if let Some(approver) = asked {
        approval::named(&shared.festival, &approver).map_err(|e| refusal(&e, task))?;
        if !signers.contains(&approver) {
            return Err(Refused(
                StatusCode::FORBIDDEN,
                format!(
                    "approver `{approver}` may not answer task `{task}` through this server: it signs only as {} (start it with `--as {approver}`)",
                    names(signers)
                ),
            ));
        }
        return Ok(approver);
    }
    let live = shared.read();
    let Some(&t) = shared.festival.index.get(task) else {
        let unknown = ApprovalError::UnknownTask {
            task: task.to_owned(),
            festival: shared.festival.id.clone(),
        };
        return Err(refusal(&unknown, task));
    };
    let may = live.engine.approvers_for(t);
    let chosen = may.iter().find(|a| signers.contains(a)).or(signers.first());
    chosen.cloned().ok_or_else(|| {
        Refused(
            StatusCode::FORBIDDEN,
            format!("task `{task}`: this server signs as no approver; start it with `--as APPROVER`"),
        )
    })
}

/// Checks the answer against the log as folded so far, then signs and publishes it; returns
/// the message's sequence number on the status topic.
async fn publish(shared: &Shared, approver: &str, answer: &Answer) -> Result<u64, Refused> {
    let mut answered = shared.answering.lock().await;
    let (t, entered) = {
        let live = shared.read();
        let t = approval::check(&live.engine, &answer.task, approver).map_err(|e| refusal(&e, &answer.task))?;
        let entered = live.engine.entered(t);
        answered.retain(|(task, at, _)| {
            live.engine.entered(*task) == *at && live.engine.task_view(*task).waiting_for_approval
        });
        (t, entered)
    };
    let key = (t, entered, approver.to_owned());
    if answered.contains(&key) {
        return Err(Refused(
            StatusCode::CONFLICT,
            format!(
                "approver `{approver}` already answered task `{}`; the log has not shown it yet",
                answer.task
            ),
        ));
    }
    let Some(attached) = shared.attached() else {
        return Err(Refused(
            StatusCode::CONFLICT,
            format!(
                "task `{}`: festival `{}` has not run yet: nothing waits for approval",
                answer.task, shared.festival.id
            ),
        ));
    };
    let (sequence, _) = signed(shared, attached, approver, answer)
        .await
        .map_err(|e| refusal(&e, &answer.task))?;
    answered.insert(key);
    Ok(sequence)
}

/// Signs the answer as `approver` and publishes it where the log is: on the local ledger with the
/// key from the keyring (or `--key-env`), on a Hedera network paid from the approver's account.
async fn signed(
    shared: &Shared,
    attached: &Attached,
    approver: &str,
    answer: &Answer,
) -> Result<(u64, ConsensusTime), ApprovalError> {
    match &attached.source {
        Source::Local(ledger) => {
            let key = approval::approver_key(&shared.options.state, shared.options.key_env.as_deref(), approver)?;
            approval::publish(ledger.as_ref(), &attached.wiring, approver, &key, answer).await
        }
        #[cfg(feature = "hedera")]
        Source::Hedera(network) => {
            let (ledger, key) = network.signer(approver).ok_or_else(|| {
                ApprovalError::Key(format!(
                    "no key for approver `{approver}` on this network (see the warning `baton serve` printed at start)"
                ))
            })?;
            approval::publish(ledger, &attached.wiring, approver, key, answer).await
        }
    }
}

/// The response to an answer refused or failed, with the status that fits.
fn refusal(e: &ApprovalError, task: &str) -> Refused {
    let status = match e {
        ApprovalError::UnknownTask { .. } => StatusCode::NOT_FOUND,
        ApprovalError::NotAnApprover { .. } | ApprovalError::NotAllowed { .. } => StatusCode::FORBIDDEN,
        ApprovalError::NotWaiting { .. } => StatusCode::CONFLICT,
        ApprovalError::Key(_) | ApprovalError::Publish { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let message = match e {
        ApprovalError::Key(reason) => format!("task `{task}`: cannot sign the answer: {reason}"),
        ApprovalError::NotAnApprover { .. } => format!("task `{task}`: {e}"),
        other => other.to_string(),
    };
    Refused(status, message)
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        "no approver".to_owned()
    } else {
        list.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_token_as_a_bearer_authorizes() {
        let token = "0123456789abcdef0123456789abcdef";
        let cases = [
            ("the token", Some("Bearer 0123456789abcdef0123456789abcdef"), true),
            ("no header", None, false),
            ("another token", Some("Bearer 0123456789abcdef0123456789abcdee"), false),
            ("a prefix of it", Some("Bearer 0123456789abcdef"), false),
            ("not a bearer", Some("0123456789abcdef0123456789abcdef"), false),
            ("empty", Some("Bearer "), false),
        ];
        for (name, header, expected) in cases {
            let mut headers = HeaderMap::new();
            if let Some(h) = header {
                headers.insert(header::AUTHORIZATION, h.parse().expect("a header value"));
            }
            assert_eq!(authorized(&headers, token), expected, "{name}");
        }
    }
}
