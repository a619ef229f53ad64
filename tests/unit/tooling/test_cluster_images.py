"""The cluster images' recipe: what the buildpack's launcher would start, and what `pack build` sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.cluster import buildpack, images, oci


@pytest.mark.parametrize("function", sorted(images.FUNCTIONS))
def test_the_image_starts_functions_framework_with_the_launch_env(function: str) -> None:
    config = images.config(function)
    assert config.entrypoint == ["/layers/google.python.pip/pip/bin/functions-framework"]
    assert config.working_dir == "/workspace"
    assert config.user == "1000:1000"  # numeric: runAsNonRoot can check it
    assert config.env["FUNCTION_TARGET"] == function
    assert config.env["FUNCTION_SOURCE"] == f"functions/{function}/main.py"
    assert config.env["FUNCTION_SIGNATURE_TYPE"] == "http"  # project.toml's build env
    assert config.env["PYTHONUSERBASE"] == "/layers/google.python.pip/pip"
    assert config.env["PATH"].split(":")[0] == "/layers/google.python.pip/pip/bin"
    assert (buildpack.ROOT / config.env["FUNCTION_SOURCE"]).is_file()


def test_pack_leaves_out_what_project_toml_excludes() -> None:
    sent = buildpack.sources()
    assert "requirements.txt" in sent and "functions/search/main.py" in sent and "hermes/__init__.py" in sent
    assert not [p for p in sent if p.split("/")[0] in {"tests", "scripts", "docs", "helm", "bench", ".git"}]


def test_a_layer_change_changes_the_tag_and_the_function_too(tmp_path: Path) -> None:
    layers = [oci.Layer(tmp_path / "x", f"sha256:{n:064x}", f"sha256:{n + 10:064x}", 1) for n in range(3)]
    tag = images.tag_for("search", layers)
    assert tag == images.tag_for("search", list(layers))
    assert tag != images.tag_for(
        "search", [*layers[:2], oci.Layer(tmp_path / "x", "sha256:" + "f" * 64, "sha256:" + "e" * 64, 1)]
    )
    assert tag != images.tag_for("full_load", layers)
