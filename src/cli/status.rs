//! `baton status`: a festival's state from its log alone, as a table or JSON.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use super::run::runtime;
use super::{FAILURE, OK};
use crate::check::Festival;
use crate::engine::{Config, Engine};
use crate::executor::{LogReader, RunError, Wiring, fold_all, setup};
use crate::ledger::{Ledger, LocalLedger};
use crate::spec::Amount;

/// Rejections the table shows, the latest first.
const SHOWN_REJECTIONS: usize = 10;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// A workflow file or festival directory.
    pub path: PathBuf,
    #[arg(long, default_value = ".baton")]
    pub state: PathBuf,
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
    /// The ledger: `local`, or a Hedera network (`hedera` feature), read through the mirror.
    #[arg(long, default_value = "local")]
    pub network: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Text,
    Json,
}

/// The festival's log folded into a fresh engine, and how to write to it; `None` when the
/// festival has not run in `state`. Reads only: nothing is created, not even the state directory.
pub(super) async fn replay(
    state: &std::path::Path,
    festival: Arc<Festival>,
) -> Result<Option<(Engine, Wiring, Arc<LocalLedger>)>, RunError> {
    if !state.join("ledger.sqlite3").exists() {
        return Ok(None);
    }
    let ledger = Arc::new(LocalLedger::open(state)?);
    let Some(wiring) = setup::existing(&ledger, state, &festival).await? else {
        return Ok(None);
    };
    let engine = fold_log(ledger.as_ref(), &wiring, festival).await?;
    Ok(Some((engine, wiring, ledger)))
}

/// A fresh engine with the whole log of the festival folded into it, as far as `ledger` shows it.
pub(super) async fn fold_log<L: Ledger>(
    ledger: &L,
    wiring: &Wiring,
    festival: Arc<Festival>,
) -> Result<Engine, RunError> {
    let mut engine = Engine::new(festival, &Config::default())?;
    let mut reader = LogReader::new(wiring);
    loop {
        let batch = reader.poll(ledger).await?;
        if batch.is_empty() {
            return Ok(engine);
        }
        fold_all(&mut engine, wiring, &batch);
    }
}

/// The engine for `baton status`: the log folded, or the plan before its first run.
async fn current(args: &StatusArgs, festival: Arc<Festival>) -> Result<Engine, RunError> {
    #[cfg(feature = "hedera")]
    if args.network != "local" {
        return hedera::replay(&args.network, festival).await;
    }
    let state = args.state.as_path();
    if let Some((engine, ..)) = replay(state, festival.clone()).await? {
        return Ok(engine);
    }
    eprintln!(
        "festival `{}` has not run in `{}` yet: every task is where the plan starts it",
        festival.id,
        state.display()
    );
    Ok(Engine::new(festival, &Config::default())?)
}

pub(super) fn run(args: &StatusArgs, color: bool) -> u8 {
    let festival = match super::festival_on(&args.path, &args.network, color) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(current(args, festival)) {
        Ok(mut engine) => {
            // Judged as the run that wrote the log would judge it: `Stuck` stays `Stuck`.
            engine.replayed_outcome();
            match args.format {
                StatusFormat::Text => print!("{}", table(&engine)),
                StatusFormat::Json => println!("{}", json(&engine)),
            }
            OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            FAILURE
        }
    }
}

fn amount(engine: &Engine, minor: i64) -> String {
    Amount::from_minor(i128::from(minor), engine.festival().payment.decimals).to_string()
}

/// The table `baton run` ends with and `baton status` prints.
#[must_use]
pub(super) fn table(engine: &Engine) -> String {
    let views = engine.task_views();
    let width = views.iter().map(|v| v.id.len()).max().unwrap_or(4).max(4);
    let mut out = String::with_capacity(128 * (views.len() + 2));
    let _ = writeln!(
        out,
        "{:width$}  {:12} {:12} {:>7}  {:28} {:>10}  TRANSACTION",
        "TASK", "STATE", "AGENT", "ATTEMPT", "GATES", "PAID"
    );
    // A row's cells, written again for each row rather than made anew: a festival of thousands
    // of tasks has as many rows, most of them paid the same amount.
    let (mut attempt, mut gate) = (String::new(), String::new());
    let mut last_paid: Option<(i64, String)> = None;
    for v in &views {
        attempt.clear();
        let _ = write!(attempt, "{}/{}", v.attempt, v.max_attempts);
        gate.clear();
        match &v.gate {
            None => gate.push('-'),
            Some(g) if g.passed => gate.push_str("passed"),
            Some(g) => {
                gate.push_str("failed: ");
                gate.push_str(g.reasons.first().map_or("", String::as_str));
            }
        }
        if let Some((cut, _)) = gate.char_indices().nth(28) {
            gate.truncate(cut);
        }
        if let Some(p) = v.paid
            && last_paid.as_ref().is_none_or(|(q, _)| *q != p)
        {
            last_paid = Some((p, amount(engine, p)));
        }
        let paid = match (v.paid, &last_paid) {
            (Some(_), Some((_, text))) => text.as_str(),
            _ => "-",
        };
        let _ = writeln!(
            out,
            "{:width$}  {:12} {:12} {:>7}  {:28} {:>10}  {}",
            v.id,
            v.state,
            v.agent.as_deref().unwrap_or("-"),
            attempt,
            gate,
            paid,
            v.tx.as_deref().unwrap_or("-"),
        );
    }
    let (sum, n) = engine.paid();
    let _ = writeln!(
        out,
        "paid {} to {n} task(s); outcome: {:?}",
        amount(engine, sum),
        engine.outcome()
    );
    payment_errors(&mut out, &views);
    rejected(&mut out, engine.rejections());
    out
}

/// The payments settled with a failure (a refused transfer, or one that expired before it could
/// execute), by task: such a task is paid nothing and blocks what depends on it.
fn payment_errors(out: &mut String, views: &[crate::engine::TaskView]) {
    let failed: Vec<_> = views
        .iter()
        .filter_map(|v| v.payment_error.as_ref().map(|error| (&v.id, error)))
        .collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(out, "payments that failed ({}):", failed.len());
    for (task, error) in failed {
        let _ = writeln!(out, "  task `{task}`: {error}");
    }
}

/// The latest rejections, each with where it is in the log, who it claims to be from, the task
/// it is about and why it was refused.
fn rejected(out: &mut String, rejections: &[crate::engine::Rejection]) {
    if rejections.is_empty() {
        return;
    }
    let _ = writeln!(out, "rejected messages ({}), latest first:", rejections.len());
    for r in rejections.iter().rev().take(SHOWN_REJECTIONS) {
        let about = r.task.as_deref().map(|t| format!(" about `{t}`")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  #{} from {}{about}: {}",
            r.position,
            if r.sender.is_empty() { "?" } else { &r.sender },
            r.reason
        );
    }
    if rejections.len() > SHOWN_REJECTIONS {
        let _ = writeln!(
            out,
            "  and {} more; `--format json` lists them all",
            rejections.len() - SHOWN_REJECTIONS
        );
    }
}

/// The JSON `baton status --format json` prints.
#[must_use]
pub fn json(engine: &Engine) -> serde_json::Value {
    let (sum, n) = engine.paid();
    json!({
        "festival": engine.festival().id,
        "outcome": engine.outcome(),
        "counts": engine.counts().into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<_, _>>(),
        "tasks": engine.task_views(),
        "paid": {"minor_units": sum, "amount": amount(engine, sum), "tasks": n},
        "rejections": engine.rejections(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Rejection;

    fn rejection(position: u64, sender: &str, task: Option<&str>) -> Rejection {
        Rejection {
            position,
            consensus: 0,
            id: String::new(),
            sender: sender.into(),
            task: task.map(str::to_owned),
            reason: format!("reason {position}"),
        }
    }

    #[test]
    fn the_latest_rejections_are_listed_with_their_task_and_the_rest_counted() {
        let mut all: Vec<Rejection> = (1..=11).map(|p| rejection(p, "agent `a1`", Some("t"))).collect();
        all.push(rejection(12, "", None));
        let mut out = String::new();
        rejected(&mut out, &all);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 12, "{out}");
        assert_eq!(lines[0], "rejected messages (12), latest first:");
        assert_eq!(lines[1], "  #12 from ?: reason 12");
        assert_eq!(lines[2], "  #11 from agent `a1` about `t`: reason 11");
        assert_eq!(lines[11], "  and 2 more; `--format json` lists them all");
    }

    #[test]
    fn no_rejections_no_section() {
        let mut out = String::new();
        rejected(&mut out, &[]);
        assert_eq!(out, "");
    }
}

#[cfg(feature = "hedera")]
mod hedera {
    //! The festival's log read through a Hedera mirror. The client pays (queries only) from the
    //! `.env` operator; the coordinator is `COORDINATOR_ID`, else `OPERATOR_ID`.

    use std::sync::Arc;

    use crate::check::Festival;
    use crate::engine::Engine;
    use crate::executor::RunError;
    use crate::executor::network::{coordinator_account, environment, wiring};
    use crate::ledger::hedera::{HederaConfig, HederaLedger};

    pub(super) async fn replay(network: &str, festival: Arc<Festival>) -> Result<Engine, RunError> {
        let env = environment(network);
        let coordinator = coordinator_account(&env)?;
        let ledger = HederaLedger::connect(HederaConfig::from_vars(&env)?)?;
        let wiring = wiring(&ledger, &coordinator, &festival, &env).await?;
        super::fold_log(&ledger, &wiring, festival).await
    }
}
