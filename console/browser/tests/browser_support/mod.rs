//! A browser for the tests: chromedriver on a free port, driving a headless Chromium
//! with a fresh profile; and child processes for scenarios that need one of their own.

#![allow(dead_code)] // each test uses a part

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// How long any wait may take.
pub(crate) const BOUND: Duration = Duration::from_secs(30);

/// One browser at a time: two cores do not run several Chromiums well.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const INSTALL: &str = "apt-get install chromium chromium-driver";

fn found(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

/// A headless Chromium, driven through chromedriver; both end when it is dropped.
pub(crate) struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: std::process::Child,
    profile: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    /// A browser, or `None` (with a line saying so) where Chromium or chromedriver is
    /// missing and `THREADWARD_REQUIRE_BROWSER` is not `1`.
    pub(crate) fn start() -> Option<Self> {
        let chromium = found(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
        let driver = found(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            assert!(
                std::env::var("THREADWARD_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "THREADWARD_REQUIRE_BROWSER=1 but Chromium or chromedriver is missing: {INSTALL}"
            );
            println!("skipped: no Chromium and chromedriver here (install them with `{INSTALL}`)");
            return None;
        };
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile =
            std::env::temp_dir().join(format!("threadward-browser-{}-{port}", std::process::id()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1600,800",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connected = runtime.block_on(
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(capabilities.clone())
                    .connect(&url),
            );
            match connected {
                Ok(client) => break client,
                Err(error) => {
                    assert!(started.elapsed() < BOUND, "no browser session: {error}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        Some(Self {
            runtime,
            client: Some(client),
            driver,
            profile,
            _turn: turn,
        })
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    pub(crate) fn open(&self, url: &str) {
        self.runtime
            .block_on(self.client().goto(url))
            .expect("open the page");
    }

    /// Waits until the page says its event stream is live.
    pub(crate) fn wait_live(&self) {
        self.wait_for(
            "document.getElementById('status').textContent === 'live'",
            BOUND,
        );
    }

    /// The value of a JavaScript expression.
    pub(crate) fn eval(&self, expression: &str) -> Value {
        let script = format!("return ({expression});");
        self.runtime
            .block_on(self.client().execute(&script, Vec::new()))
            .unwrap_or_else(|error| panic!("{expression}: {error}"))
    }

    /// Waits until `condition` (a JavaScript expression) is true, at most `bound`.
    pub(crate) fn wait_for(&self, condition: &str, bound: Duration) {
        let start = Instant::now();
        loop {
            if self.eval(condition) == Value::Bool(true) {
                return;
            }
            assert!(start.elapsed() < bound, "not within {bound:?}: {condition}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Saves a screenshot as `<target tmp>/<name>.png` and says where.
    pub(crate) fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .runtime
            .block_on(self.client().screenshot())
            .expect("a screenshot");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("save the screenshot");
        println!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Whether this process is the child running scenario `name`.
pub(crate) fn scenario(name: &str) -> bool {
    std::env::var("THREADWARD_SCENARIO").as_deref() == Ok(name)
}

/// This test binary again, running one scenario; killed if the test fails first.
pub(crate) struct Child {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Child {
    pub(crate) fn start(name: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                name,
                "--nocapture",
                "--quiet",
                "--test-threads=1",
            ])
            .env("THREADWARD_SCENARIO", name)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the scenario");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// What follows `prefix` on the first line that starts with it.
    pub(crate) fn line_after(&mut self, prefix: &str) -> String {
        let start = Instant::now();
        loop {
            let left = BOUND.saturating_sub(start.elapsed());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no `{prefix}` line"));
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_owned();
            }
        }
    }

    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the child to exit, at most `BOUND`.
    pub(crate) fn wait(&mut self) {
        let start = Instant::now();
        while self.child.try_wait().expect("wait").is_none() {
            assert!(start.elapsed() < BOUND, "the scenario did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
