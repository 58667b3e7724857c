//! `baton run`: the executor on the local ledger, with progress bars and a final table;
//! `--simulate` starts simulated agents in the same process.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use super::{FAILURE, INVALID, OK, status};
use crate::agent::simulate::{self, Behaviour};
use crate::check::Festival;
use crate::diagnostics;
use crate::engine::{Config, Engine, Outcome};
use crate::executor::{Coordinator, Options, RunError, Snapshots, Summary, Wiring, setup};
use crate::ledger::Ledger;
use crate::ledger::LocalLedger;
use crate::load::load;
use crate::spec::ProcessEnv;
use crate::wire::SigningKey;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A workflow file or festival directory.
    pub path: PathBuf,
    /// Where the local ledger and keys live.
    #[arg(long, default_value = ".baton")]
    pub state: PathBuf,
    /// The ledger: only `local` in this build.
    #[arg(long, default_value = "local")]
    pub network: String,
    /// Start simulated agents in this process.
    #[arg(long)]
    pub simulate: bool,
    /// Seed of the simulated agents' choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Chance that a simulated agent's work passes its gates.
    #[arg(long, default_value_t = 0.9)]
    pub success_rate: f64,
    /// Chance that a simulated agent crashes on a piece of work.
    #[arg(long, default_value_t = 0.0)]
    pub crash_rate: f64,
    /// Chance that a simulated agent also sends a forged or malformed message.
    #[arg(long, default_value_t = 0.0)]
    pub forge_rate: f64,
    /// Longest time a simulated agent works on a task, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub work_ms: u64,
    /// An agent that sends no heartbeat for this many seconds loses its task.
    #[arg(long, default_value_t = 90)]
    pub heartbeat_grace: u64,
    /// Seconds a payment due may wait for others, so that they go out up to ten to a transfer
    /// (fewer transactions and fees); 0 pays what each step finds due at once.
    #[arg(long, default_value_t = 0)]
    pub payment_window: u64,
    /// Seconds between the scheduled ticks that let timeouts fire.
    #[arg(long, default_value_t = 1)]
    pub tick: u64,
    /// With `--simulate`, leave approvals to people (`baton approve`) instead of simulated approvers.
    #[arg(long)]
    pub manual_approvals: bool,
    /// With `--simulate`, each simulated agent follows the log with a replica of its own and
    /// checks and folds every message itself, as agents in processes of their own do. Unless set
    /// they share one replica: every message is checked and folded once for all of them (on a
    /// large festival about half the time and two thirds of the memory; agents answer more at
    /// once, so payments batch more).
    #[arg(long)]
    pub replica_per_agent: bool,
    /// What the simulated agents do unless `--replica-per-agent` is set: share one replica of the
    /// log. Kept for the scripts that name it.
    #[arg(long, hide = true, conflicts_with = "replica_per_agent")]
    pub shared_replica: bool,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// On the local ledger, messages folded between two snapshots of the coordinator's state
    /// (`<state>/snapshots/`), from which a restart takes up the log instead of folding it from
    /// its start; 0 keeps none.
    #[arg(long, default_value_t = crate::executor::snapshot::DEFAULT_EVERY)]
    pub snapshot_every: u64,
}

/// Loads and checks a workflow for a command that runs it; prints diagnostics.
pub(super) fn festival(path: &Path, color: bool) -> Result<Festival, u8> {
    let loaded = load(path, &ProcessEnv).map_err(|e| {
        eprintln!("error: {e}");
        FAILURE
    })?;
    eprint!(
        "{}",
        diagnostics::render_human(&loaded.sources, &loaded.diagnostics, color)
    );
    loaded.festival.ok_or_else(|| {
        eprintln!("{}: invalid; run `baton validate` for details", path.display());
        INVALID
    })
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            FAILURE
        })
}

pub(super) fn run(args: &RunArgs, color: bool) -> u8 {
    let festival = match super::festival_on(&args.path, &args.network, color) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(execute(args, festival)) {
        Ok((Ran { engine, summary, table }, _ledger)) => {
            print!("{table}");
            println!(
                "{} messages in the log, {} transfer(s), {} rejected",
                summary.messages,
                summary.transfers,
                engine.rejections().len()
            );
            let code = match summary.outcome {
                Outcome::Finished => OK,
                Outcome::Running => {
                    eprintln!("stopped; run the same command again to carry on");
                    OK
                }
                Outcome::Stuck => {
                    eprintln!("stuck: the tasks left wait on tasks that will never complete");
                    INVALID
                }
            };
            leave(code)
        }
        Err(e) => {
            eprintln!("error: {e}");
            FAILURE
        }
    }
}

/// Ends the process once a run has said how it ended, without taking apart what it holds.
///
/// Everything the run did is in the log by then (each step's messages and transfers commit
/// before the next step, the last snapshot is written), so what is left is memory, which the
/// system takes back at once, where freeing it value by value and stopping the runtime's tasks
/// took about 25 ms after the table of a 10,000-task run (6% of its time), and open files: the
/// next process to open the ledger checkpoints its write-ahead log, as after a kill, which the
/// local ledger is built to survive. A message a simulated agent had in hand is lost as it
/// would be when its task was dropped.
fn leave(code: u8) -> ! {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    std::process::exit(i32::from(code))
}

/// The signers' keys and the ledger each one writes through (on Hedera each pays from its own
/// account; on the local ledger all share one).
pub(super) struct Crew<L> {
    pub keys: std::collections::HashMap<String, SigningKey>,
    pub ledger_for: LedgerFor<L>,
}

impl<L> Crew<L> {
    /// The key of signer `id`, a `what` (agent, approver) of the festival.
    fn key(&self, id: &str, what: &str) -> Result<SigningKey, RunError> {
        self.keys
            .get(id)
            .cloned()
            .ok_or_else(|| RunError::Setup(format!("no key for {what} `{id}`")))
    }
}

/// The ledger a signer writes through.
pub(super) type LedgerFor<L> = Box<dyn Fn(&str) -> Result<Arc<L>, RunError> + Send + Sync>;

/// The ledger a run was on, kept open until the process ends ([`leave`]): closing it freed the
/// messages it held for its readers and checkpointed its database, 3% of a 10,000-task run.
pub(super) type Kept = Arc<dyn std::any::Any + Send + Sync>;

/// What a run ends with: the engine, the summary and the final table.
pub(super) struct Ran {
    pub engine: Engine,
    pub summary: Summary,
    pub table: String,
}

async fn execute(args: &RunArgs, festival: Arc<Festival>) -> Result<(Ran, Kept), RunError> {
    #[cfg(feature = "hedera")]
    if args.network != "local" {
        return super::run_hedera::execute(args, festival).await;
    }
    let ledger = Arc::new(LocalLedger::open(&args.state)?);
    let kept: Kept = ledger.clone();
    let keyring = setup::keyring(&args.state, &festival)?;
    let wiring = setup::local(&ledger, &args.state, &festival, &keyring).await?;
    let key = keyring
        .get("coordinator")
        .cloned()
        .ok_or_else(|| RunError::Setup("no coordinator key".into()))?;
    let keys = keyring
        .names()
        .filter_map(|name| keyring.get(name).map(|k| (name.to_string(), k.clone())))
        .collect();
    let shared = ledger.clone();
    let crew = Crew {
        keys,
        ledger_for: Box::new(move |_| Ok(shared.clone())),
    };
    let ran = drive(args, festival, ledger, wiring, key, &crew, true).await?;
    Ok((ran, kept))
}

/// Runs the coordinator (and the simulated agents) on `ledger` until the festival is over or
/// Ctrl-C.
pub(super) async fn drive<L: Ledger + 'static>(
    args: &RunArgs,
    festival: Arc<Festival>,
    ledger: Arc<L>,
    wiring: Wiring,
    key: SigningKey,
    crew: &Crew<L>,
    local: bool,
) -> Result<Ran, RunError> {
    let config = Config {
        heartbeat_grace_secs: args.heartbeat_grace,
        max_parallel: None,
        payment_window_secs: args.payment_window,
    };
    let cancel = CancellationToken::new();
    let ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: finishing the step in hand");
            ctrl_c.cancel();
        }
    });
    let agents = cancel.child_token();
    if args.simulate {
        spawn_simulated(args, &festival, &wiring, crew, &agents)?;
    }
    let engine = Engine::new(festival.clone(), &config)?;
    let mut coordinator = Coordinator::new(ledger, engine, wiring, key);
    if local && args.snapshot_every > 0 {
        let snapshots = Snapshots::new(&args.state, &festival, &config, args.snapshot_every);
        coordinator = coordinator.with_snapshots(snapshots);
    }
    let options = Options {
        tick: Duration::from_secs(args.tick.max(1)),
        stop_when_done: true,
        // Written below while the final table is laid out.
        last_snapshot: false,
        ..Options::default()
    };
    let mut bars = Bars::new(&festival, args.quiet);
    let summary = coordinator.run(&options, &cancel, &mut |e| bars.update(e)).await;
    agents.cancel();
    bars.finish(coordinator.engine());
    if let Some(note) = coordinator.snapshot_note() {
        eprintln!("{note}");
    }
    let summary = summary?;
    let table = coordinator.last_snapshot_beside(status::table);
    Ok(Ran {
        engine: coordinator.into_engine(),
        summary,
        table,
    })
}

/// Starts the simulated agents, all following the log on one replica or, with
/// `--replica-per-agent`, each on its own, and unless approvals are manual the simulated
/// approvers; they stop when `cancel` fires.
fn spawn_simulated<L: Ledger + 'static>(
    args: &RunArgs,
    festival: &Arc<Festival>,
    wiring: &Wiring,
    crew: &Crew<L>,
    cancel: &CancellationToken,
) -> Result<(), RunError> {
    let behaviour = Behaviour {
        seed: args.seed,
        success_rate: args.success_rate,
        crash_rate: args.crash_rate,
        forge_rate: args.forge_rate,
        max_work: Duration::from_millis(args.work_ms),
        min_work: Duration::from_millis(args.work_ms / 10),
        heartbeat: Duration::from_secs((args.heartbeat_grace / 3).max(1)),
        downtime: Duration::from_secs(args.heartbeat_grace + 1),
    };
    let mut members = Vec::new();
    for agent in &festival.agents {
        let id = agent.id.value.clone();
        let key = crew.key(&id, "agent")?;
        members.push((id, key));
    }
    let crews = if args.replica_per_agent {
        members.into_iter().map(|agent| vec![agent]).collect()
    } else {
        vec![members]
    };
    for members in crews {
        let Some((first, _)) = members.first() else { continue };
        let names = names_of(&members);
        let run = simulate::crew(
            (crew.ledger_for)(first)?,
            festival.clone(),
            wiring.clone(),
            members,
            behaviour.clone(),
            cancel.clone(),
        );
        // Said on the terminal, not only in the log: the agent's tasks wait for it from now on.
        tokio::spawn(async move {
            if let Err(e) = run.await {
                eprintln!("error: simulated {names} stopped: {e}");
            }
        });
    }
    if !args.manual_approvals {
        spawn_approvers(festival, wiring, crew, cancel)?;
    }
    Ok(())
}

/// Starts a simulated approver for each approver the festival names.
fn spawn_approvers<L: Ledger + 'static>(
    festival: &Arc<Festival>,
    wiring: &Wiring,
    crew: &Crew<L>,
    cancel: &CancellationToken,
) -> Result<(), RunError> {
    for approver in &festival.approvers {
        let id = approver.id.value.clone();
        let key = crew.key(&id, "approver")?;
        let run = simulate::approver(
            (crew.ledger_for)(&id)?,
            festival.clone(),
            wiring.clone(),
            id.clone(),
            key,
            cancel.clone(),
        );
        tokio::spawn(async move {
            if let Err(e) = run.await {
                eprintln!("error: simulated approver {id} stopped: {e}");
            }
        });
    }
    Ok(())
}

/// "agent ID", or "agents ID, ID" for a crew of several.
fn names_of(members: &[(String, SigningKey)]) -> String {
    match members {
        [(one, _)] => format!("agent {one}"),
        all => format!(
            "agents {}",
            all.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Progress bars: tasks done, tasks paid.
struct Bars {
    _multi: MultiProgress,
    done: ProgressBar,
    paid: ProgressBar,
    /// When the bars were last brought up to date.
    drawn: Option<Instant>,
}

/// The bars are brought up to date at most this often: the run loop calls `update` after every
/// step, far more often than anyone can read.
const REFRESH: Duration = Duration::from_millis(100);

impl Bars {
    fn new(festival: &Festival, quiet: bool) -> Self {
        let multi = MultiProgress::with_draw_target(if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let total = festival.tasks.len() as u64;
        let style = ProgressStyle::with_template("{prefix:>8} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let done = multi.add(ProgressBar::new(total).with_style(style.clone()).with_prefix("tasks"));
        let paid = multi.add(ProgressBar::new(total).with_style(style).with_prefix("paid"));
        Self {
            _multi: multi,
            done,
            paid,
            drawn: None,
        }
    }

    /// Brings the bars up to date, unless they were less than [`REFRESH`] ago.
    fn update(&mut self, engine: &Engine) {
        let now = Instant::now();
        if self.drawn.is_some_and(|at| now.duration_since(at) < REFRESH) {
            return;
        }
        self.drawn = Some(now);
        self.draw(engine);
    }

    fn draw(&self, engine: &Engine) {
        let counts: Vec<String> = engine
            .counts()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        self.done.set_position(engine.terminal_tasks() as u64);
        self.done.set_message(counts.join(", "));
        let (sum, n) = engine.paid();
        self.paid.set_position(n as u64);
        self.paid.set_message(format!("{} minor units", sum));
    }

    /// Shows where the run ended and leaves the bars.
    fn finish(&self, engine: &Engine) {
        self.draw(engine);
        self.done.finish();
        self.paid.finish();
    }
}
