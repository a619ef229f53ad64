"""Deployment checks: real helm, kustomize, kn and checkov, official schemas (no cluster needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tools() -> Path:
    """The folder of the built tools (scripts/tools.sh builds them once, then answers from cache)."""
    given = os.environ.get("HERMES_TOOLS_BIN")
    if given:
        return Path(given)
    out = subprocess.run(["bash", str(ROOT / "scripts" / "tools.sh")], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])
