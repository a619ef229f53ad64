"""Render the chart and the kustomization; validate objects against the official schemas."""

from __future__ import annotations

import copy
import functools
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "hermes"
K8S_VERSION = "1.31.0"
KNATIVE_KINDS = {
    ("serving.knative.dev/v1", "Service"): "service.yaml",
    ("eventing.knative.dev/v1", "Broker"): "broker.yaml",
    ("eventing.knative.dev/v1", "Trigger"): "trigger.yaml",
    ("sources.knative.dev/v1", "PingSource"): "pingsource.yaml",
    ("sources.knative.dev/v1", "SinkBinding"): "sinkbindings.yaml",
}


_DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": _DNS_LABEL, "maxLength": 63},
        "namespace": {"type": "string", "pattern": _DNS_LABEL},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 63}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT, **kw)


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d]


def helm_template(tools: Path, *args: str) -> list[dict[str, Any]]:
    out = run([str(tools / "helm"), "template", "hermes", str(CHART), "--namespace", "hermes", *args])
    assert out.returncode == 0, out.stderr
    return docs(out.stdout)


def kustomize_build(tools: Path) -> list[dict[str, Any]]:
    out = run([str(tools / "kustomize"), "build", str(ROOT / "knative")])
    assert out.returncode == 0, out.stderr
    return docs(out.stdout)


def _strict(schema: Any) -> Any:
    """Reject unknown fields like the API server's strict field validation (kubeconform -strict)."""
    if isinstance(schema, dict):
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            _strict(value)
    elif isinstance(schema, list):
        for value in schema:
            _strict(value)
    return schema


@functools.cache
def crd_schema(crds: Path, api_version: str, kind: str) -> dict[str, Any]:
    crd = yaml.load((crds / KNATIVE_KINDS[(api_version, kind)]).read_text(), Loader=yaml.CSafeLoader)
    version = api_version.split("/")[1]
    (entry,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = copy.deepcopy(entry["schema"]["openAPIV3Schema"])
    # The API server checks these itself; CRD schemas may leave them out.
    schema["properties"].setdefault("apiVersion", {"type": "string"})
    schema["properties"].setdefault("kind", {"type": "string"})
    schema["properties"]["metadata"] = METADATA
    return _strict(schema)  # type: ignore[no-any-return]


@functools.cache
def crd_validator(crds: Path, api_version: str, kind: str) -> Any:
    """A validator of the CRD's schema, the schema itself checked once: what ``jsonschema.validate`` builds
    for each call (python-jsonschema's jsonschema/validators.py, ``validate``). Checking a Knative CRD's
    schema against its metaschema took 0.18 s, 7 of test_every_rendered_object_matches_its_official_schema's
    8.5 s."""
    schema = crd_schema(crds, api_version, kind)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(obj: dict[str, Any], crds: Path) -> None:
    """Raise if the object breaks its official schema (Knative CRD or Kubernetes core)."""
    key = (obj["apiVersion"], obj["kind"])
    if key in KNATIVE_KINDS:
        # The error jsonschema.validate raises: the best match among all the object's errors.
        error = jsonschema.exceptions.best_match(crd_validator(crds, *key).iter_errors(obj))
        if error is not None:
            raise error
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def kinds_and_names(objs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(o["kind"], o["metadata"]["name"]) for o in objs}
