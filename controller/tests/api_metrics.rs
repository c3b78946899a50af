//! Who may read `/metrics` (issue 16 §2): super admins, and scrapers with the token of
//! `metrics.token_file`; nobody else, loopback or not. The loopback-only second listener of
//! `metrics.listen` is checked by the config (another address is refused).

mod common;
mod support;

use hotspot_controller::config::Config;
use support::*;

const TOKEN: &str = "scrape-token-0123456789abcdef";

async fn scrape(app: &TestApp, auth: Option<&str>) -> (u16, String) {
    let header;
    let headers: Vec<(&str, &str)> = match auth {
        Some(a) => {
            header = format!("Bearer {a}");
            vec![("authorization", header.as_str())]
        }
        None => Vec::new(),
    };
    let r = app.api.send("GET", "/metrics", &headers, None).await;
    (r.status, r.text())
}

#[tokio::test]
async fn metrics_answer_admins_and_the_scrape_token_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("metrics.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("writes");
    let path = token_file.clone();
    let app = TestApp::start_with(move |c| c.metrics.token_file = Some(path)).await;
    // A client on this very host (the test) without a secret: refused, as everyone else.
    assert_eq!(scrape(&app, None).await.0, 401);
    assert_eq!(scrape(&app, Some("not-the-token-at-all")).await.0, 401);
    let alice = app.login("alice").await;
    assert_eq!(scrape(&app, Some(&alice)).await.0, 403, "staff");
    let admin = app.login("admin").await;
    let (status, body) = scrape(&app, Some(&admin)).await;
    assert_eq!(status, 200);
    assert!(body.contains("hotspot_"), "{body}");
    let (status, body) = scrape(&app, Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    // Rotated in place: the old token stops working at once.
    std::fs::write(&token_file, "another-scrape-token-fedcba9876543210").expect("writes");
    assert_eq!(scrape(&app, Some(TOKEN)).await.0, 401);
    // A token file too short to be a secret is a configuration error, said as such.
    std::fs::write(&token_file, "short").expect("writes");
    assert_eq!(scrape(&app, Some("short")).await.0, 500);
}

#[tokio::test]
async fn without_a_token_file_only_admins_read_metrics() {
    let app = TestApp::start().await;
    assert_eq!(scrape(&app, None).await.0, 401);
    let admin = app.login("admin").await;
    assert_eq!(scrape(&app, Some(&admin)).await.0, 200);
}

#[test]
fn the_open_metrics_listener_must_be_on_loopback() {
    let ok = Config::from_toml("[metrics]\nlisten = \"127.0.0.1:9464\"\n").expect("loopback");
    assert_eq!(ok.metrics.listen.map(|a| a.port()), Some(9464));
    let err = Config::from_toml("[metrics]\nlisten = \"0.0.0.0:9464\"\n").expect_err("refused");
    assert!(err.to_string().contains("not a loopback address"), "{err}");
}
