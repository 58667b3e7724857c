//! `baton serve` over a running festival on the local ledger: the JSON API, the event stream,
//! refused answers that change nothing, and approvals through the API that carry the release
//! pipeline to payment. The helpers here (processes, a small HTTP client) serve the browser test
//! too.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

pub(crate) const WORKFLOW: &str = "workflows/release-pipeline.yaml";

/// A child process killed and reaped when dropped.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh state directory, removed when dropped.
pub(crate) struct StateDir(pub(crate) PathBuf);

impl StateDir {
    pub(crate) fn new(label: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Self(std::env::temp_dir().join(format!("baton-serve-{label}-{}-{nanos}", std::process::id())))
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn baton(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.args(args).env("NO_COLOR", "1");
    cmd
}

/// `baton run` of the release pipeline with simulated agents whose work always passes its gates,
/// approvals left to people.
pub(crate) fn start_run(state: &StateDir) -> Running {
    let state = state.0.display().to_string();
    let child = baton(&[
        "run",
        WORKFLOW,
        "--simulate",
        "--manual-approvals",
        "--success-rate",
        "1",
        "--work-ms",
        "20",
        "--quiet",
        "--state",
        &state,
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("baton run starts");
    Running(child)
}

/// A running `baton serve` on a free port, with the address and token it printed.
pub(crate) struct Served {
    pub(crate) addr: String,
    pub(crate) token: String,
    pub(crate) url: String,
    pub(crate) child: Running,
}

/// Starts `baton serve` on port 0 and reads its address and token from its first lines.
pub(crate) fn start_serve(state: &StateDir, extra: &[&str]) -> Served {
    let state = state.0.display().to_string();
    let mut args = vec!["serve", WORKFLOW, "--addr", "127.0.0.1:0", "--state", &state];
    args.extend_from_slice(extra);
    served(baton(&args))
}

/// Starts `command` (a `baton serve` on port 0) and reads its address and token from its first
/// lines.
pub(crate) fn served(mut command: Command) -> Served {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("baton serve starts");
    let stdout = child.stdout.take().expect("serve's stdout is piped");
    let child = Running(child);
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end, so the server never writes to a closed pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    let mut printed = Vec::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("baton serve printed no address ({e}): {printed:?}"));
        if let Some(url) = line.strip_prefix("open ") {
            let (base, token) = url.split_once("/#token=").expect("the URL carries the token");
            let addr = base.trim_start_matches("http://").to_owned();
            return Served {
                addr,
                token: token.to_owned(),
                url: url.to_owned(),
                child,
            };
        }
        printed.push(line);
    }
}

/// One HTTP/1.1 request with `Connection: close`; the status and the body, parsed as JSON when
/// it is JSON (else a string). Chunked bodies are decoded.
pub(crate) fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("read timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str("\r\n");
    stream
        .write_all(format!("{head}{body}").as_bytes())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let (status, body) = response(&mut stream).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, value)
}

/// Reads one response: the head, then a body of `Content-Length` bytes, a chunked body, or
/// everything until the server closes (some servers keep the connection open whatever the
/// request says, so the length decides where the body ends).
fn response(stream: &mut TcpStream) -> Result<(u16, String), String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!(
                "closed before the head ended: {:?}",
                String::from_utf8_lossy(&raw)
            ));
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    let mut body = raw.split_off(head_end + 4);
    loop {
        let done = match length {
            Some(n) => body.len() >= n,
            None => chunked && body.ends_with(b"0\r\n\r\n"),
        };
        if done {
            break;
        }
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    Ok((status, if chunked { unchunk(&text) } else { text }))
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

pub(crate) fn get(addr: &str, path: &str) -> Value {
    let (status, body) = request(addr, "GET", path, &[], "");
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// Polls `what` every 100 ms until it gives a value or `limit` passes.
pub(crate) fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Messages of type `kind` in the log, as the events API lists them.
fn messages_of(served: &Served, kind: &str) -> usize {
    let page = get(&served.addr, "/api/events?since=0");
    let events = page["events"].as_array().expect("events is a list");
    events.iter().filter(|e| e["type"] == kind).count()
}

fn answer(served: &Served, task: &str, verb: &str, token: Option<&str>, body: &Value) -> (u16, String) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("Authorization", b.as_str())).collect();
    let path = format!("/api/tasks/{task}/{verb}");
    let (status, reply) = request(&served.addr, "POST", &path, &headers, &body.to_string());
    let error = reply["error"].as_str().unwrap_or_default().to_owned();
    (status, error)
}

#[test]
fn before_the_first_run_the_page_and_api_show_the_plan() {
    let state = StateDir::new("plan");
    let served = start_serve(&state, &[]);
    assert_eq!(served.url, format!("http://{}/#token={}", served.addr, served.token));
    assert_eq!(served.token.len(), 32, "a random token of 32 hex characters");
    let (status, page) = request(&served.addr, "GET", "/", &[], "");
    assert_eq!(status, 200);
    assert!(page.as_str().is_some_and(|p| p.contains("/app.js")), "{page}");
    let festival = get(&served.addr, "/api/festival");
    assert_eq!(festival["festival"], "release-pipeline");
    assert_eq!(festival["waves"], 4);
    assert_eq!(
        festival["critical_path"],
        json!(["ledger-snapshots", "upgrade-guide", "release-candidate", "publish"])
    );
    assert_eq!(festival["signers"], json!(["release-manager", "qa-lead"]));
    let gates = &festival["tasks"][0]["gates"];
    assert!(
        gates
            .as_array()
            .is_some_and(|g| g.contains(&json!("no_bench_regression"))),
        "{gates}"
    );
    let tasks = get(&served.addr, "/api/tasks");
    assert_eq!(tasks["log_found"], false);
    assert!(
        tasks["tasks"]
            .as_array()
            .is_some_and(|ts| ts.len() == 7 && ts.iter().all(|t| t["state"] == "pending"))
    );
    assert!(!state.0.exists(), "serving a festival that never ran creates nothing");
}

#[test]
fn serve_refuses_an_unusable_network_and_unknown_approvers_at_start() {
    let out = baton(&["serve", WORKFLOW, "--network", "testnet"])
        .output()
        .expect("serve runs");
    // Without the `hedera` feature there is no such network; with it, none is configured here.
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: network `testnet`: "), "{stderr}");
    let out = baton(&["serve", WORKFLOW, "--as", "mallory", "--addr", "127.0.0.1:0"])
        .output()
        .expect("serve runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`mallory` is not an approver of festival `release-pipeline`"),
        "{stderr}"
    );
}

#[test]
fn refused_answers_change_nothing_and_approvals_carry_the_festival_to_payment() {
    let state = StateDir::new("api");
    let served = start_serve(&state, &[]);
    let mut run = start_run(&state);
    let waiting = wait_for(Duration::from_secs(60), "a task waiting for approval", || {
        let approvals = get(&served.addr, "/api/approvals");
        approvals["approvals"][0]["task"].as_str().map(str::to_owned)
    });
    let (_, stream) = first_stream_event(&served.addr);
    assert!(
        stream.contains("event: state") && stream.contains("design_approval"),
        "{stream}"
    );

    refused_answers_publish_nothing(&served, &waiting);

    let reason = json!({"reason": "the design needs a diagram"});
    let (got, error) = answer(&served, &waiting, "reject", Some(&served.token), &reason);
    assert_eq!(got, 200, "{error}");
    let approved = approve_until_finished(&served);
    assert!(
        approved >= 12,
        "every change needs a design approval and a review: {approved} approved"
    );
    let status = wait_for(Duration::from_secs(60), "baton run to end", || {
        run.0.try_wait().ok().flatten()
    });
    assert!(status.success(), "baton run ends well: {status:?}");
    let tasks = get(&served.addr, "/api/tasks");
    assert_eq!(tasks["outcome"], "finished");
    assert!(
        tasks["tasks"]
            .as_array()
            .is_some_and(|ts| ts.iter().all(|t| t["state"] == "paid")),
        "{tasks}"
    );
    assert_eq!(tasks["rejections"], json!([]), "every answer was accepted");
    assert_eq!(messages_of(&served, "approval"), approved + 1);
    let rejected = tasks["tasks"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["id"] == waiting.as_str()));
    assert_eq!(
        rejected.map(|t| t["attempt"].clone()),
        Some(json!(2)),
        "the rejected design was redone"
    );
}

#[test]
fn ctrl_c_stops_the_server_with_a_page_open() {
    let state = StateDir::new("ctrl-c");
    let mut served = start_serve(&state, &[]);
    let (_open_page, first) = first_stream_event(&served.addr);
    assert!(first.contains("event: state"), "{first}");
    let pid = served.child.0.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().expect("kill runs");
    assert!(sent.success());
    let status = wait_for(Duration::from_secs(15), "baton serve to stop", || {
        served.child.0.try_wait().ok().flatten()
    });
    assert!(status.success(), "interrupted, the server stops cleanly: {status:?}");
}

/// Answers refused for their token, approver, reason, task or state: each says why, naming the
/// task, and none reaches the log; `waiting` still waits.
fn refused_answers_publish_nothing(served: &Served, waiting: &str) {
    let cases = [
        (Some("wrong"), "approve", json!({}), 401, "missing or wrong token"),
        (None, "approve", json!({}), 401, "missing or wrong token"),
        (
            Some(served.token.as_str()),
            "approve",
            json!({"as": "mallory"}),
            403,
            "`mallory` is not an approver of festival `release-pipeline`",
        ),
        (
            Some(served.token.as_str()),
            "approve",
            json!({"as": "qa-lead"}),
            403,
            "approver `qa-lead` may not answer for task",
        ),
        (Some(served.token.as_str()), "reject", json!({}), 400, "needs a reason"),
    ];
    for (token, verb, body, status, message) in cases {
        let (got, error) = answer(served, waiting, verb, token, &body);
        assert_eq!(got, status, "{verb} {body} with {token:?}: {error}");
        assert!(error.contains(message) && error.contains(waiting), "{error}");
    }
    let (got, error) = answer(served, "publish", "approve", Some(&served.token), &json!({}));
    assert_eq!(
        (got, error.as_str()),
        (409, "task `publish` is in state `pending`, not waiting for approval")
    );
    let (got, error) = answer(served, "nope", "approve", Some(&served.token), &json!({}));
    assert_eq!(
        (got, error.as_str()),
        (404, "task `nope` is not in festival `release-pipeline`")
    );
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(messages_of(served, "approval"), 0, "a refused answer publishes nothing");
    let tasks = get(&served.addr, "/api/tasks");
    let task = tasks["tasks"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["id"] == waiting));
    assert_eq!(task.map(|t| t["state"].clone()), Some(json!("design_approval")));
}

/// Approves every task waiting, through the API with the token, until the festival is over;
/// returns how many answers were published.
fn approve_until_finished(served: &Served) -> usize {
    let mut approved = 0;
    let start = Instant::now();
    while get(&served.addr, "/api/tasks")["outcome"] != "finished" {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "the festival did not finish"
        );
        let approvals = get(&served.addr, "/api/approvals");
        for a in approvals["approvals"].as_array().into_iter().flatten() {
            let task = a["task"].as_str().expect("task id");
            let (status, error) = answer(served, task, "approve", Some(&served.token), &json!({}));
            match status {
                200 => approved += 1,
                409 => {} // answered already, or moved on since the list was read
                other => panic!("approving `{task}`: {other} {error}"),
            }
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    approved
}

/// The first event of `/api/stream`, as text, and the stream, still open.
fn first_stream_event(addr: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(
        stream,
        "GET /api/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("request");
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text
        .split_once("event: state")
        .is_some_and(|(_, event)| event.contains("\n\n"))
    {
        let n = stream.read(&mut buf).expect("the stream sends an event");
        assert!(n > 0, "the stream closed: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    (stream, text)
}
