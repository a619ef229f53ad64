"""The OCI archive writer: layout, digests, naming for containerd's import, reproducible bytes.

The naming rule checked here is containerd 1.6's (containerd/containerd v1.6.20 `import.go`, `imageName`:
`io.containerd.image.name` verbatim, else the OCI ref name); the import itself runs in tests/deploy.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from scripts.cluster import oci


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _blob(members: dict[str, bytes], digest: str) -> bytes:
    data = members[f"blobs/sha256/{digest.removeprefix('sha256:')}"]
    assert hashlib.sha256(data).hexdigest() == digest.removeprefix("sha256:")
    return data


def _image(members: dict[str, bytes]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    index = json.loads(members["index.json"])
    (entry,) = index["manifests"]
    manifest = json.loads(_blob(members, entry["digest"]))
    config = json.loads(_blob(members, manifest["config"]["digest"]))
    return entry, manifest, config


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "lib" / "pkg").mkdir(parents=True)
    (root / "lib" / "pkg" / "mod.py").write_text("x = 1\n")
    (root / "lib" / "pkg" / "hard.py").hardlink_to(root / "lib" / "pkg" / "mod.py")
    (root / "lib" / "link").symlink_to("pkg/mod.py")
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_text("#!/bin/sh\n")
    (root / "bin" / "tool").chmod(0o750)
    return root


def _build(tmp_path: Path, tree: Path, out: str) -> Path:
    binary = tmp_path / "app"
    binary.write_bytes(b"\x7fELF pretend")
    entries: list[oci.Entry] = [
        oci.Tree(tree, "/opt"),
        oci.File(binary, "/ko-app/app", mode=0o755),
        oci.Dir("/tmp", 0o1777),  # noqa: S108 -- a path in the image
    ]
    layer = oci.write_layer(entries, tmp_path / f"{out}.layer")
    config = oci.Config(
        user="65532",
        entrypoint=["/ko-app/app"],
        cmd=["--flag"],
        env={"PATH": "/ko-app", "KO_DATA_PATH": "/var/run/ko"},
        working_dir="/opt",
        exposed_ports=["8080/tcp"],
    )
    archive = tmp_path / out
    oci.write_image(archive, "knative/serving-activator", "v0.50.0", [layer], config)
    return archive


def test_the_archive_is_an_oci_layout_that_containerd_names_hermes_local(tmp_path: Path, tree: Path) -> None:
    members = _members(_build(tmp_path, tree, "a.oci.tar"))
    assert json.loads(members["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    entry, manifest, config = _image(members)
    assert entry["annotations"] == {
        "io.containerd.image.name": "hermes.local/knative/serving-activator:v0.50.0",
        "org.opencontainers.image.ref.name": "v0.50.0",
    }
    assert entry["mediaType"] == manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert config["config"] == {
        "User": "65532",
        "Entrypoint": ["/ko-app/app"],
        "Cmd": ["--flag"],
        "Env": ["PATH=/ko-app", "KO_DATA_PATH=/var/run/ko"],
        "WorkingDir": "/opt",
        "ExposedPorts": {"8080/tcp": {}},
    }
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    compressed = _blob(members, layer["digest"])
    assert layer["size"] == len(compressed)
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(gzip.decompress(compressed)).hexdigest()}"]
    assert set(members) == {"oci-layout", "index.json"} | {
        f"blobs/sha256/{d.removeprefix('sha256:')}"
        for d in (entry["digest"], manifest["config"]["digest"], layer["digest"])
    }


def test_the_layer_is_sorted_root_owned_at_mtime_zero_with_parents_links_and_modes(tmp_path: Path, tree: Path) -> None:
    members = _members(_build(tmp_path, tree, "a.oci.tar"))
    _, manifest, _ = _image(members)
    layer = gzip.decompress(_blob(members, manifest["layers"][0]["digest"]))
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        got = {m.name: m for m in tar.getmembers()}
        names = [m.name for m in tar.getmembers()]
        assert tar.extractfile("ko-app/app").read() == b"\x7fELF pretend"  # type: ignore[union-attr]
    assert names == [
        "ko-app",
        "ko-app/app",
        "opt",
        "opt/bin",
        "opt/bin/tool",
        "opt/lib",
        "opt/lib/link",
        "opt/lib/pkg",
        "opt/lib/pkg/hard.py",
        "opt/lib/pkg/mod.py",
        "tmp",
    ]
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and not m.uname for m in got.values())
    assert got["tmp"].mode == 0o1777 and got["tmp"].isdir()
    assert got["ko-app/app"].mode == 0o755
    assert got["opt/bin/tool"].mode == 0o750
    assert got["opt/lib/link"].issym() and got["opt/lib/link"].linkname == "pkg/mod.py"
    # The first of two hard-linked names carries the bytes, the second links to it.
    assert got["opt/lib/pkg/hard.py"].isfile() and got["opt/lib/pkg/hard.py"].size == 6
    assert got["opt/lib/pkg/mod.py"].islnk() and got["opt/lib/pkg/mod.py"].linkname == "opt/lib/pkg/hard.py"


def test_the_same_inputs_give_the_same_bytes(tmp_path: Path, tree: Path) -> None:
    first = _build(tmp_path, tree, "a.oci.tar").read_bytes()
    os.utime(tree / "lib" / "pkg" / "mod.py", (1, 1))  # a touched file: same image
    assert _build(tmp_path, tree, "b.oci.tar").read_bytes() == first
    (tree / "lib" / "pkg" / "mod.py").write_text("x = 2\n")
    assert _build(tmp_path, tree, "c.oci.tar").read_bytes() != first


def test_a_tree_can_keep_its_owners(tmp_path: Path, tree: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(tree / "bin" / "tool", 1000, 42)
    layer = oci.write_layer([oci.Tree(tree, owner=None)], tmp_path / "layer")
    with tarfile.open(layer.path) as tar:
        assert (tar.getmember("bin/tool").uid, tar.getmember("bin/tool").gid) == (1000, 42)
        assert tar.getmember("lib").uid == 0


def test_the_cli_writes_a_ko_style_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "activator"
    binary.write_bytes(b"binary")
    out = tmp_path / "images" / "x.oci.tar"
    oci.main(
        [
            "binary",
            "--name",
            "knative/serving-activator",
            "--tag",
            "v0.50.0",
            "--file",
            f"{binary}:/ko-app/activator",
            "--user",
            "65532",
            "--entrypoint",
            "/ko-app/activator",
            "--out",
            str(out),
        ]
    )
    entry, manifest, config = _image(_members(out))
    assert capsys.readouterr().out.split() == [
        "hermes.local/knative/serving-activator:v0.50.0",
        entry["digest"],
        str(out),
    ]
    assert config["config"]["User"] == "65532"
    assert config["config"]["Entrypoint"] == ["/ko-app/activator"]
    assert "KO_DATA_PATH=/var/run/ko" in config["config"]["Env"]
    assert config["config"]["Env"][0].endswith(":/ko-app")
    layer = gzip.decompress(_blob(_members(out), manifest["layers"][0]["digest"]))
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        assert tar.getnames() == ["ko-app", "ko-app/activator", "tmp", "var", "var/run", "var/run/ko"]
        assert tar.getmember("tmp").mode == 0o1777


def test_the_cli_refuses_a_user_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """runAsNonRoot can only check a numeric user: the base has no /etc/passwd."""
    args = ["binary", "--name", "x", "--tag", "t", "--file", f"{tmp_path}:/x", "--entrypoint", "/x"]
    with pytest.raises(SystemExit):
        oci.main([*args, "--user", "nonroot", "--out", str(tmp_path / "o")])
    assert "--user must be numeric" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
