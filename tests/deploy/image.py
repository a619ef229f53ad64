"""Build the function image's Python layer the way the buildpack does, and run a function the way its
launcher does, as the rendered Service's user on a read-only root (bubblewrap; no Docker).

The buildpack's steps (pip flags, exclusion, compileall, the launch env) are data in
scripts/cluster/buildpack.py, shared with the cluster's image builder; this sandbox differs in one place:
the layer is a virtualenv (`--user` dropped, as the buildpack's own python37/38 branch does), so the host's
Python can run it without the image's root filesystem.
Knative adds PORT and K_* and sets terminationGracePeriodSeconds to the revision's timeoutSeconds
(knative/serving `pkg/reconciler/revision/resources/deploy.go`, `BuildPodSpec`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.cluster import buildpack as bp

ROOT = bp.ROOT
HOME = bp.HOME  # the run image's user home (uid 1000)
TMP = "/tmp"  # noqa: S108 -- the pod's emptyDir, a fresh tmpfs in the sandbox


@dataclass(frozen=True)
class Image:
    workspace: Path  # the source as `pack build` sends it (project.toml's exclude applied)
    layer: Path  # the dependency layer (a virtualenv)


def build(where: Path) -> Image:
    """Copy the source, install requirements.txt with the buildpack's flags, compile, `pip check`."""
    image = Image(where / "workspace", where / "layer")
    for path in bp.sources():
        (image.workspace / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, image.workspace / path)
    python = shutil.which("python3.11") or sys.executable
    subprocess.run([python, "-m", "venv", str(image.layer)], check=True)
    pip = [str(image.layer / "bin" / "python"), "-m", "pip"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run(
        [*pip, "install", "--requirement", "requirements.txt", *bp.PIP_FLAGS],
        cwd=image.workspace,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    python = str(image.layer / "bin" / "python")
    subprocess.run([python, *bp.COMPILE_LAYER, str(image.layer)], check=True, capture_output=True)
    subprocess.run([python, *bp.COMPILE_SOURCE], cwd=image.workspace, check=True, capture_output=True)
    return image


def _dirs_between(top: str, path: Path) -> list[str]:
    """bwrap arguments creating every folder from `top` down to `path`'s parent, world-readable."""
    args: list[str] = []
    for parent in reversed(path.parents):
        if parent.is_relative_to(top) and str(parent) != top:
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def sandbox(image: Image, uid: int, gid: int) -> list[str]:
    """bwrap: read-only root, a fresh writable /tmp (the pod's emptyDir), a read-only HOME, the source
    and the layer read-only, as `uid`:`gid` with no capabilities and no_new_privs (the rendered
    securityContext)."""
    base = Path(sys.base_prefix).resolve()  # the interpreter the layer links to (maybe under /root, 0700)
    args = [
        "bwrap",
        "--die-with-parent",
        "--ro-bind",
        "/",
        "/",
        "--perms",
        "1777",
        "--tmpfs",
        TMP,
        "--perms",
        "0755",
        "--tmpfs",
        "/home",
        "--perms",
        "0755",
        "--dir",
        HOME,
        "--remount-ro",
        "/home",
    ]
    if base.is_relative_to("/root"):
        args += [
            "--perms",
            "0755",
            "--tmpfs",
            "/root",
            *_dirs_between("/root", base),
            "--ro-bind",
            str(base),
            str(base),
            "--remount-ro",
            "/root",
        ]
    for path in (image.layer, image.workspace):
        if path.is_relative_to(TMP):
            args += _dirs_between(TMP, path)
        args += ["--ro-bind", str(path), str(path)]
    args += ["--chdir", str(image.workspace)]
    if os.geteuid() == 0:
        return [
            *args,
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
        ]
    return [*args, "--unshare-user", "--uid", str(uid), "--gid", str(gid), "--cap-drop", "ALL", "--"]


def container_env(objects: list[dict[str, Any]], service: str) -> dict[str, str]:
    """The env the rendered Service gives its container: `env` values and `envFrom` ConfigMaps."""
    (svc,) = [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == service]
    (container,) = svc["spec"]["template"]["spec"]["containers"]
    maps = {o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(maps[source["configMapRef"]["name"]])
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def service_spec(objects: list[dict[str, Any]], service: str) -> dict[str, Any]:
    (svc,) = [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == service]
    return dict(svc["spec"]["template"]["spec"])


def launch_env(image: Image, function: str, service: str, port: int) -> dict[str, str]:
    """What the CNB launcher and Knative add: PATH with the layer, HOME, FUNCTION_*, PORT, K_*."""
    return {
        "PATH": f"{image.layer}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": HOME,
        "VIRTUAL_ENV": str(image.layer),
        **bp.function_env(function),  # `make images`: GOOGLE_FUNCTION_TARGET=<function>
        "PORT": str(port),
        "K_SERVICE": service,
        "K_CONFIGURATION": service,
        "K_REVISION": f"{service}-00001",
    }
