//! The `hotspot-pki` binary, run as a real process.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn pki(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hotspot-pki"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn dir_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn init_controller_cert_show() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fleet-pki");
    let d = dir_arg(&dir);

    let out = pki(&["init", "--dir", d]);
    assert!(out.status.success(), "{}", text(&out));
    let key_mode = fs::metadata(dir.join("fleet-ca.key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o077, 0);
    let ca_before = fs::read(dir.join("fleet-ca.cert.pem")).unwrap();
    let init_text = text(&out);

    let out = pki(&["init", "--dir", d]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("refusing to overwrite"),
        "{}",
        text(&out)
    );
    assert_eq!(fs::read(dir.join("fleet-ca.cert.pem")).unwrap(), ca_before);

    let out = pki(&[
        "controller-cert",
        "--dir",
        d,
        "--san",
        "localhost",
        "--san",
        "127.0.0.1",
        "--days",
        "30",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.join("controller.cert.pem").exists());
    let ctl_key_mode = fs::metadata(dir.join("controller.key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(ctl_key_mode & 0o077, 0);

    let out = pki(&["controller-cert", "--dir", d, "--san", "localhost"]);
    assert!(
        !out.status.success(),
        "second controller-cert without --replace must refuse"
    );
    assert!(text(&out).contains("--replace"), "{}", text(&out));
    let out = pki(&[
        "controller-cert",
        "--dir",
        d,
        "--san",
        "localhost",
        "--replace",
    ]);
    assert!(out.status.success(), "{}", text(&out));

    let out = pki(&["show", "--dir", d]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("CN=hotspot-fleet CA"), "{shown}");
    assert!(shown.contains("DNS:localhost"), "{shown}");
    assert!(shown.contains("includes this CA"), "{shown}");
    // The fingerprint printed at init is the one `show` prints.
    let fp = init_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("sha256"))
        .map(str::trim)
        .unwrap();
    assert_eq!(fp.len(), 64);
    assert!(shown.contains(fp), "{shown}");
}

#[test]
fn errors_are_actionable() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dir_arg(tmp.path());
    let out = pki(&["controller-cert", "--dir", d, "--san", "localhost"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("hotspot-pki init"), "{}", text(&out));

    let out = pki(&["controller-cert", "--dir", d]);
    assert!(!out.status.success(), "--san is required");

    let out = pki(&["show", "--dir", d]);
    assert!(!out.status.success());
}

#[test]
fn help_everywhere() {
    for args in [
        &["--help"][..],
        &["init", "--help"],
        &["controller-cert", "--help"],
        &["show", "--help"],
    ] {
        let out = pki(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("--"), "{args:?}");
    }
}
