//! Master key files on disk: created private, reloaded identical, refused when exposed or
//! malformed, and several ids loaded as a keyring that still opens old values.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use hotspot_pki::keyfile::{
    FIRST_KEY_ID, KeyFileError, KeyId, Keyring, create_next_key, key_file_name, keyring_from_files,
    load, load_keyring, load_or_create, load_or_create_keyring,
};
use hotspot_shared::secretbox::{OpenError, Place};

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn created_private_and_reloaded_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data/keys");
    let path = dir.join("master.key");

    let created = load_or_create(&path).unwrap();
    assert_eq!(created.id(), FIRST_KEY_ID);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir), 0o700, "a directory we create is private");
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "no temp file left behind"
    );
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("hotspot-fleet-master-key v1 id=1\n"),
        "{text}"
    );

    let again = load_or_create(&path).unwrap();
    assert_eq!(again.expose_bytes(), created.expose_bytes());
    assert_eq!(load(&path).unwrap().expose_bytes(), created.expose_bytes());
    assert_ne!(created.expose_bytes(), &[0u8; 32]);

    let other = load_or_create(&tmp.path().join("other.key")).unwrap();
    assert_ne!(other.expose_bytes(), created.expose_bytes());
}

#[test]
fn exposed_key_is_refused_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("master.key");
    load_or_create(&path).unwrap();
    for bad in [0o644, 0o640, 0o604, 0o660] {
        chmod(&path, bad);
        let err = load_or_create(&path).unwrap_err();
        assert!(
            matches!(err, KeyFileError::Insecure { mode, .. } if mode == bad),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
    }
    chmod(&path, 0o400);
    load(&path).unwrap();
}

#[test]
fn wrong_length_and_garbage_are_refused_not_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let short = tmp.path().join("short.key");
    fs::write(
        &short,
        format!("hotspot-fleet-master-key v1 id=1\n{}\n", "ab".repeat(31)),
    )
    .unwrap();
    chmod(&short, 0o600);
    let err = load_or_create(&short).unwrap_err();
    assert!(
        matches!(err, KeyFileError::WrongLength { found: 31, .. }),
        "{err}"
    );

    let raw = tmp.path().join("raw.key");
    fs::write(&raw, [7u8; 32]).unwrap();
    chmod(&raw, 0o600);
    let err = load_or_create(&raw).unwrap_err();
    assert!(matches!(err, KeyFileError::BadFormat { .. }), "{err}");
    assert_eq!(fs::read(&raw).unwrap(), [7u8; 32], "never overwritten");

    let empty = tmp.path().join("empty.key");
    fs::write(&empty, "").unwrap();
    chmod(&empty, 0o600);
    assert!(matches!(
        load_or_create(&empty).unwrap_err(),
        KeyFileError::BadFormat { .. }
    ));

    let huge = tmp.path().join("huge.key");
    fs::write(&huge, vec![b'#'; 10_000]).unwrap();
    chmod(&huge, 0o600);
    assert!(matches!(
        load(&huge).unwrap_err(),
        KeyFileError::BadFormat { .. }
    ));

    let a_dir = tmp.path().join("adir");
    fs::create_dir(&a_dir).unwrap();
    chmod(&a_dir, 0o700);
    assert!(matches!(
        load(&a_dir).unwrap_err(),
        KeyFileError::NotAFile { .. }
    ));
}

#[test]
fn two_ids_load_as_a_keyring_and_old_values_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let place = Place::router_password("router-17");
    let mut rng = rand::rng();

    let ring = load_or_create_keyring(&dir).unwrap();
    assert_eq!(ring.current_id(), KeyId(1));
    assert!(dir.join(key_file_name(KeyId(1))).exists());
    let old = ring.seal(&place, b"hunter2", &mut rng).unwrap();

    // Rotation: a new file, the running keyring switches, old values still open.
    let mut ring = ring;
    let k2 = create_next_key(&dir).unwrap();
    assert_eq!(k2.id(), KeyId(2));
    assert_eq!(mode(&dir.join("master-key-2.key")), 0o600);
    ring.rotate_to(k2).unwrap();
    let new = ring.seal(&place, b"correct horse", &mut rng).unwrap();
    assert_eq!(new.key_id(), Some(KeyId(2)));

    // A restart: the directory alone gives the same keyring.
    fs::write(dir.join("notes.txt"), "unrelated files are ignored").unwrap();
    let reloaded: Keyring = load_keyring(&dir).unwrap();
    assert_eq!(reloaded.current_id(), KeyId(2));
    assert_eq!(reloaded.key_ids().collect::<Vec<_>>(), [KeyId(1), KeyId(2)]);
    assert_eq!(reloaded.open(&place, &old).unwrap().expose(), b"hunter2");
    assert_eq!(
        reloaded.open(&place, &new).unwrap().expose(),
        b"correct horse"
    );
    assert_eq!(
        reloaded
            .open(&Place::router_password("router-18"), &old)
            .unwrap_err(),
        OpenError::Tampered
    );

    // Losing the old key file makes old values unknown, not garbage.
    let only_new = keyring_from_files(&[dir.join("master-key-2.key")]).unwrap();
    assert_eq!(
        only_new.open(&place, &old).unwrap_err(),
        OpenError::UnknownKey(KeyId(1))
    );
    let both =
        keyring_from_files(&[dir.join("master-key-2.key"), dir.join("master-key-1.key")]).unwrap();
    assert_eq!(both.current_id(), KeyId(2));
    assert_eq!(both.open(&place, &old).unwrap().expose(), b"hunter2");
}

#[test]
fn keyring_directory_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(matches!(
        load_keyring(dir).unwrap_err(),
        KeyFileError::NoKeys { .. }
    ));
    assert!(matches!(
        keyring_from_files(&[]).unwrap_err(),
        KeyFileError::NoKeyFilesGiven
    ));

    create_next_key(dir).unwrap();
    // A file whose name and content disagree on the id.
    fs::copy(dir.join("master-key-1.key"), dir.join("master-key-5.key")).unwrap();
    chmod(&dir.join("master-key-5.key"), 0o600);
    let err = load_keyring(dir).unwrap_err();
    assert!(
        matches!(
            &err,
            KeyFileError::IdMismatch {
                in_file: KeyId(1),
                in_name: KeyId(5),
                ..
            }
        ),
        "{err}"
    );
    fs::remove_file(dir.join("master-key-5.key")).unwrap();

    // A near-miss name is an error, not silently skipped (it may be a key someone renamed).
    fs::write(dir.join("master-key-01.key"), "x").unwrap();
    let err = load_keyring(dir).unwrap_err();
    assert!(matches!(err, KeyFileError::BadName { .. }), "{err}");
    fs::remove_file(dir.join("master-key-01.key")).unwrap();

    // One exposed old key refuses the whole keyring.
    create_next_key(dir).unwrap();
    chmod(&dir.join("master-key-1.key"), 0o644);
    assert!(matches!(
        load_keyring(dir).unwrap_err(),
        KeyFileError::Insecure { .. }
    ));
}

#[test]
fn concurrent_first_starts_agree_on_one_key() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("k/master-key-1.key");
    let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| *load_or_create(&path).unwrap().expose_bytes()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(keys.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
}
