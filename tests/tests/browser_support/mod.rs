//! The browser-test harness shared by `web_browser.rs` and `web_admin_browser.rs` (moved out
//! of `web_browser.rs` unchanged but for `pub`): a chromedriver child on a free loopback port,
//! a headless Chromium session with a fresh profile, screenshots under `target/screenshots/`,
//! and [`Ctx`] with the waits and the sign-in both test files use.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hotspot_tests::demo::Demo;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const INSTALL_HINT: &str = "install them with: apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver";
/// Longest wait for anything the browser or the fleet does.
pub const WAIT: Duration = Duration::from_secs(30);

/// A chromedriver child process on a free loopback port; killed when dropped.
pub struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    pub fn start() -> Chromedriver {
        let binary = std::env::var("HOTSPOT_CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.into());
        assert!(
            Path::new(&binary).exists(),
            "chromedriver not found at {binary}: the browser tests need Debian's chromium and \
             chromium-driver; {INSTALL_HINT}"
        );
        let port = hotspot_tests::ports::free_tcp().port();
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}; {INSTALL_HINT}"));
        let driver = Chromedriver { child, port };
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session with a fresh profile.
pub async fn browser(driver: &Chromedriver, profile: &Path) -> Client {
    let binary = std::env::var("HOTSPOT_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
    assert!(
        Path::new(&binary).exists(),
        "chromium not found at {binary}; {INSTALL_HINT}"
    );
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--window-size=1280,900".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": binary, "args": args },
    });
    let Value::Object(caps) = caps else {
        unreachable!("an object")
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url())
        .await
        .expect("a WebDriver session with headless chromium")
}

/// Where screenshots go: `<target>/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

pub async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("write screenshot");
}

/// Everything the scenarios share.
pub struct Ctx {
    pub c: Client,
    pub base: String,
    pub demo: Demo,
}

impl Ctx {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn path(&self) -> String {
        let u = self.c.current_url().await.expect("url");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .expect("text")
    }

    pub async fn wait_for(&self, css: &str) {
        self.c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("waiting for {css}: {e}"));
    }

    /// Signs in through the form (the browser is on the sign-in page).
    pub async fn sign_in(&self, username: &str, password: &str) {
        self.submit_sign_in(username, password).await;
        self.wait_for("#logout").await;
    }

    /// Fills and sends the sign-in form (the browser is on the sign-in page), whatever comes
    /// of it.
    pub async fn submit_sign_in(&self, username: &str, password: &str) {
        self.wait_for("#login-form").await;
        let user = self.c.find(Locator::Id("username")).await.expect("field");
        user.clear().await.expect("clear");
        user.send_keys(username).await.expect("type");
        let pass = self.c.find(Locator::Id("password")).await.expect("field");
        pass.send_keys(password).await.expect("type");
        self.c
            .find(Locator::Id("sign-in"))
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
    }

    pub async fn sign_out(&self) {
        self.c
            .find(Locator::Id("logout"))
            .await
            .expect("sign-out button")
            .click()
            .await
            .expect("click");
        self.wait_for("#login-form").await;
    }
}
