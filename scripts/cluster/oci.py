"""Write OCI image archives (an OCI image layout in one tar) without Docker, deterministically.

An archive holds `oci-layout`, `index.json` and `blobs/sha256/<hex>`: the manifest, the config and gzip
layers. The same inputs give the same bytes: entries sorted, mtime 0 (unless given), uid/gid 0 unless
given, no user or group names, gzip without a timestamp or file name.

Naming, as containerd 1.6 reads it (containerd/containerd v1.6.20 `import.go`, `imageName`): an index
entry's `io.containerd.image.name` annotation is taken as the image name verbatim; only without it does
`org.opencontainers.image.ref.name` count, and `ctr images import` without `--base-name` prefixes a bare
tag with `import-<date>` (`images/archive/reference.go`, `AddRefPrefix`). We write both, as containerd's
own exporter does (`images/archive/exporter.go`): the full name, and the tag as the OCI ref name. So
`ctr -n k8s.io images import x.oci.tar` lands the image as `hermes.local/<name>:<tag>`.

CLI, for a static binary on an empty base (what ko builds for Knative's own images; ko v0.15
`pkg/build/gobuild.go`: the binary at /ko-app/<name>, entrypoint it, PATH gets /ko-app, KO_DATA_PATH=/var/run/ko;
the base's user 65532 is distroless static:nonroot's):

    python -m scripts.cluster.oci binary --name knative/serving-activator --tag v0.50.0 \\
        --file /path/bin:/ko-app/activator --user 65532 --entrypoint /ko-app/activator --out x.oci.tar
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

REGISTRY = "hermes.local"
LAYOUT_VERSION = "1.0.0"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ROOT_OWNER = (0, 0)
# ko's image environment: distroless static:nonroot's PATH with /ko-app appended, and KO_DATA_PATH.
KO_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/ko-app",
    "KO_DATA_PATH": "/var/run/ko",
}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Tree:
    """A local directory's contents placed at `at` in the image. `owner=None` keeps each file's uid/gid
    (a root filesystem); device nodes, sockets and fifos are skipped (the runtime provides /dev)."""

    source: Path
    at: str = "/"
    owner: tuple[int, int] | None = ROOT_OWNER


@dataclass(frozen=True)
class File:
    """One local file at path `at` in the image; `mode=None` keeps the file's permission bits."""

    source: Path
    at: str
    mode: int | None = None
    owner: tuple[int, int] = ROOT_OWNER


@dataclass(frozen=True)
class Dir:
    """An empty directory (e.g. /tmp with mode 0o1777)."""

    at: str
    mode: int = 0o755
    owner: tuple[int, int] = ROOT_OWNER


Entry = Tree | File | Dir


@dataclass(frozen=True)
class Layer:
    """A written layer blob: gzip file, its digest and size, and the uncompressed tar's digest (diff id)."""

    path: Path
    digest: str
    diff_id: str
    size: int


@dataclass(frozen=True)
class Config:
    """The runtime part of the image config (OCI image-spec `config.md`)."""

    user: str = ""
    entrypoint: Sequence[str] = ()
    cmd: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str = ""
    exposed_ports: Sequence[str] = ()  # "8080/tcp"
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Item:
    """One tar member to write: its header, and the local file whose bytes follow (regular files only)."""

    info: tarfile.TarInfo
    source: Path | None = None


class _Hashing(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through to `sink`."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.sha.update(chunk)
        self.size += len(chunk)
        self.sink.write(chunk)
        return len(chunk)


def _clean(at: str) -> str:
    """An image path as a tar member name: relative, normalized, no leading slash."""
    return str(PurePosixPath("/", at)).lstrip("/")


def _info(name: str, kind: bytes, mode: int, owner: tuple[int, int], mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = owner
    info.uname = info.gname = ""
    info.mtime = mtime
    return info


def _from_disk(source: Path, name: str, owner: tuple[int, int] | None, mtime: int) -> _Item | None:
    st = source.lstat()
    who = owner if owner is not None else (st.st_uid, st.st_gid)
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        return _Item(_info(name, tarfile.DIRTYPE, mode, who, mtime))
    if stat.S_ISLNK(st.st_mode):
        info = _info(name, tarfile.SYMTYPE, 0o777, who, mtime)
        info.linkname = os.readlink(source)
        return _Item(info)
    if stat.S_ISREG(st.st_mode):
        info = _info(name, tarfile.REGTYPE, mode, who, mtime)
        info.size = st.st_size
        return _Item(info, source)
    return None  # device nodes, sockets, fifos


def _walk(tree: Tree, mtime: int) -> Iterable[tuple[str, _Item]]:
    base = _clean(tree.at)
    for folder, dirs, files in os.walk(tree.source):
        dirs.sort()
        for child in [*dirs, *sorted(files)]:
            local = Path(folder, child)
            name = _clean(str(PurePosixPath(base or "/", local.relative_to(tree.source).as_posix())))
            item = _from_disk(local, name, tree.owner, mtime)
            if item is not None:
                yield name, item


def _items(entries: Sequence[Entry], mtime: int) -> list[_Item]:
    """Every member, parents created (0755, root) where no entry names them, sorted by path components."""
    found: dict[str, _Item] = {}
    for entry in entries:
        if isinstance(entry, Tree):
            found.update(_walk(entry, mtime))
        elif isinstance(entry, File):
            item = _from_disk(entry.source.resolve(), _clean(entry.at), entry.owner, mtime)
            if item is None or item.source is None:
                msg = f"{entry.source} is not a regular file"
                raise ValueError(msg)
            if entry.mode is not None:
                item.info.mode = entry.mode
            found[_clean(entry.at)] = item
        else:
            found[_clean(entry.at)] = _Item(_info(_clean(entry.at), tarfile.DIRTYPE, entry.mode, entry.owner, mtime))
    for name in list(found):
        for parent in PurePosixPath(name).parents:
            if str(parent) != "." and str(parent) not in found:
                found[str(parent)] = _Item(_info(str(parent), tarfile.DIRTYPE, 0o755, ROOT_OWNER, mtime))
    found.pop("", None)
    return [found[name] for name in sorted(found, key=lambda n: PurePosixPath(n).parts)]


def _write_tar(items: Sequence[_Item], sink: IO[bytes]) -> None:
    """The layer tar; a file seen again by inode (a hard link in a root filesystem) becomes a link."""
    seen: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in items:
            if item.source is None:
                tar.addfile(item.info)
                continue
            st = item.source.stat()
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in seen:
                item.info.type, item.info.linkname, item.info.size = tarfile.LNKTYPE, seen[key], 0
                tar.addfile(item.info)
                continue
            seen[key] = item.info.name
            with item.source.open("rb") as data:
                tar.addfile(item.info, data)


def write_layer(entries: Sequence[Entry], out: Path, *, mtime: int = 0, level: int = 6) -> Layer:
    """Write `entries` as a gzip layer blob at `out`; return its digests."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".layer-", delete=False) as raw:
        compressed = _Hashing(raw)
        with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, compresslevel=level, mtime=0) as gz:
            uncompressed = _Hashing(gz)  # type: ignore[arg-type]
            _write_tar(_items(entries, mtime), uncompressed)  # type: ignore[arg-type]
    Path(raw.name).replace(out)
    return Layer(out, f"sha256:{compressed.sha.hexdigest()}", f"sha256:{uncompressed.sha.hexdigest()}", compressed.size)


def config_blob(config: Config, layers: Sequence[Layer]) -> bytes:
    """The image config JSON (linux/amd64, no creation time: reproducible)."""
    body: dict[str, Any] = {}
    if config.user:
        body["User"] = config.user
    if config.env:
        body["Env"] = [f"{k}={v}" for k, v in config.env.items()]
    if config.entrypoint:
        body["Entrypoint"] = list(config.entrypoint)
    if config.cmd:
        body["Cmd"] = list(config.cmd)
    if config.working_dir:
        body["WorkingDir"] = config.working_dir
    if config.exposed_ports:
        body["ExposedPorts"] = {port: {} for port in config.exposed_ports}
    if config.labels:
        body["Labels"] = dict(config.labels)
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": body,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created_by": "hermes scripts/cluster/oci.py"} for _ in layers],
    }
    return _json(doc)


def _json(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _descriptor(media_type: str, blob: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": f"sha256:{hashlib.sha256(blob).hexdigest()}", "size": len(blob)}


def reference(name: str, tag: str) -> str:
    """The image reference the cluster uses: `hermes.local/<name>:<tag>`."""
    return f"{REGISTRY}/{name}:{tag}"


def _add_bytes(tar: tarfile.TarFile, name: str, blob: bytes) -> None:
    info = _info(name, tarfile.REGTYPE, 0o644, ROOT_OWNER, 0)
    info.size = len(blob)
    tar.addfile(info, io.BytesIO(blob))


def write_image(out: Path, name: str, tag: str, layers: Sequence[Layer], config: Config) -> str:
    """Write the OCI archive for `hermes.local/<name>:<tag>` at `out`; return the manifest digest."""
    cfg = config_blob(config, layers)
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": _descriptor(MEDIA_CONFIG, cfg),
            "layers": [{"mediaType": MEDIA_LAYER, "digest": la.digest, "size": la.size} for la in layers],
        }
    )
    entry = _descriptor(MEDIA_MANIFEST, manifest)
    entry["annotations"] = {ANNOTATION_IMAGE_NAME: reference(name, tag), ANNOTATION_REF_NAME: tag}
    entry["platform"] = {"architecture": "amd64", "os": "linux"}
    index = _json({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [entry]})
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", _json({"imageLayoutVersion": LAYOUT_VERSION}))
        _add_bytes(tar, "index.json", index)
        for blob in (manifest, cfg):
            _add_bytes(tar, f"blobs/sha256/{hashlib.sha256(blob).hexdigest()}", blob)
        for layer in sorted({la.digest: la for la in layers}.values(), key=lambda la: la.digest):
            info = _info(f"blobs/sha256/{layer.digest.removeprefix('sha256:')}", tarfile.REGTYPE, 0o644, ROOT_OWNER, 0)
            info.size = layer.size
            with layer.path.open("rb") as data:
                tar.addfile(info, data)
    partial.replace(out)
    return str(entry["digest"])


def binary_image(
    out: Path, name: str, tag: str, files: Mapping[str, Path], *, user: str, entrypoint: Sequence[str]
) -> str:
    """A ko-style image: the binaries on an empty base, with /tmp and the ko data folder."""
    entries: list[Entry] = [File(src, at, mode=0o755) for at, src in files.items()]
    entries += [Dir("/tmp", 0o1777), Dir(KO_ENV["KO_DATA_PATH"])]  # noqa: S108 -- a path in the image
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as work:
        layer = write_layer(entries, Path(work, "layer.tar.gz"))
        return write_image(out, name, tag, [layer], Config(user=user, entrypoint=entrypoint, env=KO_ENV))


def _parse_file(spec: str) -> tuple[str, Path]:
    local, sep, at = spec.rpartition(":")
    if not sep or not local or not at.startswith("/"):
        msg = f"--file wants LOCAL:/path/in/image, got {spec!r}"
        raise argparse.ArgumentTypeError(msg)
    return at, Path(local)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.cluster.oci", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    binary = sub.add_parser("binary", help="a static binary on an empty base, as ko builds it")
    binary.add_argument("--name", required=True, help="repository under hermes.local/, e.g. knative/serving-activator")
    binary.add_argument("--tag", required=True)
    binary.add_argument("--file", action="append", type=_parse_file, required=True, help="LOCAL:/path/in/image")
    binary.add_argument("--user", default="65532", help="numeric uid[:gid] (distroless nonroot: 65532)")
    binary.add_argument("--entrypoint", required=True)
    binary.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.user.replace(":", "").isdigit():
        parser.error("--user must be numeric: runAsNonRoot checks the image's user without an /etc/passwd")
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = binary_image(out, args.name, args.tag, dict(args.file), user=args.user, entrypoint=[args.entrypoint])
    print(f"{reference(args.name, args.tag)} {digest} {out}")  # noqa: T201 -- the CLI's answer


if __name__ == "__main__":
    main()
