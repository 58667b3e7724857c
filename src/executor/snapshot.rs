//! Local snapshots of a coordinator's engine, so that a restart on a long log takes up where the
//! last snapshot left off instead of folding the log from its start.
//!
//! A snapshot file (`<state>/snapshots/<festival>.json`) is three lines: a header (the format, the
//! festival and the [`LogMark`] of the log it was folded from), the engine's [`Snapshot`], and a
//! trailer: a [`fingerprint`] of the plan, the settings and the build, and the XXH3-128 of the two
//! lines before it. Both come last so that the state goes to the file as it is written, while the
//! fingerprint is worked out, instead of being gathered first. The hash tells a damaged file, not a
//! forged one: whoever can write the state directory can write a matching hash too. The file is
//! written to a temporary file and renamed over the last one, so a crash of the process leaves one
//! whole snapshot or the one before. It is not synced to the disk: after a crash of the machine the
//! file may be empty or cut short, which its hash tells, and the log is folded from its start (a
//! snapshot is a shortcut, and syncing took a run's last milliseconds).
//!
//! It is taken up only when everything matches: the fingerprint, the hash of its own state, every
//! index in it, and the messages of the log itself, read again and hashed up to the mark. Anything
//! else (no file, another plan, other settings, a damaged file, a log that differs) is said once
//! and the log is folded from the start, as without snapshots. The log stays the truth: a snapshot
//! is a shortcut through its prefix, never a source of state the log does not hold.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use super::log::LogMark;
use crate::check::Festival;
use crate::engine::{Config, Engine, HashedBlocks, Snapshot, fingerprint};

/// The snapshot file's format (2: the ids seen packed in one string; 3: the log's mark an
/// XXH3-128 chain; 4: the file's hash an XXH3-128 on a last line of its own).
const FORMAT: u32 = 4;

/// Messages folded between two snapshots of a run, unless told otherwise.
pub const DEFAULT_EVERY: u64 = 100_000;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: u32,
    festival: String,
    log: LogMark,
}

/// The last line: the plan's fingerprint and the hash of the lines before it.
#[derive(Debug, Serialize, Deserialize)]
struct Trailer {
    fingerprint: String,
    /// XXH3-128 of the header's and the state's lines, newlines included, in hex.
    xxh3: String,
}

/// Where a coordinator keeps its snapshots and how often it writes one.
#[derive(Debug, Clone)]
pub struct Snapshots {
    path: PathBuf,
    festival: String,
    fingerprint: Fingerprint,
    config: Config,
    /// Messages folded between two snapshots.
    pub every: u64,
    /// Messages folded when the last snapshot was written or read.
    pub(super) last: u64,
}

impl Snapshots {
    /// Snapshots of `festival`'s runs with `config`, under the state directory `state`.
    #[must_use]
    pub fn new(state: &Path, festival: &Arc<Festival>, config: &Config, every: u64) -> Self {
        let name: String = festival
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = state.join("snapshots").join(format!("{name}.json"));
        let fingerprint = Fingerprint::new(festival, config);
        // A snapshot to take up is checked against the fingerprint at the start of the run;
        // otherwise it is first needed by the first snapshot written.
        if path.exists() {
            fingerprint.begin();
        }
        Self {
            path,
            festival: festival.id.clone(),
            fingerprint,
            config: config.clone(),
            every: every.max(1),
            last: 0,
        }
    }

    /// The snapshot file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a snapshot of `engine`, folded from the log up to `mark`.
    ///
    /// # Errors
    /// The file could not be written; the snapshot before stays.
    pub fn write(&mut self, engine: &Engine, mark: &LogMark) -> Result<(), String> {
        // Worked out beside the state's text, which takes about as long.
        self.fingerprint.begin();
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let temporary = self.path.with_extension("json.tmp");
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::File::create(&temporary))
            .and_then(|file| self.write_to(file, engine, mark))
            .and_then(|()| std::fs::rename(&temporary, &self.path));
        written.map_err(|e| format!("writing `{}`: {e}", self.path.display()))?;
        self.last = engine.applied();
        Ok(())
    }

    fn write_to(&self, file: std::fs::File, engine: &Engine, mark: &LogMark) -> std::io::Result<()> {
        let mut out = HashedBlocks::new(file);
        let header = Header {
            format: FORMAT,
            festival: self.festival.clone(),
            log: mark.clone(),
        };
        serde_json::to_writer(&mut out, &header)?;
        out.write_all(b"\n")?;
        serde_json::to_writer(&mut out, &engine.snapshot_view())?;
        out.write_all(b"\n")?;
        let (digest, mut file) = out.finish()?;
        let trailer = Trailer {
            fingerprint: self.fingerprint.get().to_owned(),
            xxh3: format!("{digest:032x}"),
        };
        serde_json::to_writer(&mut file, &trailer)?;
        file.write_all(b"\n")
    }

    /// The engine of the last snapshot and the mark of the log it was folded from; `Ok(None)`
    /// when there is none.
    ///
    /// # Errors
    /// Why the snapshot cannot be taken up (unreadable, damaged, of another plan or settings,
    /// not fitting the festival).
    pub fn read(&self, festival: &Arc<Festival>) -> Result<Option<(Engine, LogMark)>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("`{}` is unreadable: {e}", self.path.display())),
        };
        let (header, rest) = text.split_once('\n').ok_or("it has no state line")?;
        let header: Header = serde_json::from_str(header).map_err(|e| format!("its header: {e}"))?;
        if header.format != FORMAT {
            return Err(format!("format {} is not this baton's {FORMAT}", header.format));
        }
        let (state, last) = rest
            .strip_suffix('\n')
            .and_then(|rest| rest.rsplit_once('\n'))
            .ok_or("it is cut short")?;
        let trailer: Trailer = serde_json::from_str(last).map_err(|e| format!("its last line: {e}"))?;
        // Everything but the last line and its newline.
        let hashed = text.len() - last.len() - 1;
        if format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&text.as_bytes()[..hashed])) != trailer.xxh3 {
            return Err("its state does not match its hash".into());
        }
        if header.festival != self.festival || trailer.fingerprint != self.fingerprint.get() {
            return Err("it was taken with another plan, other settings or another baton".into());
        }
        let snapshot: Snapshot = serde_json::from_str(state).map_err(|e| format!("its state: {e}"))?;
        let engine = Engine::restore(festival.clone(), &self.config, snapshot).map_err(|e| e.to_string())?;
        Ok(Some((engine, header.log)))
    }
}

/// The plan's [`fingerprint`], worked out on a thread of its own from [`Fingerprint::begin`] on:
/// on a large plan it takes milliseconds, which the caller spends meanwhile on other work (reading
/// the snapshot to take up, or writing the state of one). Whoever needs it first waits for it.
/// Begun at the start of a run, it took a core from the run's first steps; a fresh run needs it
/// only when it writes its first snapshot.
#[derive(Debug, Clone)]
struct Fingerprint(Arc<Worked>);

#[derive(Debug)]
struct Worked {
    done: OnceLock<String>,
    working: Mutex<Option<JoinHandle<String>>>,
    festival: Arc<Festival>,
    config: Config,
}

impl Fingerprint {
    fn new(festival: &Arc<Festival>, config: &Config) -> Self {
        Self(Arc::new(Worked {
            done: OnceLock::new(),
            working: Mutex::new(None),
            festival: festival.clone(),
            config: config.clone(),
        }))
    }

    /// Starts working it out on a thread, unless that is under way or done.
    fn begin(&self) {
        let worked = &self.0;
        let mut working = worked.working.lock().unwrap_or_else(PoisonError::into_inner);
        if worked.done.get().is_some() || working.is_some() {
            return;
        }
        let (plan, settings) = (worked.festival.clone(), worked.config.clone());
        let thread = std::thread::Builder::new().name("baton-fingerprint".into());
        *working = thread.spawn(move || fingerprint(&plan, &settings)).ok();
    }

    fn get(&self) -> &str {
        let worked = &self.0;
        worked.done.get_or_init(|| {
            let working = worked.working.lock().unwrap_or_else(PoisonError::into_inner).take();
            // Without its thread (not begun, or failed), the work is done here.
            working
                .and_then(|w| w.join().ok())
                .unwrap_or_else(|| fingerprint(&worked.festival, &worked.config))
        })
    }
}

impl<L: crate::ledger::Ledger> super::Coordinator<L> {
    /// Takes up the last snapshot if it matches the log, before anything is folded.
    pub(super) async fn resume(&mut self) -> Result<(), super::RunError> {
        let Some(snapshots) = &self.snapshots else {
            return Ok(());
        };
        if self.engine.applied() > 0 {
            return Ok(());
        }
        let path = snapshots.path().display().to_string();
        let (engine, mark) = match snapshots.read(&self.festival) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(()),
            Err(reason) => {
                self.not_taken_up(format!(
                    "snapshot `{path}` not used ({reason}): the log is folded from its start"
                ));
                return Ok(());
            }
        };
        let mut reader = super::LogReader::hashing(&self.wiring);
        let Some(rest) = reader.resume(self.ledger.as_ref(), &mark).await? else {
            self.not_taken_up(format!(
                "snapshot `{path}` not used (the log's first {} messages are not the ones it was taken of): the log is folded from its start",
                mark.position
            ));
            return Ok(());
        };
        self.engine = engine;
        self.reader = reader;
        super::fold_all(&mut self.engine, &self.wiring, &rest);
        if let Some(snapshots) = &mut self.snapshots {
            snapshots.last = mark.position;
        }
        tracing::info!(%path, messages = mark.position, "took up a snapshot");
        self.snapshot_note = Some(format!(
            "took up snapshot `{path}`: {} messages of the log not folded again",
            mark.position
        ));
        Ok(())
    }

    fn not_taken_up(&mut self, note: String) {
        tracing::warn!("{note}");
        self.reader = super::LogReader::hashing(&self.wiring);
        self.snapshot_note = Some(note);
    }

    /// Writes a snapshot when `every` messages were folded since the last (or, with `last`, when
    /// any were). A snapshot that cannot be written is said and skipped: the log holds it all.
    pub(super) fn snapshot(&mut self, last: bool) {
        write_due(self.snapshots.as_mut(), &self.engine, &self.reader, last);
    }

    /// Writes the last snapshot of a run (when [`super::Options::last_snapshot`] left it to the
    /// caller) while `beside` reads the engine on a thread of its own, and returns what `beside`
    /// made: `baton run` lays out its final table meanwhile. Without snapshots, or without a
    /// thread to be had, `beside` runs here.
    pub fn last_snapshot_beside<R: Send>(&mut self, beside: impl Fn(&Engine) -> R + Sync) -> R {
        let (engine, reader) = (&self.engine, &self.reader);
        let Some(snapshots) = self.snapshots.as_mut() else {
            return beside(engine);
        };
        std::thread::scope(|scope| {
            let other = std::thread::Builder::new()
                .name("baton-beside".into())
                .spawn_scoped(scope, || beside(engine));
            write_due(Some(snapshots), engine, reader, true);
            match other {
                Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => beside(engine),
            }
        })
    }
}

/// [`super::Coordinator::snapshot`] on the coordinator's parts.
fn write_due(snapshots: Option<&mut Snapshots>, engine: &Engine, reader: &super::LogReader, last: bool) {
    let Some(snapshots) = snapshots else {
        return;
    };
    let since = engine.applied().saturating_sub(snapshots.last);
    if since == 0 || (!last && since < snapshots.every) {
        return;
    }
    let Some(mark) = reader.mark() else {
        return;
    };
    if let Err(e) = snapshots.write(engine, &mark) {
        tracing::warn!("no snapshot: {e}");
    }
}
