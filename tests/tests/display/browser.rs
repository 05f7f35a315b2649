//! Headless Chromium driven through WebDriver: a `chromedriver` of our own on a free port, one
//! session with a fresh profile, and the few moves the tests make (click, type, wait for a
//! condition evaluated in the page, screenshots).
//!
//! chromedriver runs in a process group of its own; the browser it starts joins it, so a test
//! that fails half-way still leaves nothing behind (the group is killed on drop).

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Debian's packages (`apt-get install chromium chromium-driver`); `CHROMIUM` and
/// `CHROMEDRIVER` name others.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long chromedriver and the browser may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn program(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: install Chromium and its WebDriver (`apt-get install -y chromium \
         chromium-driver`, as scripts/test does) or set {variable}",
        path.display()
    );
    path
}

/// The directory screenshots go to: `<target dir>/display-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    // This test binary is `<target dir>/<profile>/deps/<name>-<hash>`.
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
            Path::to_path_buf,
        );
    let dir = target.join("display-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

pub struct Browser {
    pub client: Client,
    /// Kills chromedriver's group when dropped, so also when a test fails half-way.
    _driver: DriverGuard,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium speaking `language` (navigator.language).
    pub async fn launch(language: &str) -> Browser {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let chromium = program("CHROMIUM", CHROMIUM);
        let chromedriver = program("CHROMEDRIVER", CHROMEDRIVER);
        let profile = std::env::temp_dir().join(format!(
            "concierge-display-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(profile.join("user-data")).expect("a browser profile directory");
        let log = File::create(profile.join("chromedriver.log")).expect("a log file");
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file, again"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let mut guard = DriverGuard(Some(driver), profile.clone());

        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--hide-scrollbars",
                    "--window-size=1280,800",
                    format!("--lang={language}"),
                    format!("--user-data-dir={}", profile.join("user-data").display()),
                ],
                "prefs": {"intl.accept_languages": language},
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + START_TIMEOUT;
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) => {
                    if let Some(status) = guard.try_wait() {
                        panic!(
                            "chromedriver exited with {status}:\n{}",
                            read(&profile.join("chromedriver.log"))
                        );
                    }
                    assert!(
                        Instant::now() < deadline,
                        "no WebDriver session within {START_TIMEOUT:?}: {error}\n{}",
                        read(&profile.join("chromedriver.log"))
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        Browser {
            client,
            _driver: guard,
        }
    }

    /// Sizes the viewport (not the window) to `width`×`height` CSS pixels.
    pub async fn viewport(&self, width: u32, height: u32) {
        let wanted = (i64::from(width), i64::from(height));
        let (mut outer_w, mut outer_h) = wanted;
        let mut inner = (0, 0);
        for _ in 0..5 {
            self.client
                .set_window_size(outer_w as u32, outer_h as u32)
                .await
                .expect("resize the window");
            // The page hears of the new size a moment later.
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                let size = self
                    .eval("return [window.innerWidth, window.innerHeight];")
                    .await;
                inner = (size[0].as_i64().unwrap_or(0), size[1].as_i64().unwrap_or(0));
                if inner == wanted || Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(POLL).await;
            }
            if inner == wanted {
                return;
            }
            // The window's frame takes the difference: grow the window by it.
            outer_w += wanted.0 - inner.0;
            outer_h += wanted.1 - inner.1;
        }
        panic!("the viewport is {inner:?}, not {width}x{height}");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Runs `script` (a function body) in the page; returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `condition` (a function body) until it returns something other than null, false,
    /// 0 or ""; returns that. Fails with `what`, the page's text and a screenshot otherwise.
    pub async fn wait_for(&self, what: &str, within: Duration, condition: &str) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let value = self.client.execute(condition, vec![]).await;
            if let Ok(value) = &value
                && truthy(value)
            {
                return value.clone();
            }
            if Instant::now() >= deadline {
                let text = self
                    .client
                    .execute("return document.body.innerText;", vec![])
                    .await
                    .unwrap_or(Value::Null);
                let shot = self.screenshot(&format!("failed-{}", slug(what))).await;
                panic!(
                    "{what}: not within {within:?} (last: {value:?})\npage text: {}\nscreenshot: {}",
                    text.as_str().unwrap_or(""),
                    shot.display()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        field.clear().await.expect("clear the field");
        field.send_keys(text).await.expect("type");
    }

    /// Types `digits` on the on-screen keypad, one key at a time.
    pub async fn press_keys(&self, digits: &str) {
        for digit in digits.chars() {
            self.click(&format!(".key[data-key=\"{digit}\"]")).await;
        }
    }

    /// Saves a PNG of the viewport as `<target>/display-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Ends the session (the browser quits), then chromedriver.
    pub async fn close(self) {
        let Browser {
            client,
            _driver: driver,
        } = self;
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        drop(driver);
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(60)
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// chromedriver's process group (the browser with it) and the profile directory, gone on drop.
struct DriverGuard(Option<Child>, PathBuf);

impl DriverGuard {
    fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.0
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            // The group's id is chromedriver's pid (process_group(0)).
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.1);
    }
}
