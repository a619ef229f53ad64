"""Build the function image's Python layer the way the buildpack does, and run a function the way its
launcher does, as the rendered Service's user on a read-only root (bubblewrap; no Docker).

What each step copies, from GoogleCloudPlatform/buildpacks:
- the pip install: `pkg/python/python.go` (`PIPInstallRequirements`, `basePipInstallArgs`): the
  flags below plus `--no-cache-dir`; `--user` only outside a virtualenv (its own virtualenv branch
  drops it, as we do), then deterministic byte-compilation and `pip check`, which fails the build;
- the function: `cmd/python/functions_framework/lib/lib.go`: `python3 -m compileall -f -q .` over the
  source, then the web process is `functions-framework` with no flags; `pkg/gcpbuildpack/env.go`
  (`SetFunctionsEnvVars`) turns GOOGLE_FUNCTION_* into FUNCTION_TARGET / _SOURCE / _SIGNATURE_TYPE;
- requirements.txt wins over pyproject.toml when both exist (`pkg/python/pyproject.go`,
  `IsPyprojectEnabled`), and functions-framework is not injected when requirements.txt names it.
Knative adds PORT and K_* and sets terminationGracePeriodSeconds to the revision's timeoutSeconds
(knative/serving `pkg/reconciler/revision/resources/deploy.go`, `BuildPodSpec`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PIP_FLAGS = [
    "--upgrade",
    "--upgrade-strategy",
    "only-if-needed",
    "--no-warn-script-location",
    "--no-warn-conflicts",
    "--force-reinstall",
    "--no-compile",
    "--disable-pip-version-check",
    "--no-cache-dir",
]
HOME = "/home/cnb"  # the run image's user home (uid 1000)
TMP = "/tmp"  # noqa: S108 -- the pod's emptyDir, a fresh tmpfs in the sandbox


@dataclass(frozen=True)
class Image:
    workspace: Path  # the source as `pack build` sends it (project.toml's exclude applied)
    layer: Path  # the dependency layer (a virtualenv)


def sources() -> list[str]:
    """The repository's files `pack build --path .` sends: project.toml's `exclude` left out."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    excluded = tomllib.loads((ROOT / "project.toml").read_text())["io"]["buildpacks"]["exclude"]

    def kept(path: str) -> bool:
        return not any(fnmatch(part, pattern) for part in Path(path).parts for pattern in excluded)

    return [path for path in listed if (ROOT / path).is_file() and kept(path)]


def build(where: Path) -> Image:
    """Copy the source, install requirements.txt with the buildpack's flags, compile, `pip check`."""
    image = Image(where / "workspace", where / "layer")
    for path in sources():
        (image.workspace / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, image.workspace / path)
    python = shutil.which("python3.11") or sys.executable
    subprocess.run([python, "-m", "venv", str(image.layer)], check=True)
    pip = [str(image.layer / "bin" / "python"), "-m", "pip"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run(
        [*pip, "install", "--requirement", "requirements.txt", *PIP_FLAGS],
        cwd=image.workspace,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for target in (image.layer, image.workspace):
        subprocess.run(
            [str(image.layer / "bin" / "python"), "-m", "compileall", "-f", "-q", str(target)],
            check=True,
            capture_output=True,
        )
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
    descriptor = tomllib.loads((ROOT / "project.toml").read_text())
    build_env = {e["name"]: e["value"] for e in descriptor["io"]["buildpacks"]["build"]["env"]}
    return {
        "PATH": f"{image.layer}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": HOME,
        "VIRTUAL_ENV": str(image.layer),
        "FUNCTION_TARGET": function,  # `make images`: GOOGLE_FUNCTION_TARGET=<function>
        "FUNCTION_SOURCE": f"functions/{function}/main.py",
        "FUNCTION_SIGNATURE_TYPE": build_env["GOOGLE_FUNCTION_SIGNATURE_TYPE"],
        "PORT": str(port),
        "K_SERVICE": service,
        "K_CONFIGURATION": service,
        "K_REVISION": f"{service}-00001",
    }
