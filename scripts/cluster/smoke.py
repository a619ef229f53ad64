"""The node's own proof: a Deployment behind a Service answers another pod, and DNS resolves from a pod.

In namespace `hermes-smoke`: Deployment `echo` (2 replicas of hermes.local/probe serving :8080), Service
`echo` (port 80), and pod `client`. From `client` (kubectl exec, so the apiserver-to-kubelet path works too):
  1. `kubernetes.default.svc.cluster.local` resolves to 10.96.0.1 (CoreDNS through the kube-dns Service);
  2. http://<echo's ClusterIP>/ answers "hello from echo-..." (kube-proxy's iptables DNAT);
  3. http://echo.hermes-smoke.svc.cluster.local/ answers too (DNS search path and Service together);
  4. the ClusterIP answers from the node's own namespace too (how the apiserver calls admission webhooks);
  5. a server on the host's 127.0.0.1 answers at 10.201.0.1:PORT through an outward forward.
Each check raises with what it saw; the namespace is deleted afterwards unless `keep`.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from typing import Any

from scripts.cluster import forward, layout
from scripts.cluster.kube import deployment_ready, get_json, kubectl
from scripts.cluster.proc import log, run_inside, wait_for

NS = "hermes-smoke"
_LABELS = {"app": "echo"}
_SECURITY = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def _probe(name: str, args: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "image": layout.PROBE_IMAGE,
        "imagePullPolicy": "Never",
        "args": args,
        "securityContext": _SECURITY,
    }


def manifests() -> str:
    echo = _probe("echo", ["serve", ":8080"])
    echo["ports"] = [{"containerPort": 8080}]
    echo["readinessProbe"] = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}
    items = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "echo", "namespace": NS},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": _LABELS},
                "template": {"metadata": {"labels": _LABELS}, "spec": {"containers": [echo]}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "echo", "namespace": NS},
            "spec": {"selector": _LABELS, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "client", "namespace": NS},
            "spec": {"containers": [_probe("client", ["sleep"])], "terminationGracePeriodSeconds": 1},
        },
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def _in_client(*args: str) -> str:
    return kubectl("exec", "-n", NS, "client", "--", "/probe", *args)


def _answers_from_client(url: str) -> bool:
    return "hello from echo-" in _in_client("get", url)


def _pod_ready() -> bool:
    pod = get_json("-n", NS, "pod", "client")
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def _expect(what: str, got: str, want: str) -> None:
    if want not in got:
        msg = f"smoke: {what}: expected {want!r}, got {got!r}"
        raise RuntimeError(msg)
    log(f"smoke: {what}: {got.strip().splitlines()[0]}")


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from the host\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _from_host_service() -> str:
    """A server on the host's loopback, reached from the client pod at 10.201.0.1:PORT (`forward out`)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        forward.outward("smoke", port)
        return _in_client("get", f"http://{layout.NODE_IP}:{port}/")
    finally:
        forward.remove("smoke")
        server.shutdown()
        server.server_close()


def run_smoke(*, keep: bool = False) -> None:
    started = time.monotonic()
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=60s")  # a previous run's
    kubectl("apply", "-f", "-", input_text=manifests())
    try:
        wait_for("the echo Deployment", lambda: deployment_ready(NS, "echo"), timeout=120)
        wait_for("the client pod", _pod_ready, timeout=120)
        _expect(
            "DNS kubernetes.default.svc.cluster.local",
            _in_client("resolve", f"kubernetes.default.svc.{layout.CLUSTER_DOMAIN}"),
            layout.KUBERNETES_SERVICE_IP,
        )
        cluster_ip = get_json("-n", NS, "service", "echo")["spec"]["clusterIP"]
        by_name = f"http://echo.{NS}.svc.{layout.CLUSTER_DOMAIN}/"
        # Ready endpoints reach kube-proxy's rules a moment after the pods are Ready (its sync period); until
        # then the ClusterIP refuses (kube-proxy's REJECT for a Service without endpoints), and CoreDNS may not
        # list the new name yet. Wait for both first: the checks below then prove the paths, not the timing.
        for url in (f"http://{cluster_ip}/", by_name):
            wait_for(f"{url} from a pod", functools.partial(_answers_from_client, url), timeout=60)
        _expect(f"Service by ClusterIP {cluster_ip}", _in_client("get", f"http://{cluster_ip}/"), "hello from echo-")
        from_node = run_inside(["curl", "-sS", "-m", "5", f"http://{cluster_ip}/"])
        _expect("Service from the node's namespace (the apiserver's path to webhooks)", from_node, "hello from echo-")
        _expect("Service by name", _in_client("get", by_name), "hello from echo-")
        _expect("host loopback through an outward forward", _from_host_service(), "hello from the host")
        log(f"smoke passed in {time.monotonic() - started:.1f} s")
    finally:
        if not keep:
            kubectl("delete", "namespace", NS, "--wait=false", check=False)
