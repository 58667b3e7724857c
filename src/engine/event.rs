//! What goes into the engine (events: facts from the log, with their consensus time) and what
//! comes out (commands: what the coordinator should do next).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::spec::GateUse;

/// Nanoseconds since the Unix epoch, in consensus time.
pub type Nanos = i64;

/// Who sent a message, as its signature proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    Coordinator,
    Agent(String),
    Approver(String),
}

impl std::fmt::Display for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Coordinator => f.write_str("coordinator"),
            Self::Agent(id) => write!(f, "agent `{id}`"),
            Self::Approver(id) => write!(f, "approver `{id}`"),
        }
    }
}

/// One message of the festival's log, in consensus order.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub consensus: Nanos,
    /// The message's position in the festival's log (both topics merged).
    pub position: u64,
    /// The message's own id; an id seen before is rejected.
    pub id: String,
    pub sender: Sender,
    pub fact: Fact,
}

/// A payment inside an intent: what the task's agent is owed, in the token's minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOrder {
    pub task: String,
    pub agent: String,
    pub amount: i64,
}

/// What a message says happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// The coordinator gave `task` to `agent`.
    Assigned {
        task: String,
        agent: String,
        attempt: u32,
    },
    /// An agent moved its task on: `status` names an event or the state it leads to.
    Status {
        task: String,
        agent: String,
        status: String,
        /// The attempt the agent says it works on (older agents do not say).
        attempt: Option<u32>,
    },
    /// An agent finished its work on a task, with its report.
    Result {
        task: String,
        completed: bool,
        /// Shared, not copied, between the message it came in and the engines that fold it.
        report: Arc<Json>,
        error: Option<String>,
        /// The attempt the agent says it worked on (older agents do not say).
        attempt: Option<u32>,
        /// The result begins the work too ([`crate::wire::TaskResult::started`]).
        started: bool,
    },
    Heartbeat {
        agent: String,
    },
    /// The coordinator ran the gates on the report of `attempt`.
    Judged {
        task: String,
        attempt: u32,
        passed: bool,
        verdicts: Json,
    },
    ApprovalRequested {
        task: String,
    },
    /// An approver approved or rejected a task waiting for approval.
    Answered {
        task: String,
        approve: bool,
        reason: Option<String>,
    },
    /// The coordinator will pay these under transaction `tx`.
    PaymentIntended {
        tx: String,
        payments: Vec<PaymentOrder>,
    },
    /// The ledger's answer to the transfer of an intent, for one task.
    PaymentSettled {
        task: String,
        tx: String,
        status: String,
        amount: i64,
    },
    /// The coordinator fired a lifecycle event (timeout, retry, give up, ...).
    Decided {
        task: String,
        event: String,
        reason: String,
    },
    /// A scheduled tick: time passes.
    Tick,
}

/// What the engine asks the shell to do. Each is published to the log before it is acted on.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Assign {
        task: String,
        agent: String,
        attempt: u32,
    },
    /// Run these gates on the report and publish the verdicts.
    RunGates {
        task: String,
        attempt: u32,
        gates: Vec<GateUse>,
        report: Arc<Json>,
        upstream: Json,
    },
    RequestApproval {
        task: String,
        state: String,
        approvers: Vec<String>,
        quorum: u32,
    },
    /// Publish an intent to pay these under a new transaction whose valid start is `valid_start`.
    Pay {
        valid_start: Nanos,
        payments: Vec<PaymentOrder>,
    },
    /// Execute the transfer of an intent in the log that has no settlement yet.
    Transfer {
        tx: String,
        payments: Vec<PaymentOrder>,
    },
    /// Publish a lifecycle event fired by the coordinator.
    Fire {
        task: String,
        event: String,
        reason: String,
    },
}

/// A message the engine refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub position: u64,
    pub consensus: Nanos,
    pub id: String,
    pub sender: String,
    pub task: Option<String>,
    pub reason: String,
}
