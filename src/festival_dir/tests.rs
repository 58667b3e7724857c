//! Tests of the festival reader over the fixtures in `tests/data/festivals/` (and the reference
//! festival, when a machine has it). Tests only read fixtures; they never write into them.

use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;

use super::*;
use crate::spec::TaskKind;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/festivals")
        .join(name)
}

fn read_fixture(name: &str) -> (Sources, FestivalDir, Vec<Diagnostic>) {
    let mut sources = Sources::new();
    match read(&mut sources, &fixture(name)) {
        Ok((festival, diagnostics)) => (sources, festival, diagnostics),
        Err(e) => panic!("fixture {name} is unreadable: {e}"),
    }
}

fn find<'a>(festival: &'a FestivalDir, id: &str) -> &'a Task {
    match festival.tasks.iter().find(|t| t.id.value == id) {
        Some(task) => task,
        None => panic!("no task {id}"),
    }
}

fn values(list: &[Spanned<String>]) -> Vec<&str> {
    list.iter().map(|s| s.value.as_str()).collect()
}

/// The text a span covers.
fn covered(sources: &Sources, span: crate::diagnostics::Span) -> &str {
    sources
        .text(span.file)
        .get(span.start..span.end)
        .unwrap_or("<bad span>")
}

/// (code, file name, line) of every diagnostic.
fn places(sources: &Sources, diagnostics: &[Diagnostic]) -> Vec<(Code, String, usize)> {
    diagnostics
        .iter()
        .map(|d| match d.span {
            Some(s) => {
                let name = sources
                    .path(s.file)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (d.code, name, sources.line_col(s.file, s.start).0)
            }
            None => (d.code, String::new(), 0),
        })
        .collect()
}

/// One line per task: short id, name, hard and soft dependencies (short), kind, progress.
fn summary(task: &Task) -> String {
    let short = |id: &str| id.trim_start_matches("001_BUILD/").to_string();
    let shorts = |list: &[Spanned<String>]| list.iter().map(|d| short(&d.value)).collect::<Vec<_>>();
    let (hard, soft) = (shorts(&task.depends_on), shorts(&task.soft_depends_on));
    let (id, name, kind, progress) = (short(&task.id.value), &task.name, &task.kind, task.progress);
    format!("{id} {name:?} hard={hard:?} soft={soft:?} {kind:?} {progress:?}")
}

#[test]
fn parallel_steps_gates_and_explicit_dependencies() {
    let (_, festival, diagnostics) = read_fixture("parallel-PA0001");
    assert_eq!(diagnostics, vec![]);
    assert_eq!((festival.id.as_str(), festival.name.as_str()), ("PA0001", "parallel"));
    let expected = [
        r#"01_setup/01_design "Design the API" hard=[] soft=[] Work Completed"#,
        r#"01_setup/02_api "Build the API" hard=["01_setup/01_design"] soft=[] Work InProgress"#,
        r#"01_setup/02_cli "Build the CLI" hard=["01_setup/01_design"] soft=[] Work Completed"#,
        r#"01_setup/03_testing "Testing and Verification" hard=["01_setup/02_api", "01_setup/02_cli"] soft=[] Gate("testing") Pending"#,
        r#"02_ship/01_package "Package the release" hard=["01_setup/03_testing", "01_setup/02_api"] soft=["01_setup/02_cli"] Work Pending"#,
        r#"02_ship/02_code_review "Review the package" hard=["02_ship/01_package"] soft=[] Gate("review") Pending"#,
    ];
    let actual: Vec<String> = festival.tasks.iter().map(summary).collect();
    assert_eq!(actual, expected);
    let estimates: Vec<Option<u64>> = festival.tasks.iter().map(|t| t.estimate_secs).collect();
    assert_eq!(estimates, vec![Some(7200), None, None, None, Some(1800), None]);
    let defaults = |t: &Task| t.max_attempts == crate::spec::DEFAULT_MAX_ATTEMPTS && t.agent.is_none();
    assert!(festival.tasks.iter().all(defaults));
}

#[test]
fn spans_point_at_what_the_files_say() {
    let (sources, festival, _) = read_fixture("parallel-PA0001");
    let package = find(&festival, "001_BUILD/02_ship/01_package");
    assert_eq!(covered(&sources, package.id.span), "Package the release");
    let written: Vec<&str> = package.depends_on.iter().map(|d| covered(&sources, d.span)).collect();
    // The implicit edge points at the task's own id; the written one at the reference.
    assert_eq!(written, vec!["Package the release", "../01_setup/02_api"]);
    let soft: Vec<&str> = package
        .soft_depends_on
        .iter()
        .map(|d| covered(&sources, d.span))
        .collect();
    assert_eq!(soft, vec!["../setup/cli.md"]);
    let cli = find(&festival, "001_BUILD/01_setup/02_cli");
    assert_eq!(covered(&sources, cli.id.span), "# Task: Build the CLI");
}

#[test]
fn progress_log_overrides_front_matter() {
    let (sources, festival, diagnostics) = read_fixture("progress-PR0001");
    assert_eq!(festival.id, "progress-PR0001");
    let expected = [
        ("001_WORK/01_main/01_a", Progress::Completed),
        ("001_WORK/01_main/02_b", Progress::Blocked),
        ("001_WORK/01_main/03_c", Progress::Pending),
        ("001_WORK/01_main/04_d", Progress::InProgress),
        ("001_WORK/01_main/05_e", Progress::InProgress),
        ("001_WORK/01_main/06_f", Progress::Completed),
        ("003_FINAL/01_wrap/01_done", Progress::InProgress),
    ];
    let actual: Vec<(&str, Progress)> = festival
        .tasks
        .iter()
        .map(|t| (t.id.value.as_str(), t.progress))
        .collect();
    assert_eq!(actual, expected);
    let expected_places = vec![
        (Code::FestFrontMatter, "06_f.md".to_string(), 4),
        (Code::FestProgressLog, "progress_events.jsonl".to_string(), 5),
    ];
    assert_eq!(places(&sources, &diagnostics), expected_places);
    // Broken front matter: the heading names the task. The workflow phase does not break the chain.
    assert_eq!(find(&festival, "001_WORK/01_main/06_f").name, "F from heading");
    assert_eq!(
        values(&find(&festival, "003_FINAL/01_wrap/01_done").depends_on),
        vec!["001_WORK/01_main/06_f"]
    );
}

#[test]
fn broken_reference_points_at_its_line() {
    let (sources, festival, diagnostics) = read_fixture("broken-BR0001");
    assert_eq!(
        (festival.id.as_str(), festival.name.as_str()),
        ("broken-BR0001", "broken-BR0001")
    );
    let expected = vec![
        (Code::FestFrontMatter, "fest.yaml".to_string(), 3),
        (Code::BrokenFestReference, "01_second.md".to_string(), 5),
        (Code::BrokenFestReference, "01_second.md".to_string(), 8),
    ];
    assert_eq!(places(&sources, &diagnostics), expected);
    assert_eq!(
        diagnostics[1].hint.as_deref(),
        Some("did you mean `001_P/01_s/01_first`?")
    );
    let spans: Vec<&str> = diagnostics[1..]
        .iter()
        .filter_map(|d| d.span)
        .map(|s| covered(&sources, s))
        .collect();
    assert_eq!(spans, vec!["../01_s/02_frist", "../nowhere/x"]);
    let second = find(&festival, "001_P/02_t/01_second");
    // The implicit edge and the written one are the same: kept once, at the written reference.
    assert_eq!(values(&second.depends_on), vec!["001_P/01_s/01_first"]);
    assert_eq!(covered(&sources, second.depends_on[0].span), "../01_s/first");
    // A soft dependency that is also hard is dropped.
    assert_eq!(values(&second.soft_depends_on), Vec::<&str>::new());
}

#[test]
fn a_directory_without_tasks_is_not_a_festival() {
    let (_, festival, diagnostics) = read_fixture("empty-EM0001");
    assert_eq!(festival.tasks, vec![]);
    assert_eq!(festival.id, "empty-EM0001");
    let codes: Vec<(Code, bool)> = diagnostics.iter().map(|d| (d.code, d.span.is_none())).collect();
    assert_eq!(codes, vec![(Code::NotAFestival, true)]);
    assert!(diagnostics[0].message.contains("empty-EM0001"));
    assert!(diagnostics[0].hint.is_some());
}

#[test]
fn an_unreadable_directory_is_an_error() {
    let mut sources = Sources::new();
    for path in [fixture("no-such-festival"), fixture("empty-EM0001/FESTIVAL_GOAL.md")] {
        assert!(read(&mut sources, &path).is_err(), "{}", path.display());
    }
}

/// The reference festival, read, when this machine has it (CI machines do not).
fn reference_festival() -> Option<(FestivalDir, Vec<Diagnostic>)> {
    let dir = Path::new("/work/shared/reference/festivals/dashboard-agent-integration-DA0002");
    if !dir.is_dir() {
        return None;
    }
    match read(&mut Sources::new(), dir) {
        Ok(read) => Some(read),
        Err(e) => panic!("reference festival unreadable: {e}"),
    }
}

#[test]
fn reference_festival_is_complete() {
    let Some((festival, diagnostics)) = reference_festival() else {
        return;
    };
    assert_eq!(diagnostics, vec![]);
    assert_eq!(
        (festival.id.as_str(), festival.name.as_str()),
        ("DA0002", "dashboard-agent-integration")
    );
    let sequences: BTreeSet<&str> = festival
        .tasks
        .iter()
        .filter_map(|t| t.id.value.split('/').nth(1))
        .collect();
    assert_eq!(sequences.len(), 6);
    assert_eq!(festival.tasks.len(), 46);
    assert!(festival.tasks.iter().all(|t| t.progress == Progress::Completed));
}

#[test]
fn reference_festival_gates_and_order() {
    let Some((festival, _)) = reference_festival() else {
        return;
    };
    let gates = |kind: &str| {
        festival
            .tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Gate(kind.into()))
            .count()
    };
    let counts = [gates("testing"), gates("review"), gates("iterate"), gates("commit")];
    assert_eq!(counts, [6, 6, 6, 6]);
    let first_of_second = find(&festival, "001_IMPLEMENT/02_external_mocks/01_create_hedera_hcs_mock");
    let last_of_first = "001_IMPLEMENT/01_coordinator_websocket/08_fest_commit";
    assert_eq!(values(&first_of_second.depends_on), vec![last_of_first]);
    let testing = find(&festival, "001_IMPLEMENT/01_coordinator_websocket/05_testing");
    assert_eq!(testing.name, "Testing and Verification");
}

/// Every span a diagnostic or task field carries lies inside its text, on character boundaries.
fn spans_are_inside(text: &str, spans: impl IntoIterator<Item = crate::diagnostics::Span>) -> bool {
    spans
        .into_iter()
        .all(|s| s.start <= s.end && text.is_char_boundary(s.start) && text.is_char_boundary(s.end))
}

proptest::proptest! {
    #[test]
    fn any_task_text_reads_without_panicking(body in "(---\n|fest_[a-z_]{1,12}: |[-\\[\\]x: {}\n\"'#é`${]|[a-z./0-9_]{1,8}){0,40}") {
        let (task, diagnostics) = task_file::parse(0, &body, "01_t");
        let spans = diagnostics.iter().filter_map(|d| d.span).chain([task.id_span]);
        let spans = spans.chain(task.hard.iter().chain(&task.soft).map(|r| r.span));
        proptest::prop_assert!(spans_are_inside(&body, spans));
    }

    #[test]
    fn any_log_reads_without_panicking(log in "(\\{|\\}|\"event\"|\"task\"|:|,|\"completed\"|\"a/b/c.md\"|\n|é|\\[){0,40}") {
        let known: BTreeSet<String> = ["a/b/c".to_string()].into();
        let mut diagnostics = Vec::new();
        let _ = progress::apply(0, &log, &known, &mut diagnostics);
        proptest::prop_assert!(spans_are_inside(&log, diagnostics.iter().filter_map(|d| d.span)));
    }
}
