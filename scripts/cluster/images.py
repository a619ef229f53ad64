"""The three function images for the test cluster, built as Google's Python buildpack would build them, as
closely as a machine without Docker or the builder image allows (`make images` with `pack` stays the
production path; what differs is listed in docs/cluster.md, "Images").

    python -m scripts.cluster.images build [--function search|delta_load|full_load|all]

Layers, each cached outside the repo under `$CACHE/cluster/`:
1. base: a Debian 12 root filesystem with python3.11 (mmdebstrap, essential variant + the packages below),
   the run image's user cnb (1000:1000); cached in `rootfs/<key>/` by its package list;
2. dependencies: requirements.txt installed by the image's own python3.11 with the buildpack's pip flags into
   the user site of `/layers/google.python.pip/pip` (PYTHONUSERBASE), byte-compiled (unchecked-hash pycs) and
   `pip check`ed; cached in `deps/<key>/` by requirements.txt, pyproject.toml and the base;
3. app: the repo as `pack build` sends it (project.toml's exclude applied) at /workspace, compiled with
   `compileall -f -q .`, one per function (all three share it; only the config differs).
The image tag is a hash of the image config (which names every layer's content), so a code edit gives a new
tag. Output: `$CACHE/cluster/images/hermes-<function>-<tag>.oci.tar`; the references are printed.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from scripts.cluster import buildpack as bp
from scripts.cluster import oci
from scripts.local_es import cache_dir

SUITE = "bookworm"
# python3.11-venv brings the pip wheel (python3-pip-whl) the build runs pip from: Google's runtime layer
# carries its own pip too. ca-certificates: TLS to Elasticsearch. Everything else is python3.11's own.
PACKAGES = ("python3.11", "python3.11-venv", "ca-certificates")
# Documentation, man pages and translations are left out of the base (the run image keeps them).
DPKG_OPTS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
)
FUNCTIONS = {"search": "search", "delta_load": "delta-load", "full_load": "full-load"}
REPOSITORY = "hermes"  # hermes.local/hermes/<search|delta-load|full-load>, as `make images` names them
PIP_USER_FLAGS = ["--user", "--break-system-packages"]  # the buildpack's --user; Debian marks its python PEP 668
PIP_PASSED = {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_CERT", "PIP_DEFAULT_TIMEOUT"}
HOST_CA = "/tmp/host-ca.crt"  # noqa: S108 -- inside the build sandbox's own /tmp
HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")


def _log(message: str) -> None:
    sys.stderr.write(f"[images] {message}\n")


def cluster_cache() -> Path:
    return cache_dir() / "cluster"


def _key(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _save(layer: oci.Layer) -> None:
    record = {"digest": layer.digest, "diff_id": layer.diff_id, "size": layer.size}
    layer.path.with_suffix(".json").write_text(json.dumps(record))


def _load(path: Path) -> oci.Layer | None:
    meta = path.with_suffix(".json")
    if not (path.is_file() and meta.is_file()):
        return None
    record = json.loads(meta.read_text())
    return oci.Layer(path, record["digest"], record["diff_id"], int(record["size"]))


def _run(argv: Sequence[str]) -> None:
    subprocess.run(argv, check=True)  # noqa: S603 - argv built here, no shell


def _mirror() -> list[str]:
    """The host's own apt sources (no mirror host named here); mmdebstrap's default otherwise."""
    return [str(HOST_SOURCES)] if HOST_SOURCES.is_file() else []


def _debootstrap(target: Path) -> None:
    if shutil.which("mmdebstrap") is None:
        msg = "mmdebstrap is needed to build the base (apt-get install mmdebstrap)"
        raise SystemExit(msg)
    argv = ["mmdebstrap", "--variant=essential", f"--include={','.join(PACKAGES)}", "--quiet"]
    argv += [f"--dpkgopt={opt}" for opt in DPKG_OPTS]
    _run(["nice", "-n", "10", *argv, SUITE, str(target), *_mirror()])
    etc = target / "etc"
    with (etc / "passwd").open("a") as passwd:
        passwd.write(f"cnb:x:{bp.CNB_UID}:{bp.CNB_GID}::{bp.HOME}:/bin/sh\n")
    with (etc / "group").open("a") as group:
        group.write(f"cnb:x:{bp.CNB_GID}:\n")
    home = target / bp.HOME.lstrip("/")
    home.mkdir(parents=True)
    os.chown(home, bp.CNB_UID, bp.CNB_GID)
    for folder in ("layers", "workspace"):
        (target / folder).mkdir(exist_ok=True)
    (target / "etc" / "resolv.conf").write_text("")  # the runtime mounts its own over it
    shutil.rmtree(target / "var" / "cache" / "apt", ignore_errors=True)
    shutil.rmtree(target / "var" / "lib" / "apt" / "lists", ignore_errors=True)


def base() -> tuple[Path, oci.Layer]:
    """The Debian root filesystem (a tree to build in) and its layer blob, built once per package list."""
    key = _key(SUITE, *PACKAGES, *DPKG_OPTS, f"cnb:{bp.CNB_UID}")
    where = cluster_cache() / "rootfs" / key
    layer = _load(where / "layer.tar.gz")
    if layer is not None and (where / "root").is_dir():
        return where / "root", layer
    _log(f"building the Debian {SUITE} base with mmdebstrap (once; {where})")
    start = time.monotonic()
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    _debootstrap(where / "root")
    layer = oci.write_layer([oci.Tree(where / "root", owner=None)], where / "layer.tar.gz", mtime=bp.NORMALIZED_MTIME)
    _save(layer)
    _log(f"base built in {time.monotonic() - start:.0f} s ({layer.size / 1e6:.0f} MB compressed)")
    return where / "root", layer


def _host_pip() -> tuple[list[str], dict[str, str]]:
    """The machine's own way to PyPI (index, proxy, CA bundle), as bwrap arguments and env: the image's CA
    bundle does not know a proxy's certificate authority."""
    env = {k: v for k, v in os.environ.items() if k in PIP_PASSED or k.lower().endswith("_proxy")}
    args: list[str] = []
    if cert := env.pop("PIP_CERT", ""):
        args += ["--ro-bind", cert, HOST_CA]
        env["PIP_CERT"] = HOST_CA
    return args, env


def _in_image(root: Path, binds: Sequence[tuple[Path, str]], argv: Sequence[str], env: dict[str, str]) -> None:
    """Run `argv` with the image's root as /, `binds` writable, the host's DNS, a fresh /tmp."""
    host_args, host_env = _host_pip()
    env = {**host_env, **env}
    args = ["bwrap", "--die-with-parent", "--ro-bind", str(root), "/", "--dev", "/dev", "--proc", "/proc"]
    args += ["--tmpfs", "/tmp", "--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf"]  # noqa: S108
    args += ["--tmpfs", "/layers", *host_args]
    for local, at in binds:
        args += ["--bind", str(local), at]
    args += ["--chdir", bp.APP_DIR, "--clearenv"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    _run([*args, *argv])


def _workspace(into: Path) -> None:
    """The source as `pack build` sends it, every file at the lifecycle's normalized mtime: the layer
    carries that time, so the pycs compiled next record the same and stay valid (and a touched file
    leaves the tag alone)."""
    for path in bp.sources():
        (into / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bp.ROOT / path, into / path)
        shutil.copymode(bp.ROOT / path, into / path)
        os.utime(into / path, (bp.NORMALIZED_MTIME, bp.NORMALIZED_MTIME))


def _pip(root: Path) -> list[str]:
    (wheel,) = sorted((root / "usr/share/python-wheels").glob("pip-*.whl"))
    return ["python3.11", f"/usr/share/python-wheels/{wheel.name}/pip"]


def dependencies(root: Path, base_layer: oci.Layer, workspace: Path) -> oci.Layer:
    """The `pip` layer: requirements.txt installed as the buildpack does; cached by what decides its content."""
    reqs = (bp.ROOT / "requirements.txt").read_bytes()
    key = _key(base_layer.digest, reqs, (bp.ROOT / "pyproject.toml").read_bytes(), *bp.PIP_FLAGS, *PIP_USER_FLAGS)
    path = cluster_cache() / "deps" / key / "layer.tar.gz"
    cached = _load(path)
    if cached is not None:
        return cached
    _log("installing requirements.txt into the dependency layer (once per requirements.txt)")
    start = time.monotonic()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as work:
        layer_dir = Path(work, "pip")
        layer_dir.mkdir()
        # pip's own copy: `-e .` leaves hermes.egg-info in the source it builds from, and an app layer must
        # not depend on whether this layer came from the cache.
        workspace = Path(shutil.copytree(workspace, Path(work, "workspace"), symlinks=True))
        env = {"PATH": bp.PATH, "HOME": "/tmp", "PYTHONUSERBASE": bp.PIP_LAYER, "LANG": "C.UTF-8"}  # noqa: S108
        binds = [(layer_dir, bp.PIP_LAYER), (workspace, bp.APP_DIR)]
        pip = _pip(root)
        install = [*pip, "install", "--requirement", "requirements.txt", *bp.PIP_FLAGS, *PIP_USER_FLAGS]
        _in_image(root, binds, install, env)
        _in_image(root, binds, ["python3.11", *bp.COMPILE_LAYER, bp.PIP_LAYER], env)
        _in_image(root, binds, [*pip, "check"], env)
        layer = oci.write_layer([oci.Tree(layer_dir, bp.PIP_LAYER)], path, mtime=bp.NORMALIZED_MTIME)
    _save(layer)
    _log(f"dependency layer built in {time.monotonic() - start:.0f} s")
    return layer


def app(root: Path, workspace: Path, out: Path) -> oci.Layer:
    """The source at /workspace, compiled by the image's python as the functions-framework buildpack does."""
    _in_image(root, [(workspace, bp.APP_DIR)], ["python3.11", *bp.COMPILE_SOURCE], {"PATH": bp.PATH})
    return oci.write_layer([oci.Tree(workspace, bp.APP_DIR)], out, mtime=bp.NORMALIZED_MTIME)


def config(function: str) -> oci.Config:
    """What the launcher would start: `functions-framework` from the pip layer, with the launch env."""
    env = {
        "PATH": f"{bp.PIP_LAYER}/bin:{bp.PATH}",
        "PYTHONUSERBASE": bp.PIP_LAYER,
        "PYTHONUNBUFFERED": "TRUE",
        **bp.function_env(function),
        "PORT": str(bp.PORT),
        "LANG": "C.UTF-8",
    }
    return oci.Config(
        user=f"{bp.CNB_UID}:{bp.CNB_GID}",
        entrypoint=[f"{bp.PIP_LAYER}/bin/functions-framework"],
        env=env,
        working_dir=bp.APP_DIR,
        exposed_ports=[f"{bp.PORT}/tcp"],
    )


def tag_for(function: str, layers: Sequence[oci.Layer]) -> str:
    return hashlib.sha256(oci.config_blob(config(function), layers)).hexdigest()[:16]


def build(functions: Sequence[str]) -> list[tuple[str, str, Path]]:
    """Build the images; return (function, reference, archive) for each. One build at a time per cache."""
    cluster_cache().mkdir(parents=True, exist_ok=True)
    with (cluster_cache() / ".images.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(functions)


def _build(functions: Sequence[str]) -> list[tuple[str, str, Path]]:
    root, base_layer = base()
    out_dir = cluster_cache() / "images"
    out_dir.mkdir(parents=True, exist_ok=True)
    built = []
    with tempfile.TemporaryDirectory(dir=out_dir) as work:
        workspace = Path(work, "workspace")
        _workspace(workspace)
        deps = dependencies(root, base_layer, workspace)
        app_layer = app(root, workspace, Path(work, "app.tar.gz"))
        for function in functions:
            layers = [base_layer, deps, app_layer]
            tag = tag_for(function, layers)
            name = f"{REPOSITORY}/{FUNCTIONS[function]}"
            out = out_dir / f"hermes-{function}-{tag}.oci.tar"
            if not out.is_file():
                oci.write_image(out, name, tag, layers, config(function))
            for stale in out_dir.glob(f"hermes-{function}-*.oci.tar"):
                if stale != out:
                    stale.unlink()  # a code edit's old image: containerd keeps what was imported
            built.append((function, oci.reference(name, tag), out))
    return built


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.cluster.images", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("build", help="build the function images; print `<function> <reference> <archive>`")
    cmd.add_argument("--function", choices=[*FUNCTIONS, "all"], default="all")
    args = parser.parse_args(argv)
    start = time.monotonic()
    functions = list(FUNCTIONS) if args.function == "all" else [args.function]
    for function, ref, out in build(functions):
        print(function, ref, out)  # noqa: T201 -- the CLI's answer
    _log(f"done in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
