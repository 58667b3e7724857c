//! The page of `baton serve` in a real browser: Debian's headless chromium driven through
//! chromedriver (W3C WebDriver over HTTP, with the small client of `serve`). During a `run
//! --simulate` whose approvals are left to people, the page shows a task waiting; clicking
//! approve, again for each approval the release needs, carries the festival on to payment, which
//! the page shows. Screenshots are kept under the target's test directory.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`apt-get install chromium
//! chromium-driver`); runs only with the `browser` feature.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::serve::{Running, StateDir, request, start_run, start_serve, wait_for};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The key W3C WebDriver names element references with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it, both ended when dropped.
struct Browser {
    driver: String,
    session: String,
    _chromedriver: Running,
}

impl Browser {
    fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port for chromedriver");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{CHROMEDRIVER} starts (apt-get install chromium-driver): {e}"));
        let chromedriver = Running(child);
        let driver = format!("127.0.0.1:{port}");
        wait_for(Duration::from_secs(30), "chromedriver to listen", || {
            std::net::TcpStream::connect(&driver).ok()
        });
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1500"],
            },
        }}});
        let (status, reply) = request(&driver, "POST", "/session", &[], &capabilities.to_string());
        assert_eq!(status, 200, "a chromium session starts: {reply}");
        let session = reply["value"]["sessionId"]
            .as_str()
            .expect("the session has an id")
            .to_owned();
        Browser {
            driver,
            session,
            _chromedriver: chromedriver,
        }
    }

    /// A WebDriver command of this session; its `value`, or the error with its status.
    fn command(&self, method: &str, path: &str, body: &Value) -> Result<Value, String> {
        let body = if method == "GET" {
            String::new()
        } else {
            body.to_string()
        };
        let path = format!("/session/{}{path}", self.session);
        let (status, reply) = request(&self.driver, method, &path, &[], &body);
        if status == 200 {
            Ok(reply["value"].clone())
        } else {
            Err(format!("{method} {path}: {status} {reply}"))
        }
    }

    fn open(&self, url: &str) {
        self.command("POST", "/url", &json!({ "url": url }))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The elements matching a CSS selector, by reference.
    fn find(&self, css: &str) -> Vec<String> {
        let found = self
            .command("POST", "/elements", &json!({"using": "css selector", "value": css}))
            .unwrap_or_else(|e| panic!("{e}"));
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
            .collect()
    }

    /// The visible text of the first element matching `css`, if there is one.
    fn text(&self, css: &str) -> Option<String> {
        let element = self.find(css).into_iter().next()?;
        let text = self
            .command("GET", &format!("/element/{element}/text"), &Value::Null)
            .ok()?;
        text.as_str().map(str::to_owned)
    }

    /// The state column of the tasks table, read in one script so that no row is replaced
    /// between finding and reading it.
    fn states(&self) -> Vec<String> {
        let script = "return [...document.querySelectorAll('#tasks tbody td.state')].map((td) => td.textContent)";
        let found = self
            .command("POST", "/execute/sync", &json!({"script": script, "args": []}))
            .unwrap_or_else(|e| panic!("{e}"));
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// Clicks an element; an element the page replaced meanwhile is an error, not a panic.
    fn click(&self, element: &str) -> Result<Value, String> {
        self.command("POST", &format!("/element/{element}/click"), &json!({}))
    }

    /// Saves a screenshot of the page as `browser/NAME.png` under the target's test directory.
    fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self
            .command("GET", "/screenshot", &Value::Null)
            .unwrap_or_else(|e| panic!("{e}"));
        let png = base64(encoded.as_str().expect("a screenshot is base64 text"));
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
        std::fs::create_dir_all(&dir).expect("the screenshot directory can be created");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot can be written");
        println!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(&self.driver, "DELETE", &format!("/session/{}", self.session), &[], "");
    }
}

/// Decodes standard base64 (with padding), as WebDriver sends screenshots.
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for group in sextets.chunks(4) {
        let bits = group
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &s)| acc | (u32::from(s) << (18 - 6 * i)));
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    out
}

#[test]
fn base64_decodes_what_webdriver_sends() {
    assert_eq!(base64("iVBORw0KGgo="), b"\x89PNG\r\n\x1a\n");
    assert_eq!(base64("YWJj"), b"abc");
    assert_eq!(base64("YQ=="), b"a");
}

/// Types a reason for `task` and clicks Reject, again if the page rebuilt the list meanwhile;
/// the page says what it did.
fn reject_in_the_page(browser: &Browser, task: &str) {
    let item = format!("#approvals li.approval[data-task=\"{task}\"]");
    let reason = json!({"text": "the design needs a diagram"});
    wait_for(Duration::from_secs(20), "the rejection to be sent", || {
        let input = browser.find(&format!("{item} input.reason")).into_iter().next()?;
        browser
            .command("POST", &format!("/element/{input}/clear"), &json!({}))
            .ok()?;
        browser
            .command("POST", &format!("/element/{input}/value"), &reason)
            .ok()?;
        let button = browser.find(&format!("{item} button.reject")).into_iter().next()?;
        browser.click(&button).ok()
    });
    let said = wait_for(Duration::from_secs(20), "the page to say it rejected", || {
        browser.text("#notice").filter(|n| n.starts_with("rejected task"))
    });
    assert_eq!(said, format!("rejected task {task} as release-manager"));
}

#[test]
fn in_chromium_a_person_rejects_then_approves_and_the_festival_goes_on_to_payment() {
    let state = StateDir::new("browser");
    let served = start_serve(&state, &[]);
    let _run = start_run(&state);
    let browser = Browser::start();
    browser.open(&served.url);

    let waiting = wait_for(Duration::from_secs(60), "the page to show a task waiting", || {
        browser.text("#approvals li.approval strong")
    });
    let row = format!("#tasks tr[data-task=\"{waiting}\"] td.state");
    let state_shown = wait_for(Duration::from_secs(10), "the task's row", || browser.text(&row));
    assert_eq!(state_shown, "design_approval", "the table shows `{waiting}` waiting");
    browser.screenshot("waiting");
    reject_in_the_page(&browser, &waiting);

    let start = Instant::now();
    let mut clicks = 0;
    while browser.text("#outcome").as_deref() != Some("finished") {
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "the festival did not finish; {clicks} clicks"
        );
        if let Some(button) = browser.find("#approvals button.approve:not([disabled])").first()
            && browser.click(button).is_ok()
        {
            clicks += 1;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(clicks >= 12, "every change needed two approvals: {clicks} clicks");
    let states = wait_for(Duration::from_secs(20), "the table to show every task paid", || {
        let states = browser.states();
        (states.len() == 7 && states.iter().all(|s| s == "paid")).then_some(states)
    });
    assert_eq!(states.len(), 7, "{states:?}");
    let notice = browser.text("#notice").unwrap_or_default();
    assert!(notice.contains("approved task"), "the page said what it did: {notice}");
    let path = browser.screenshot("approval");
    assert!(
        std::fs::metadata(&path).is_ok_and(|m| m.len() > 1000),
        "{}",
        path.display()
    );
}
