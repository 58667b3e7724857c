//! The reference agent daemon (`baton agent`): one agent, in its own process, following the
//! festival's log with its own replica of the engine.
//!
//! For each task the log assigns to it, it says `start`, then runs the work: the task's
//! `command` (from its `input`), or else the program the daemon was started with, through the
//! shell, in the working directory, with the assignment as JSON on stdin and `BATON_FESTIVAL`,
//! `BATON_TASK_ID`, `BATON_TASK_NAME`, `BATON_AGENT_ID` and `BATON_ATTEMPT` in the environment.
//! While it holds a task whose state is watched, it sends a heartbeat every `heartbeat`.
//!
//! The result it sends is `completed` whenever the command ran, whatever its exit code, with the
//! evidence of [`super::evidence::report`] (exit code, duration, parsed test counts, output
//! tail): judging the evidence is the gates' job, and a non-zero exit fails `result_completed`
//! with the exit code as its reason. It is `failed`, with the error, only when nothing could run:
//! no command and no program, or a program that cannot be started.
//!
//! A command whose task leaves the agent (a timeout gave it to another agent, the run was reset)
//! is stopped and its result dropped; so is everything in hand when the daemon is cancelled. A
//! restarted daemon runs again the work its replica shows in hand: the lifecycle accepts one
//! result per attempt.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::evidence::{self, Outcome};
use crate::check::Festival;
use crate::engine::{Action, Config, Engine, Work};
use crate::executor::{LogReader, RunError, Wiring, assignment, fold_all};
use crate::ledger::Ledger;
use crate::wire::{self, Assignment, Body, Envelope, Heartbeat, ResultStatus, SigningKey, StatusUpdate, TaskResult};

/// How the daemon works.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The agent it is, as named in the workflow.
    pub agent: String,
    /// The program for tasks whose input has no `command`; it reads the assignment on stdin.
    pub program: Option<String>,
    /// Where commands run.
    pub workdir: PathBuf,
    /// Time between heartbeats while a watched task is held.
    pub heartbeat: Duration,
    /// Longest wait for new messages before looking again.
    pub poll: Duration,
}

/// A command in hand, and how to stop it.
struct Job {
    work: Work,
    stop: CancellationToken,
}

struct Daemon<L: Ledger> {
    ledger: Arc<L>,
    festival: Arc<Festival>,
    wiring: Wiring,
    key: SigningKey,
    settings: Settings,
    engine: Engine,
    reader: LogReader,
    sent: u64,
    /// Work already taken, by (task, entered).
    handled: HashSet<(String, i64)>,
    running: Vec<Job>,
    finished: Vec<(Work, TaskResult)>,
    done_tx: mpsc::UnboundedSender<(Work, TaskResult)>,
    done_rx: mpsc::UnboundedReceiver<(Work, TaskResult)>,
    next_heartbeat: Instant,
}

/// Runs the daemon until `cancel` fires; commands in hand are stopped then.
pub async fn run<L: Ledger>(
    ledger: Arc<L>,
    festival: Arc<Festival>,
    wiring: Wiring,
    key: SigningKey,
    settings: Settings,
    cancel: CancellationToken,
) -> Result<(), RunError> {
    let engine = Engine::new(festival.clone(), &Config::default())?;
    let reader = LogReader::new(&wiring);
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let mut daemon = Daemon {
        ledger,
        festival,
        wiring,
        key,
        settings,
        engine,
        reader,
        sent: 0,
        handled: HashSet::new(),
        running: Vec::new(),
        finished: Vec::new(),
        done_tx,
        done_rx,
        next_heartbeat: Instant::now(),
    };
    let result = daemon.follow(&cancel).await;
    for job in &daemon.running {
        job.stop.cancel();
    }
    result
}

impl<L: Ledger> Daemon<L> {
    async fn follow(&mut self, cancel: &CancellationToken) -> Result<(), RunError> {
        while !cancel.is_cancelled() {
            self.step(cancel).await?;
            tokio::select! {
                () = self.reader.wait(self.ledger.as_ref(), self.settings.poll, cancel) => {}
                Some(done) = self.done_rx.recv() => self.finished.push(done),
            }
        }
        Ok(())
    }

    async fn step(&mut self, cancel: &CancellationToken) -> Result<(), RunError> {
        let messages = self.reader.poll(self.ledger.as_ref()).await?;
        fold_all(&mut self.engine, &self.wiring, &messages);
        self.heartbeat().await?;
        let current = self.engine.work_for(&self.settings.agent);
        self.running.retain(|job| {
            let held = current.contains(&job.work);
            if !held {
                tracing::info!(task = %job.work.task, "the task moved on: its command is stopped");
                job.stop.cancel();
            }
            held
        });
        for work in &current {
            if !self.handled.insert((work.task.clone(), work.entered)) {
                continue;
            }
            match work.action {
                Action::Start => self.send_start(work).await?,
                Action::Submit => self.spawn(work.clone(), cancel)?,
            }
        }
        while let Ok(done) = self.done_rx.try_recv() {
            self.finished.push(done);
        }
        for (work, result) in std::mem::take(&mut self.finished) {
            self.running.retain(|job| job.work != work);
            if current.contains(&work) {
                self.send(&Body::TaskResult(result)).await?;
            } else {
                tracing::info!(task = %work.task, "the task moved on: its result is dropped");
            }
        }
        Ok(())
    }

    async fn heartbeat(&mut self) -> Result<(), RunError> {
        let now = Instant::now();
        if now < self.next_heartbeat || !self.engine.expects_heartbeat(&self.settings.agent) {
            return Ok(());
        }
        self.next_heartbeat = now + self.settings.heartbeat;
        let body = Body::Heartbeat(Heartbeat {
            agent_id: self.settings.agent.clone(),
        });
        self.send(&body).await
    }

    async fn send_start(&mut self, work: &Work) -> Result<(), RunError> {
        let body = Body::StatusUpdate(StatusUpdate {
            task_id: work.task.clone(),
            agent_id: self.settings.agent.clone(),
            new_status: "start".into(),
            message: None,
            attempt: Some(work.attempt),
        });
        self.send(&body).await
    }

    /// Starts the work's command in its own task; its result comes back on the channel.
    fn spawn(&mut self, work: Work, cancel: &CancellationToken) -> Result<(), RunError> {
        let t = *self.festival.index.get(&work.task).ok_or_else(|| RunError::Task {
            task: work.task.clone(),
            operation: "run its command",
            reason: "not in the festival".into(),
        })?;
        let stop = cancel.child_token();
        let execution = Execution {
            festival: self.festival.id.clone(),
            assignment: assignment(&self.festival, t, &self.settings.agent, work.attempt),
            program: self.settings.program.clone(),
            workdir: self.settings.workdir.clone(),
            stop: stop.clone(),
        };
        let done = self.done_tx.clone();
        let finished = work.clone();
        tracing::info!(task = %work.task, attempt = work.attempt, "running the task's command");
        tokio::spawn(async move {
            if let Some(result) = execution.execute().await {
                let _ = done.send((finished, result));
            }
        });
        self.running.push(Job { work, stop });
        Ok(())
    }

    async fn send(&mut self, body: &Body) -> Result<(), RunError> {
        self.sent += 1;
        let mut envelope = Envelope::new(
            body.kind(),
            &self.wiring.festival,
            &self.settings.agent,
            self.sent,
            body,
        );
        wire::sign(&mut envelope, &self.key);
        self.ledger
            .submit(&self.wiring.status_topic, &wire::encode(&envelope))
            .await
            .map_err(|e| RunError::Task {
                task: body.task_id().unwrap_or("-").to_string(),
                operation: "send a message",
                reason: e.to_string(),
            })?;
        Ok(())
    }
}

/// One run of a task's command.
struct Execution {
    festival: String,
    assignment: Assignment,
    program: Option<String>,
    workdir: PathBuf,
    stop: CancellationToken,
}

impl Execution {
    /// Runs the command to its end; `None` when stopped first.
    async fn execute(self) -> Option<TaskResult> {
        let Some(line) = self.assignment.command.clone().or_else(|| self.program.clone()) else {
            return Some(
                self.failed("the task's input has no `command` and the agent was started without `--program`".into()),
            );
        };
        let started = Instant::now();
        let mut child = match self.command(&line).spawn() {
            Ok(child) => child,
            Err(e) => return Some(self.failed(format!("cannot start `{line}`: {e}"))),
        };
        if let Some(mut stdin) = child.stdin.take() {
            let input = serde_json::to_vec(&self.assignment).unwrap_or_default();
            // A command that does not read its stdin closes it: that is not an error.
            tokio::spawn(async move {
                let _ = stdin.write_all(&input).await;
            });
        }
        let output = tokio::select! {
            output = child.wait_with_output() => output,
            () = self.stop.cancelled() => return None,
        };
        let output = match output {
            Ok(output) => output,
            Err(e) => return Some(self.failed(format!("`{line}` could not be waited for: {e}"))),
        };
        let outcome = Outcome {
            exit_code: output.status.code(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        Some(TaskResult {
            task_id: self.assignment.task_id.clone(),
            status: ResultStatus::Completed,
            output: Some(evidence::report(&outcome).into()),
            error: None,
            duration_ms: Some(outcome.duration_ms),
            attempt: Some(self.assignment.attempt),
            started: false,
        })
    }

    fn command(&self, line: &str) -> tokio::process::Command {
        let mut command = if cfg!(windows) {
            let mut c = tokio::process::Command::new("cmd");
            c.arg("/C").arg(line);
            c
        } else {
            let mut c = tokio::process::Command::new("sh");
            c.arg("-c").arg(line);
            c
        };
        command
            .current_dir(&self.workdir)
            .env("BATON_FESTIVAL", &self.festival)
            .env("BATON_TASK_ID", &self.assignment.task_id)
            .env("BATON_TASK_NAME", &self.assignment.task_name)
            .env("BATON_AGENT_ID", &self.assignment.agent_id)
            .env("BATON_ATTEMPT", self.assignment.attempt.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    fn failed(&self, error: String) -> TaskResult {
        tracing::warn!(task = %self.assignment.task_id, "{error}");
        TaskResult {
            task_id: self.assignment.task_id.clone(),
            status: ResultStatus::Failed,
            output: None,
            error: Some(error),
            duration_ms: None,
            attempt: Some(self.assignment.attempt),
            started: false,
        }
    }
}
