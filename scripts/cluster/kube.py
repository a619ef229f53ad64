"""kubectl inside the namespaces as the cluster admin, and the readiness questions `up` asks."""

from __future__ import annotations

import json
from typing import Any

from scripts.cluster import layout
from scripts.cluster.layout import binary
from scripts.cluster.proc import run_inside


def kubectl(*args: str, input_text: str | None = None, check: bool = True) -> str:
    """Run kubectl inside the namespaces with admin.kubeconfig; returns stdout."""
    argv = [binary("kubectl"), f"--kubeconfig={layout.ADMIN_KUBECONFIG}", "--request-timeout=10s", *args]
    return run_inside(argv, input_text=input_text, check=check)


def get_json(*args: str) -> Any:
    return json.loads(kubectl("get", "-o", "json", *args))


def apiserver_ready() -> bool:
    return kubectl("get", "--raw", "/readyz").strip() == "ok"


def node_ready() -> bool:
    node = get_json("node", layout.NODE_NAME)
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])


def deployment_ready(namespace: str, name: str) -> bool:
    deployment = get_json("-n", namespace, "deployment", name)
    status = deployment.get("status", {})
    want = deployment["spec"].get("replicas", 1)
    return bool(status.get("readyReplicas", 0) >= want and status.get("updatedReplicas", 0) >= want)
