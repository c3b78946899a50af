//! The power-cut file system proves itself (else every test on it passes): unsynced bytes and
//! unsynced names really are gone after a cut, synced ones stay, and a redb database on it keeps
//! exactly what `Db::barrier_blocking` covered — so a barrier that did not sync would fail here.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;

use hotspot_storage::{Db, Options};
use hotspot_tests::powerfs::PowerFs;

fn mount(dir: &Path) -> Option<PowerFs> {
    PowerFs::mount_or_skip(&dir.join("mnt"))
}

fn read(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    File::open(path).unwrap().read_to_end(&mut out).unwrap();
    out
}

#[test]
fn written_not_synced_bytes_are_gone_after_a_cut_and_synced_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount(dir.path()) else { return };
    let path = fs.path().join("f");
    let mut f = File::create(&path).unwrap();
    f.write_all(b"synced").unwrap();
    f.sync_all().unwrap();
    f.write_all(b" and not synced").unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(b"S").unwrap();
    assert_eq!(
        read(&path),
        b"Synced and not synced",
        "reads see unsynced writes"
    );
    drop(f);

    fs.cut();
    assert_eq!(read(&path), b"synced");

    // A shrink is content too: lost unless synced.
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(2).unwrap();
    drop(f);
    fs.cut();
    assert_eq!(read(&path), b"synced");
    assert_eq!(fs.stats().cuts, 2);
}

#[test]
fn a_file_created_but_never_synced_is_gone_after_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount(dir.path()) else { return };
    let never = fs.path().join("never-synced");
    std::fs::write(&never, b"data").unwrap();
    let synced = fs.path().join("sub/synced");
    std::fs::create_dir(fs.path().join("sub")).unwrap();
    let mut f = File::create(&synced).unwrap();
    f.write_all(b"kept").unwrap();
    f.sync_all().unwrap();
    drop(f);
    // A rename that no sync covers is undone.
    std::fs::rename(&synced, fs.path().join("renamed")).unwrap();

    fs.cut();
    assert!(!never.exists(), "created, never synced: gone");
    assert_eq!(
        read(&synced),
        b"kept",
        "fsync of a file commits its name (and its path)"
    );
    assert!(!fs.path().join("renamed").exists());

    // An fsync of the directory commits the rename.
    std::fs::rename(&synced, fs.path().join("renamed")).unwrap();
    File::open(fs.path().join("sub"))
        .unwrap()
        .sync_all()
        .unwrap();
    fs.cut();
    assert!(!synced.exists());
    assert_eq!(read(&fs.path().join("renamed")), b"kept");
}

#[test]
fn a_database_keeps_what_a_barrier_covered_and_loses_what_came_after() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount(dir.path()) else { return };
    let path = fs.path().join("data/ledger.redb");
    std::fs::create_dir(fs.path().join("data")).unwrap();

    let db = Db::open(&path, Options::default()).unwrap();
    for i in 0u32..50 {
        db.write(|tx| tx.insert("t", &i.to_be_bytes(), b"barriered"))
            .unwrap();
    }
    db.barrier_blocking().unwrap();
    db.write(|tx| tx.insert("t", b"after", b"no barrier"))
        .unwrap();
    assert!(db.read().unwrap().contains("t", b"after").unwrap());

    // The power goes while the database is open (as it does, and as after a SIGKILL): its
    // clean close, which syncs (see the next test), then fails on the dead handles.
    fs.cut();
    drop(db);
    let db = Db::open(&path, Options::default()).unwrap();
    let r = db.read().unwrap();
    assert_eq!(
        r.len("t").unwrap(),
        50,
        "every write a barrier covered survives the cut"
    );
    assert!(
        !r.contains("t", b"after").unwrap(),
        "an unbarriered write is lost: the file system really drops"
    );
    drop(r);

    // The reopened database works on, and a second cut keeps its barriered write too.
    db.write(|tx| tx.insert("t", b"second", b"1")).unwrap();
    db.barrier_blocking().unwrap();
    fs.cut();
    drop(db);
    let db = Db::open(&path, Options::default()).unwrap();
    assert!(db.read().unwrap().contains("t", b"second").unwrap());
    assert_eq!(fs.stats().cuts, 2);
}

/// Why the test above cuts before it drops: redb's clean close writes its shutdown header and
/// syncs, which makes the last unbarriered commit durable. A process that exits cleanly loses
/// nothing; only a crash or a power cut shows what the barriers alone keep.
#[test]
fn a_clean_close_of_the_database_syncs_its_last_commit() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount(dir.path()) else { return };
    let path = fs.path().join("ledger.redb");
    let db = Db::open(&path, Options::default()).unwrap();
    db.write(|tx| tx.insert("t", b"k", b"v")).unwrap();
    db.barrier_blocking().unwrap();
    db.write(|tx| tx.insert("t", b"after", b"no barrier"))
        .unwrap();
    drop(db);
    fs.cut();
    let db = Db::open(&path, Options::default()).unwrap();
    let r = db.read().unwrap();
    assert!(r.contains("t", b"k").unwrap());
    assert!(
        r.contains("t", b"after").unwrap(),
        "the close made it durable"
    );
}

#[test]
fn private_files_are_created_as_the_pki_creates_them() {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount(dir.path()) else { return };
    let private = fs.path().join("controller");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&private)
        .unwrap();
    let key = private.join("master-key.key");
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key)
        .unwrap();
    f.write_all(b"secret").unwrap();
    f.sync_all().unwrap();
    let again = OpenOptions::new().write(true).create_new(true).open(&key);
    assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
}
