"""Cluster add-ons applied by `up`: CoreDNS as `kube-dns` on 10.96.0.10.

The objects follow CoreDNS's own Kubernetes deployment (coredns/deployment : kubernetes/coredns.yaml.sed)
with changes for a test bed in a namespace that has no way out: no `forward` plugin (nothing upstream to
ask; names outside cluster.local are refused at once instead of timing out), so no `loop` check either;
answers cached 5 s, not 30 (the kubernetes plugin's own default TTL), since tests delete and recreate
Services by name and a stale ClusterIP is refused by kube-proxy. JSON is valid input for `kubectl apply`,
so no YAML library is needed.
"""

from __future__ import annotations

import json
from typing import Any

from scripts.cluster import layout

COREFILE = f"""\
.:53 {{
    errors
    health {{
        lameduck 5s
    }}
    ready
    kubernetes {layout.CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }}
    prometheus :9153
    cache 5
    reload
    loadbalance
}}
"""
_NS = "kube-system"
_LABELS = {"k8s-app": "kube-dns"}


def _meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, **extra}


def _rbac() -> list[dict[str, Any]]:
    rules = [
        {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
    ]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("coredns", namespace=_NS)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta("system:coredns"),
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta("system:coredns"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
            "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": _NS}],
        },
    ]


# CoreDNS's ports: name, port (the container's and the Service's alike), protocol.
_PORTS = (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP"))


def _ports(key: str) -> list[dict[str, Any]]:
    """_PORTS as a container (`key` containerPort) or a Service (`key` port) lists them."""
    return [{"name": name, key: port, "protocol": protocol} for name, port, protocol in _PORTS]


def _container() -> dict[str, Any]:
    return {
        "name": "coredns",
        "image": layout.COREDNS_IMAGE,
        "imagePullPolicy": "Never",
        "args": ["-conf", "/etc/coredns/Corefile"],
        "ports": _ports("containerPort"),
        "resources": {"requests": {"cpu": "50m", "memory": "40Mi"}, "limits": {"memory": "170Mi"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": 8080},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "failureThreshold": 5,
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 2},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
        },
    }


def _deployment() -> dict[str, Any]:
    pod = {
        "serviceAccountName": "coredns",
        "priorityClassName": "system-cluster-critical",
        "dnsPolicy": "Default",
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
        "containers": [_container()],
        "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta("coredns", namespace=_NS, labels=_LABELS),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": _LABELS},
            "template": {"metadata": {"labels": _LABELS}, "spec": pod},
        },
    }


def _service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta("kube-dns", namespace=_NS, labels=_LABELS),
        "spec": {"selector": _LABELS, "clusterIP": layout.DNS_SERVICE_IP, "ports": _ports("port")},
    }


def coredns() -> str:
    """CoreDNS's objects as one JSON List for `kubectl apply -f -`."""
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta("coredns", namespace=_NS),
        "data": {"Corefile": COREFILE},
    }
    items = [*_rbac(), config, _deployment(), _service()]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
