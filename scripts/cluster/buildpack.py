"""What Google's Python buildpack and the CNB launcher do to a function, as data both image builders share
(`scripts/cluster/images.py` builds OCI images with it; `tests/deploy/image.py` runs the same steps in a
sandbox).

From GoogleCloudPlatform/buildpacks:
- `pkg/python/python.go` `basePipInstallArgs` + `PIPInstallRequirements`: the pip flags below plus
  `--no-cache-dir`; on Python >= 3.9 (`requiresVirtualEnv` is only for python37/38) the install goes to the
  user site of the `pip` layer (`--user`, `PYTHONUSERBASE=<layer>`), then `compileBytecode` (deterministic
  `--invalidation-mode unchecked-hash` pycs over the layer) and `pip check`, which fails the build;
- `cmd/python/functions_framework/lib/lib.go`: `python3 -m compileall -f -q .` over the source, then the web
  process is `functions-framework`, direct (`pkg/gcpbuildpack/gcpbuildpack.go` `AddWebProcess`);
  `pkg/gcpbuildpack/env.go` `SetFunctionsEnvVars` turns GOOGLE_FUNCTION_* into the launch env
  FUNCTION_TARGET / FUNCTION_SOURCE / FUNCTION_SIGNATURE_TYPE;
- `cmd/python/runtime/lib/lib.go`: launch env PYTHONUNBUFFERED=TRUE;
- `stacks/google_22/run.Dockerfile`: user cnb (1000:1000, home /home/cnb), ENV PORT 8080, EXPOSE 8080.
"""

from __future__ import annotations

import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
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
# The buildpack's byte-compilation of the dependency layer (`compileBytecode`) and of the source.
COMPILE_LAYER = ["-m", "compileall", "--invalidation-mode", "unchecked-hash", "-qq"]
COMPILE_SOURCE = ["-m", "compileall", "-f", "-q", "."]
APP_DIR = "/workspace"  # CNB_APP_DIR: the launcher starts processes here
PIP_LAYER = "/layers/google.python.pip/pip"  # <layers>/<buildpack id>/<layer name>
CNB_UID = CNB_GID = 1000
HOME = "/home/cnb"  # the run image's user home
PORT = 8080
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The CNB lifecycle writes every layer file with this mtime (buildpacks/lifecycle archive.NormalizedDateTime).
NORMALIZED_MTIME = 315532801  # 1980-01-01T00:00:01Z


def descriptor(root: Path = ROOT) -> dict[str, Any]:
    """project.toml, the CNB project descriptor `pack build` reads."""
    return tomllib.loads((root / "project.toml").read_text())


def excluded(root: Path = ROOT) -> list[str]:
    """project.toml's `exclude` patterns (matched against each path component, as `pack` does for names)."""
    return [str(p) for p in descriptor(root)["io"]["buildpacks"]["exclude"]]


def sources(root: Path = ROOT) -> list[str]:
    """The repository's files `pack build --path .` sends: project.toml's `exclude` left out."""
    git = ["git", "ls-files", "-co", "--exclude-standard"]
    listed = subprocess.run(git, cwd=root, check=True, capture_output=True, text=True).stdout.splitlines()  # noqa: S603
    patterns = excluded(root)

    def kept(path: str) -> bool:
        return not any(fnmatch(part, pattern) for part in PurePosixPath(path).parts for pattern in patterns)

    return sorted(path for path in listed if (root / path).is_file() and kept(path))


def build_env(root: Path = ROOT) -> dict[str, str]:
    """project.toml's `[[io.buildpacks.build.env]]` (what `pack build` passes to the buildpacks)."""
    return {str(e["name"]): str(e["value"]) for e in descriptor(root)["io"]["buildpacks"]["build"]["env"]}


def function_env(function: str, root: Path = ROOT) -> dict[str, str]:
    """The launch env `SetFunctionsEnvVars` writes for `make images`' GOOGLE_FUNCTION_TARGET/_SOURCE."""
    return {
        "FUNCTION_TARGET": function,
        "FUNCTION_SOURCE": f"functions/{function}/main.py",
        "FUNCTION_SIGNATURE_TYPE": build_env(root)["GOOGLE_FUNCTION_SIGNATURE_TYPE"],
    }
