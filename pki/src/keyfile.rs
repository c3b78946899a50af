//! Master key files: the 32 bytes that seal router passwords at rest, on disk.
//!
//! Why it is shaped so:
//! - **The secret box does no IO** (`hotspot_shared::secretbox`); this module is the IO around
//!   it, in the crate that already owns "files holding key material" ([`crate::files`]).
//! - **Created private, never half-written.** A missing key is made from the OS RNG, written to
//!   a temp file created with mode 0600 in the same `open(2)` ([`files::write_new`], fsynced),
//!   then hard-linked to its name, which fails if the name exists. So no moment exists when the
//!   key is readable by others, a crash leaves no truncated key under the real name, and two
//!   processes starting together end up with one key. A parent directory we create is 0700.
//! - **Refused when exposed.** A key file with any group or other permission bit is refused
//!   with the `chmod 600` to run; so is a file that is not exactly the format below. Mode and
//!   content are read from one open file handle.
//! - **Explicit, versioned text.** A person who finds the file can tell what it is, and the id
//!   inside lets keys rotate:
//!
//!   ```text
//!   hotspot-fleet-master-key v1 id=1
//!   # AES-256-GCM master key sealing router passwords at rest. Keep mode 0600; back it up
//!   # apart from the data; never put it in a config file, a log or an environment variable.
//!   <64 lowercase hex digits: the 32 key bytes>
//!   ```
//!
//!   The first line is exact; `#` lines and blank lines are ignored; exactly one hex line.
//! - **Rotation is more files.** A key directory holds `master-key-<id>.key`; the highest id is
//!   current, the others only open old values ([`load_keyring`], [`create_next_key`]). The id
//!   in a file's name and the id inside it must agree.
//! - **Environment variables name files** (the `*_FILE` habit of container secrets), they never
//!   hold a key ([`resolve_key_path`]). A key file named by the environment is never created:
//!   if a mounted secret is missing, a fresh key with the same id would make every stored value
//!   fail as if tampered with ([`load_or_create_from_env`]).

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rand::TryRng;
use rand::rngs::SysRng;

pub use hotspot_shared::secretbox::{KEY_LEN, KeyId, Keyring, KeyringError, MasterKey, Zeroizing};

use crate::error::PkiError;
use crate::files::{self, KEY_FILE_MODE};

/// First line of a version-1 key file, before ` id=<N>`.
pub const KEY_FILE_HEADER: &str = "hotspot-fleet-master-key v1";
/// The id of the first key made in a directory or by [`load_or_create`].
pub const FIRST_KEY_ID: KeyId = KeyId(1);
/// Largest key file read (the real one is under 300 bytes).
pub const MAX_KEY_FILE_LEN: u64 = 4096;
/// Most key files a key directory may hold.
pub const MAX_KEYS: usize = 256;

const NAME_PREFIX: &str = "master-key-";
const NAME_SUFFIX: &str = ".key";
const COMMENT: &str = "# AES-256-GCM master key sealing router passwords at rest. Keep mode 0600; back it up\n\
                       # apart from the data; never put it in a config file, a log or an environment variable.\n";

/// What can go wrong with key files. No variant carries key bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Group or others may read or write the key.
    #[error(
        "{path} has mode {mode:03o}, open to other users; run `chmod 600 {path}` and try again"
    )]
    Insecure { path: PathBuf, mode: u32 },

    #[error("{path} is not a regular file")]
    NotAFile { path: PathBuf },

    /// Not a key file of this format (or not of this version).
    #[error(
        "{path} is not a hotspot-fleet master key file: {reason} (expected a first line `{KEY_FILE_HEADER} id=<N>`, then 64 hex digits)"
    )]
    BadFormat { path: PathBuf, reason: String },

    #[error("{path} holds a {found}-byte key; a master key is exactly {KEY_LEN} bytes")]
    WrongLength { path: PathBuf, found: usize },

    #[error("{path} holds key {in_file} but its name says {in_name}; rename it to {expected}")]
    IdMismatch {
        path: PathBuf,
        in_file: KeyId,
        in_name: KeyId,
        expected: String,
    },

    /// A name that looks like a key file but is not `master-key-<id>.key`.
    #[error(
        "{path} looks like a key file but is not named master-key-<id>.key (id without leading zeros); rename or move it"
    )]
    BadName { path: PathBuf },

    #[error("no master key files (master-key-<id>.key) in {dir}")]
    NoKeys { dir: PathBuf },

    #[error("no key files were given")]
    NoKeyFilesGiven,

    #[error("{dir} holds more than {MAX_KEYS} key files")]
    TooManyKeys { dir: PathBuf },

    #[error("{dir} already holds key {newest}, the last possible id")]
    IdsExhausted { dir: PathBuf, newest: KeyId },

    /// The file an environment variable names is missing; it is not created.
    #[error(
        "${var} names {path}, which does not exist; a key file named by the environment is never created (restore it, or unset ${var} to use {default})"
    )]
    NamedKeyMissing {
        var: String,
        path: PathBuf,
        default: PathBuf,
    },

    #[error("{path}: {source}")]
    Keyring {
        path: PathBuf,
        #[source]
        source: KeyringError,
    },

    #[error("the operating system's random number generator failed: {0}")]
    Random(String),

    /// From the shared file helpers (directory creation, exclusive create, fsync).
    #[error(transparent)]
    Files(#[from] PkiError),
}

impl KeyFileError {
    fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        KeyFileError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    fn bad(path: &Path, reason: impl Into<String>) -> Self {
        KeyFileError::BadFormat {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn is_not_found(&self) -> bool {
        matches!(self, KeyFileError::Io { source, .. } if source.kind() == ErrorKind::NotFound)
    }
}

/// The file name of key `id` in a key directory: `master-key-<id>.key`.
pub fn key_file_name(id: KeyId) -> String {
    format!("{NAME_PREFIX}{}{NAME_SUFFIX}", id.0)
}

/// The key file an environment variable names, or `default` when it is unset or empty.
pub fn resolve_key_path(env_var_name: &str, default: &Path) -> PathBuf {
    path_from_env_value(std::env::var_os(env_var_name), default)
}

fn path_from_env_value(value: Option<OsString>, default: &Path) -> PathBuf {
    match value {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => default.to_path_buf(),
    }
}

/// Reads the key file at `path`; it must exist, be private and well formed.
pub fn load(path: &Path) -> Result<MasterKey, KeyFileError> {
    let text = read_private(path)?;
    parse(path, &text)
}

/// Reads the key at `path`, or creates it (id [`FIRST_KEY_ID`], 32 bytes from the OS RNG, mode
/// 0600, parent directory 0700 if missing) when nothing is there.
pub fn load_or_create(path: &Path) -> Result<MasterKey, KeyFileError> {
    match load(path) {
        Err(e) if e.is_not_found() => match create(path, FIRST_KEY_ID) {
            // Another process created it between our read and our create: use theirs.
            Err(KeyFileError::Files(PkiError::AlreadyExists { .. })) => load(path),
            created => created,
        },
        loaded => loaded,
    }
}

/// [`load`] the file `env_var_name` names if it is set, else [`load_or_create`] `default`.
pub fn load_or_create_from_env(
    env_var_name: &str,
    default: &Path,
) -> Result<MasterKey, KeyFileError> {
    load_or_create_named(env_var_name, std::env::var_os(env_var_name), default)
}

fn load_or_create_named(
    var: &str,
    value: Option<OsString>,
    default: &Path,
) -> Result<MasterKey, KeyFileError> {
    let path = path_from_env_value(value, default);
    if path == default {
        return load_or_create(default);
    }
    load(&path).map_err(|e| {
        if e.is_not_found() {
            KeyFileError::NamedKeyMissing {
                var: var.to_owned(),
                path: path.clone(),
                default: default.to_path_buf(),
            }
        } else {
            e
        }
    })
}

/// Every `master-key-<id>.key` in `dir` as a keyring; the highest id is current. Other files are
/// ignored.
pub fn load_keyring(dir: &Path) -> Result<Keyring, KeyFileError> {
    let paths: Vec<PathBuf> = key_ids_in(dir)?
        .into_iter()
        .map(|id| dir.join(key_file_name(id)))
        .collect();
    keyring_of(&paths)?.ok_or_else(|| KeyFileError::NoKeys {
        dir: dir.to_path_buf(),
    })
}

/// [`load_keyring`], creating `dir` (0700) and its first key file when it holds none.
pub fn load_or_create_keyring(dir: &Path) -> Result<Keyring, KeyFileError> {
    let empty = match key_ids_in(dir) {
        Ok(ids) => ids.is_empty(),
        Err(e) if e.is_not_found() => true,
        Err(e) => return Err(e),
    };
    if empty {
        load_or_create(&dir.join(key_file_name(FIRST_KEY_ID)))?;
    }
    load_keyring(dir)
}

/// Creates the next key in `dir` (highest id + 1, or [`FIRST_KEY_ID`]) for rotation; pass it to
/// [`Keyring::rotate_to`] and re-seal values at leisure.
pub fn create_next_key(dir: &Path) -> Result<MasterKey, KeyFileError> {
    let ids = match key_ids_in(dir) {
        Err(e) if e.is_not_found() => Vec::new(),
        other => other?,
    };
    let next = match ids.last() {
        None => FIRST_KEY_ID,
        Some(&newest) => match newest.0.checked_add(1) {
            Some(n) => KeyId(n),
            None => {
                return Err(KeyFileError::IdsExhausted {
                    dir: dir.to_path_buf(),
                    newest,
                });
            }
        },
    };
    create(&dir.join(key_file_name(next)), next)
}

/// These key files as a keyring: the highest id is current. Ids must be distinct; names are not
/// checked (for keys kept apart, e.g. mounted secrets).
pub fn keyring_from_files(paths: &[PathBuf]) -> Result<Keyring, KeyFileError> {
    keyring_of(paths)?.ok_or(KeyFileError::NoKeyFilesGiven)
}

/// `None` when `paths` is empty.
fn keyring_of(paths: &[PathBuf]) -> Result<Option<Keyring>, KeyFileError> {
    let mut keys = Vec::with_capacity(paths.len());
    for path in paths {
        let key = load(path)?;
        if let Some(in_name) = id_from_name(path)
            && in_name != key.id()
        {
            return Err(KeyFileError::IdMismatch {
                path: path.clone(),
                in_file: key.id(),
                in_name,
                expected: key_file_name(key.id()),
            });
        }
        keys.push((path, key));
    }
    keys.sort_by_key(|(_, k)| k.id());
    let Some((_, current)) = keys.pop() else {
        return Ok(None);
    };
    let mut ring = Keyring::new(current);
    for (path, key) in keys {
        ring.add_retired(key)
            .map_err(|source| KeyFileError::Keyring {
                path: path.clone(),
                source,
            })?;
    }
    Ok(Some(ring))
}

/// Ids of the key files in `dir`, ascending.
fn key_ids_in(dir: &Path) -> Result<Vec<KeyId>, KeyFileError> {
    let entries = fs::read_dir(dir).map_err(|e| KeyFileError::io("read directory", dir, e))?;
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| KeyFileError::io("read directory", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with(NAME_PREFIX) && name.ends_with(NAME_SUFFIX)) {
            continue;
        }
        let path = entry.path();
        let id = id_from_name(&path).ok_or(KeyFileError::BadName { path })?;
        if ids.len() == MAX_KEYS {
            return Err(KeyFileError::TooManyKeys {
                dir: dir.to_path_buf(),
            });
        }
        ids.push(id);
    }
    ids.sort();
    Ok(ids)
}

/// The id in a canonical `master-key-<id>.key` name.
fn id_from_name(path: &Path) -> Option<KeyId> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_prefix(NAME_PREFIX)?.strip_suffix(NAME_SUFFIX)?;
    parse_id(digits)
}

/// A decimal id ≥ 1 without sign or leading zeros.
fn parse_id(digits: &str) -> Option<KeyId> {
    let canonical = !digits.is_empty()
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit());
    canonical.then(|| digits.parse().ok().map(KeyId)).flatten()
}

/// Opens once, checks type and mode on that handle, reads at most [`MAX_KEY_FILE_LEN`] bytes.
fn read_private(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let file = File::open(path).map_err(|e| KeyFileError::io("open", path, e))?;
    let meta = file
        .metadata()
        .map_err(|e| KeyFileError::io("stat", path, e))?;
    if !meta.is_file() {
        return Err(KeyFileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Insecure {
            path: path.to_path_buf(),
            mode,
        });
    }
    // Full capacity up front, so reading never reallocates and leaves a copy behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_LEN as usize + 1));
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_end(&mut buf)
        .map_err(|e| KeyFileError::io("read", path, e))?;
    if buf.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(KeyFileError::bad(
            path,
            format!("larger than {MAX_KEY_FILE_LEN} bytes"),
        ));
    }
    Ok(buf)
}

/// Reads the contents of a key file (the format in the module docs); `path` only names the file
/// in errors. Public for the fuzz targets (`fuzz/`): this is the decoder of a file from outside.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<MasterKey, KeyFileError> {
    let text = std::str::from_utf8(bytes).map_err(|_| KeyFileError::bad(path, "not text"))?;
    let mut lines = text.lines().map(str::trim_end);
    let first = lines.next().unwrap_or_default();
    let id = first
        .strip_prefix(KEY_FILE_HEADER)
        .and_then(|rest| rest.strip_prefix(" id="))
        .ok_or_else(|| KeyFileError::bad(path, "wrong first line"))?;
    let id = parse_id(id)
        .ok_or_else(|| KeyFileError::bad(path, "key id is not a number from 1 to 4294967295"))?;

    let mut body = lines.filter(|l| !l.is_empty() && !l.starts_with('#'));
    let hex_line = body
        .next()
        .ok_or_else(|| KeyFileError::bad(path, "no key line"))?;
    if body.next().is_some() {
        return Err(KeyFileError::bad(path, "more than one key line"));
    }
    if !hex_line.bytes().all(|b| b.is_ascii_hexdigit()) || hex_line.len() % 2 != 0 {
        return Err(KeyFileError::bad(path, "key line is not hex"));
    }
    if hex_line.len() != 2 * KEY_LEN {
        return Err(KeyFileError::WrongLength {
            path: path.to_path_buf(),
            found: hex_line.len() / 2,
        });
    }
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(hex_line, bytes.as_mut_slice())
        .map_err(|_| KeyFileError::bad(path, "key line is not hex"))?;
    Ok(MasterKey::from_bytes(id, *bytes))
}

/// The contents of the key file for `key`, as [`parse`] reads them.
pub fn encode(key: &MasterKey) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::with_capacity(256));
    text.push_str(KEY_FILE_HEADER);
    text.push_str(" id=");
    text.push_str(&key.id().0.to_string());
    text.push('\n');
    text.push_str(COMMENT);
    let hex = Zeroizing::new(hex::encode(key.expose_bytes()));
    text.push_str(&hex);
    text.push('\n');
    text
}

/// Writes a new key file for `id` at `path`; [`PkiError::AlreadyExists`] if one is there.
fn create(path: &Path, id: KeyId) -> Result<MasterKey, KeyFileError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    files::ensure_private_dir(dir)?;

    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    SysRng
        .try_fill_bytes(bytes.as_mut_slice())
        .map_err(|e| KeyFileError::Random(e.to_string()))?;
    let key = MasterKey::from_bytes(id, *bytes);
    let text = encode(&key);

    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{:016x}", rand::random::<u64>()));
    files::write_new(&tmp, text.as_bytes(), KEY_FILE_MODE)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            return Err(PkiError::AlreadyExists {
                path: path.to_path_buf(),
            }
            .into());
        }
        Err(e) => return Err(KeyFileError::io("create", path, e)),
    }
    files::sync_dir(dir)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("k")
    }

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn parse_accepts_the_format_and_its_own_output() {
        let text = format!("{KEY_FILE_HEADER} id=7\n# note\n\n{HEX}\n");
        let key = parse(p(), text.as_bytes()).unwrap();
        assert_eq!(key.id(), KeyId(7));
        assert_eq!(key.expose_bytes()[31], 0x1f);
        let again = parse(p(), encode(&key).as_bytes()).unwrap();
        assert_eq!(again.expose_bytes(), key.expose_bytes());
        assert_eq!(again.id(), KeyId(7));
        // CRLF and a missing final newline are fine.
        let crlf = format!("{KEY_FILE_HEADER} id=7\r\n{HEX}");
        assert!(parse(p(), crlf.as_bytes()).is_ok());
    }

    #[test]
    fn parse_refuses_what_is_not_exactly_a_key() {
        let bad = [
            String::new(),
            HEX.to_owned(),
            format!("hotspot-fleet-master-key v2 id=1\n{HEX}\n"),
            format!("{KEY_FILE_HEADER} id=0\n{HEX}\n"),
            format!("{KEY_FILE_HEADER} id=01\n{HEX}\n"),
            format!("{KEY_FILE_HEADER} id=4294967296\n{HEX}\n"),
            format!("{KEY_FILE_HEADER} id=1\n"),
            format!("{KEY_FILE_HEADER} id=1\n{HEX}\n{HEX}\n"),
            format!("{KEY_FILE_HEADER} id=1\n{}zz\n", &HEX[2..]),
            format!("{KEY_FILE_HEADER} id=1\n{}0\n", HEX),
        ];
        for text in bad {
            let err = parse(p(), text.as_bytes()).unwrap_err();
            assert!(
                matches!(err, KeyFileError::BadFormat { .. }),
                "{text:?}: {err}"
            );
            assert!(!err.to_string().contains(&HEX[4..]), "{err}");
        }
        for (hex, found) in [(&HEX[2..], 31), (&format!("{HEX}00")[..], 33)] {
            let text = format!("{KEY_FILE_HEADER} id=1\n{hex}\n");
            let err = parse(p(), text.as_bytes()).unwrap_err();
            assert!(
                matches!(err, KeyFileError::WrongLength { found: f, .. } if f == found),
                "{err}"
            );
        }
        assert!(matches!(
            parse(p(), &[0xff, 0xfe]).unwrap_err(),
            KeyFileError::BadFormat { .. }
        ));
    }

    #[test]
    fn names_and_ids() {
        assert_eq!(key_file_name(KeyId(12)), "master-key-12.key");
        assert_eq!(
            id_from_name(Path::new("/x/master-key-12.key")),
            Some(KeyId(12))
        );
        for bad in [
            "master-key-012.key",
            "master-key-0.key",
            "master-key-.key",
            "master-key-1.pem",
        ] {
            assert_eq!(id_from_name(Path::new(bad)), None, "{bad}");
        }
    }

    #[test]
    fn env_value_names_the_file() {
        let default = Path::new("/data/master-key-1.key");
        assert_eq!(path_from_env_value(None, default), default);
        assert_eq!(path_from_env_value(Some("".into()), default), default);
        assert_eq!(
            path_from_env_value(Some("/run/secrets/mk".into()), default),
            Path::new("/run/secrets/mk")
        );
        assert_eq!(
            resolve_key_path("HOTSPOT_TEST_SURELY_UNSET_VAR_7f3a", default),
            default
        );
    }

    #[test]
    fn a_key_named_by_the_environment_is_never_created() {
        let tmp = tempfile::tempdir().unwrap();
        let default = tmp.path().join("master-key-1.key");
        let named = tmp.path().join("mounted.key");
        let err =
            load_or_create_named("MK_FILE", Some(named.clone().into()), &default).unwrap_err();
        assert!(matches!(err, KeyFileError::NamedKeyMissing { .. }), "{err}");
        assert!(err.to_string().contains("$MK_FILE names"), "{err}");
        assert!(!named.exists() && !default.exists());

        let created = load_or_create_named("MK_FILE", None, &default).unwrap();
        fs::copy(&default, &named).unwrap();
        fs::set_permissions(&named, fs::Permissions::from_mode(0o600)).unwrap();
        let loaded = load_or_create_named("MK_FILE", Some(named.into()), &default).unwrap();
        assert_eq!(loaded.expose_bytes(), created.expose_bytes());
    }
}
