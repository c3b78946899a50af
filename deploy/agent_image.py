#!/usr/bin/env python3
"""Builds the agent's container image as a tarball, with no container daemon.

The tarball has the layout `docker save` writes since Docker 25: an OCI image layout
(`oci-layout`, `index.json`, `blobs/sha256/...`) plus the `manifest.json` that `docker load`
and RouterOS `/container/add file=` read. One uncompressed layer holds a minimal root:

    /usr/local/bin/hotspot-agent          the binary given
    /lib..., /usr/lib...                  the shared libraries `ldd` names for it, and the loader
    /etc/ssl/certs/ca-certificates.crt    the build host's CA bundle
    /etc/passwd, /etc/group               root and the agent's own user (uid/gid 10001)
    /var/lib/hotspot-agent                the data directory (mount a volume here), 0700, 10001
    /etc/hotspot-agent                    where agent.toml is expected (mount it)

The layer is not compressed (the form RouterOS's container package is known to take). The
image runs as uid 10001. Entries are sorted, owned by root (but the data directory) and
dated SOURCE_DATE_EPOCH (default 0), so the same inputs give the same digests.

Standard library only. Usage: agent_image.py --binary PATH --out FILE [--tag NAME:TAG]
[--arch amd64|arm64|arm] [--variant v7] [--no-libs]
"""

import argparse
import datetime
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

UID = GID = 10001
USER = "hotspot"
DATA_DIR = "var/lib/hotspot-agent"
CONFIG_DIR = "etc/hotspot-agent"
BINARY = "usr/local/bin/hotspot-agent"
CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
HOST_CA_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]


def fail(message):
    print(f"agent_image: {message}", file=sys.stderr)
    sys.exit(1)


def shared_libraries(binary):
    """The absolute paths of the libraries and loader `ldd` lists for `binary`."""
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        fail("ldd not found: install libc-bin, or pass --no-libs for a static binary")
    text = out.stdout + out.stderr
    if "not a dynamic executable" in text or "statically linked" in text:
        return []
    if out.returncode != 0:
        fail(f"ldd {binary} failed: {text.strip()}")
    paths = []
    for line in text.splitlines():
        line = line.strip()
        if "=> not found" in line:
            fail(f"a library of {binary} is missing on this host: {line}")
        match = re.search(r"=>\s+(/\S+)", line) or re.match(r"(/\S+)\s+\(0x", line)
        if match:
            paths.append(match.group(1))
    return sorted(set(paths))


class Layer:
    """An uncompressed, reproducible tar of the image's root."""

    def __init__(self, mtime):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)
        self.mtime = mtime
        self.dirs = set()
        self.entries = []

    def _info(self, name, kind, mode, uid=0, gid=0, size=0):
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.uid, info.gid = uid, gid
        info.uname = info.gname = ""
        info.mtime = self.mtime
        info.size = size
        return info

    def directory(self, name, mode=0o755, uid=0, gid=0):
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            path = "/".join(parts[:i])
            if path in self.dirs:
                continue
            self.dirs.add(path)
            last = i == len(parts)
            self.entries.append(
                (path + "/", self._info(path, tarfile.DIRTYPE, mode if last else 0o755,
                                        uid if last else 0, gid if last else 0), None))

    def file(self, name, data, mode=0o644):
        name = name.strip("/")
        parent = os.path.dirname(name)
        if parent:
            self.directory(parent)
        self.entries.append((name, self._info(name, tarfile.REGTYPE, mode, size=len(data)), data))

    def finish(self):
        for _, info, data in sorted(self.entries, key=lambda e: e[0]):
            self.tar.addfile(info, io.BytesIO(data) if data is not None else None)
        self.tar.close()
        return self.buf.getvalue()


def blob(data):
    digest = hashlib.sha256(data).hexdigest()
    return digest, f"blobs/sha256/{digest}"


def version_of(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        words = out.stdout.split()
        return words[-1] if out.returncode == 0 and words else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"  # built for another architecture


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tag", default=None, help="NAME:TAG (default hotspot-agent:VERSION)")
    parser.add_argument("--arch", default="amd64", choices=["amd64", "arm64", "arm"])
    parser.add_argument("--variant", default=None, help="for --arch arm: v7")
    parser.add_argument("--no-libs", action="store_true", help="a statically linked binary")
    parser.add_argument("--ca-bundle", default=None, help="default: the host's bundle")
    args = parser.parse_args()

    if not os.path.isfile(args.binary):
        fail(f"no binary at {args.binary}")
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    version = version_of(args.binary)
    tag = args.tag or f"hotspot-agent:{version}"

    layer = Layer(mtime)
    with open(args.binary, "rb") as f:
        layer.file(BINARY, f.read(), mode=0o755)
    if not args.no_libs:
        for path in shared_libraries(args.binary):
            with open(path, "rb") as f:  # the file a symlink points to, under the linked name
                layer.file(path, f.read(), mode=0o755)
    bundle = args.ca_bundle or next((p for p in HOST_CA_BUNDLES if os.path.isfile(p)), None)
    if bundle is None:
        fail("no CA bundle on this host: install ca-certificates or pass --ca-bundle")
    with open(bundle, "rb") as f:
        layer.file(CA_BUNDLE, f.read())
    layer.file("etc/passwd", (
        "root:x:0:0:root:/root:/sbin/nologin\n"
        f"{USER}:x:{UID}:{GID}:hotspot-agent:/{DATA_DIR}:/sbin/nologin\n").encode())
    layer.file("etc/group", f"root:x:0:\n{USER}:x:{GID}:\n".encode())
    layer.directory(DATA_DIR, mode=0o700, uid=UID, gid=GID)
    layer.directory(CONFIG_DIR)
    layer.directory("tmp", mode=0o1777)
    layer_bytes = layer.finish()
    layer_digest, layer_path = blob(layer_bytes)

    platform = {"architecture": args.arch, "os": "linux"}
    if args.variant:
        platform["variant"] = args.variant
    created = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    config = dict(platform, created=created, config={
        "User": f"{UID}:{GID}",
        "Entrypoint": [f"/{BINARY}"],
        "Cmd": ["run", "--config", f"/{CONFIG_DIR}/agent.toml"],
        "Env": [
            "PATH=/usr/local/bin:/usr/bin:/bin",
            f"SSL_CERT_FILE=/{CA_BUNDLE}",
        ],
        "WorkingDir": f"/{DATA_DIR}",
        "Volumes": {f"/{DATA_DIR}": {}},
        "Labels": {"org.opencontainers.image.title": "hotspot-agent",
                   "org.opencontainers.image.version": version},
    }, rootfs={"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
        history=[{"created": created, "created_by": "deploy/agent_image.py"}])
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest, config_path = blob(config_bytes)

    oci_manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": f"sha256:{config_digest}", "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": f"sha256:{layer_digest}", "size": len(layer_bytes)}],
    }
    manifest_bytes = json.dumps(oci_manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest, manifest_path = blob(manifest_bytes)
    reference = tag.rpartition(":")[2]
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f"sha256:{manifest_digest}", "size": len(manifest_bytes),
            "platform": platform,
            "annotations": {"io.containerd.image.name": f"docker.io/library/{tag}",
                            "org.opencontainers.image.ref.name": reference},
        }],
    }
    docker_manifest = [{"Config": config_path, "RepoTags": [tag], "Layers": [layer_path]}]

    files = [
        ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
        ("index.json", json.dumps(index, sort_keys=True).encode()),
        ("manifest.json", json.dumps(docker_manifest).encode()),
        (config_path, config_bytes),
        (layer_path, layer_bytes),
        (manifest_path, manifest_bytes),
    ]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".partial"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as out:
        for directory in ("blobs/", "blobs/sha256/"):
            info = tarfile.TarInfo(directory.rstrip("/"))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            out.addfile(info)
        for path, data in files:
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            out.addfile(info, io.BytesIO(data))
    os.replace(tmp, args.out)
    print(f"{args.out}: {tag}, layer {len(layer_bytes) / 1048576:.1f} MiB "
          f"(sha256:{layer_digest[:12]}), image sha256:{config_digest[:12]}")


if __name__ == "__main__":
    main()
