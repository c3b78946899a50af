//! `hotspot-controller admin create` and `admin reset-2fa` as an operator runs them, on a data
//! directory: the way back in when the last super admin lost the phone and the recovery codes.

use std::path::Path;
use std::process::{Command, Output};

use hotspot_controller::cli::db_path;
use hotspot_controller::store::{EmbeddedStore, Stamp, Store, TwoFactorRecord};
use hotspot_shared::secretbox::Sealed;

fn controller(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hotspot-controller"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("CLI_ADMIN_PASSWORD", "cli-admin-passw0rd")
        .output()
        .expect("runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn reset_2fa_removes_a_second_factor_from_the_stopped_controllers_ledger() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("controller");
    let made = controller(
        &data,
        &[
            "admin",
            "create",
            "--username",
            "root",
            "--password-env",
            "CLI_ADMIN_PASSWORD",
        ],
    );
    assert!(made.status.success(), "{}", text(&made));
    {
        let store = EmbeddedStore::open(db_path(&data)).expect("ledger");
        let staff = store
            .staff_by_username("root")
            .expect("read")
            .expect("root");
        let record = TwoFactorRecord {
            staff: staff.id,
            secret: Sealed::from_bytes(vec![1; 40]),
            confirmed_at: Some(1),
            recovery: vec![[7; 32]],
            last_step: 0,
            created_at: 1,
        };
        let w = store
            .put_two_factor(&record, "staff.two-factor.enable", &Stamp::system(1))
            .expect("write");
        w.durable().await.expect("durable");
    }

    let reset = controller(&data, &["admin", "reset-2fa", "--username", "ROOT"]);
    assert!(reset.status.success(), "{}", text(&reset));
    assert!(
        text(&reset).contains("two-factor sign-in of root removed"),
        "{}",
        text(&reset)
    );
    let again = controller(&data, &["admin", "reset-2fa", "--username", "root"]);
    assert!(again.status.success());
    assert!(text(&again).contains("nothing changed"), "{}", text(&again));
    let unknown = controller(&data, &["admin", "reset-2fa", "--username", "nobody"]);
    assert!(!unknown.status.success());
    assert!(text(&unknown).contains("no account"), "{}", text(&unknown));

    let store = EmbeddedStore::open(db_path(&data)).expect("ledger");
    let staff = store
        .staff_by_username("root")
        .expect("read")
        .expect("root");
    assert!(store.two_factor(staff.id).expect("read").is_none());
}
