//! `serve_until` lets go of its data directory when it returns: the same process can open
//! the ledger again (the demo restarts its controller in-process). A reference cycle between
//! the fleet link and its enrollment hooks once kept the database open for good.

use std::net::SocketAddr;

use hotspot_controller::cli::db_path;
use hotspot_controller::cli::serve::serve_until_with;
use hotspot_controller::config::Config;
use hotspot_controller::store::EmbeddedStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_controller_releases_its_ledger() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().join("controller"),
        ..Config::default()
    };
    config.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.fleet.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.fleet.server_name = "localhost".into();
    std::fs::create_dir_all(&config.data_dir).expect("data dir");
    let path = db_path(&config.data_dir);
    for round in 0..2 {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(serve_until_with(
            config.clone(),
            async {
                let _ = stopped.await;
            },
            Some(started_tx),
        ));
        let state = started.await.expect("the controller serves");
        assert!(EmbeddedStore::open(&path).is_err(), "held while serving");
        drop(state);
        let _ = stop.send(());
        task.await.expect("task").expect("a clean stop");
        EmbeddedStore::open(&path)
            .unwrap_or_else(|e| panic!("round {round}: the ledger is still held: {e}"));
    }
}
