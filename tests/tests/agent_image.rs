//! The agent's container image (deploy/build-agent-image.sh) read back as `docker load` and
//! RouterOS would: the manifest names a config and layers that exist, every blob's name is the
//! SHA-256 of its bytes, the config's diff_ids are the layers', the OCI index agrees, the root
//! holds the agent, its libraries, a CA bundle and a non-root user, and the binary inside runs
//! `--version` from that root alone.
//!
//! The image is `HOTSPOT_AGENT_IMAGE` or `target/hotspot-agent-image.tar`; `tests/run.sh` builds
//! it before the tests, and this test builds it when it is missing.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn image_path() -> PathBuf {
    match std::env::var_os("HOTSPOT_AGENT_IMAGE") {
        Some(p) => PathBuf::from(p),
        None => repo_root().join("target/hotspot-agent-image.tar"),
    }
}

/// Every file of a tar, by path.
fn files_of(tar_bytes: &[u8]) -> HashMap<String, (tar::Header, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = HashMap::new();
    for entry in archive.entries().expect("a tar") {
        let mut entry = entry.expect("an entry");
        let path = entry
            .path()
            .expect("a path")
            .to_string_lossy()
            .trim_end_matches('/')
            .to_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("entry bytes");
        out.insert(path, (entry.header().clone(), data));
    }
    out
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON")
}

#[test]
fn the_agent_image_loads_as_docker_save_and_its_binary_runs_from_its_own_root() {
    let image = image_path();
    if !image.exists() {
        let status = Command::new("bash")
            .arg(repo_root().join("deploy/build-agent-image.sh"))
            .arg(&image)
            .status()
            .expect("running deploy/build-agent-image.sh");
        assert!(status.success(), "building the image: {status}");
    }
    let bytes = std::fs::read(&image).expect("the image tarball");
    let files = files_of(&bytes);

    // Every blob is named after its digest.
    for (path, (_, data)) in &files {
        if let Some(name) = path.strip_prefix("blobs/sha256/")
            && !name.is_empty()
        {
            assert_eq!(sha256_hex(data), name, "{path} does not hash to its name");
        }
    }

    // docker load's manifest.json: one image, its config and its layers.
    let manifest = json(&files["manifest.json"].1);
    let entry = &manifest.as_array().expect("a list")[0];
    let config_path = entry["Config"].as_str().expect("Config");
    let layers: Vec<&str> = entry["Layers"]
        .as_array()
        .expect("Layers")
        .iter()
        .map(|l| l.as_str().expect("a layer path"))
        .collect();
    let tag = entry["RepoTags"][0].as_str().expect("a tag");
    assert_eq!(
        tag,
        format!("hotspot-agent:{}", env!("CARGO_PKG_VERSION")),
        "the tag is the agent's version"
    );
    let config = json(&files[config_path].1);
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(&files[*l].1)))
        .collect();
    let want: Vec<String> = config["rootfs"]["diff_ids"]
        .as_array()
        .expect("diff_ids")
        .iter()
        .map(|d| d.as_str().expect("a diff id").to_owned())
        .collect();
    assert_eq!(diff_ids, want, "the config's diff_ids are the layers");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");
    let user = config["config"]["User"].as_str().expect("User");
    assert!(
        !user.starts_with("0") && !user.is_empty(),
        "runs as root: {user:?}"
    );

    // The OCI index points at a manifest that names the same config and layers.
    let index = json(&files["index.json"].1);
    let digest = index["manifests"][0]["digest"].as_str().expect("a digest");
    let oci = json(&files[&format!("blobs/sha256/{}", &digest[7..])].1);
    assert_eq!(
        oci["config"]["digest"].as_str(),
        Some(format!("sha256:{}", &config_path["blobs/sha256/".len()..]).as_str())
    );
    assert_eq!(oci["layers"].as_array().map(Vec::len), Some(layers.len()));
    assert!(files.contains_key("oci-layout"));

    // The root: the agent, a CA bundle, a non-root user owning the data directory.
    let root = files_of(&files[layers[0]].1);
    let (agent_header, agent) = &root["usr/local/bin/hotspot-agent"];
    assert!(
        agent_header.mode().expect("mode") & 0o111 != 0,
        "not executable"
    );
    assert!(agent.len() > 1 << 20, "the agent is {} bytes", agent.len());
    assert!(
        String::from_utf8_lossy(&root["etc/ssl/certs/ca-certificates.crt"].1)
            .contains("BEGIN CERTIFICATE")
    );
    let passwd = String::from_utf8_lossy(&root["etc/passwd"].1).into_owned();
    let uid = user.split(':').next().expect("a uid");
    assert!(
        passwd.lines().any(|l| l.split(':').nth(2) == Some(uid)),
        "user {uid} is not in /etc/passwd:\n{passwd}"
    );
    let (data_dir, _) = &root["var/lib/hotspot-agent"];
    assert_eq!(data_dir.uid().expect("uid").to_string(), uid);
    assert_eq!(data_dir.mode().expect("mode") & 0o777, 0o700);

    // The binary runs with nothing but the image's root: chroot into it when root, else the
    // image's own loader with the image's libraries.
    let dir = tempfile::tempdir().expect("a temp dir");
    tar::Archive::new(&files[layers[0]].1[..])
        .unpack(dir.path())
        .expect("unpacking the layer");
    let output = if unsafe { libc::geteuid() } == 0 {
        Command::new("chroot")
            .arg(dir.path())
            .args(["/usr/local/bin/hotspot-agent", "--version"])
            .output()
    } else {
        let loader = root
            .keys()
            .find(|p| p.contains("ld-linux"))
            .expect("the loader is in the image");
        let libs: Vec<String> = root
            .keys()
            .filter(|p| p.contains(".so"))
            .filter_map(|p| Path::new(p).parent())
            .map(|d| dir.path().join(d).display().to_string())
            .collect();
        Command::new(dir.path().join(loader))
            .arg("--library-path")
            .arg(libs.join(":"))
            .arg(dir.path().join("usr/local/bin/hotspot-agent"))
            .arg("--version")
            .output()
    }
    .expect("running the agent from the image");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(env!("CARGO_PKG_VERSION")),
        "{}: {stdout} {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
