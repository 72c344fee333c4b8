"""Defaults Kubernetes fills into built-in kinds on create (the subset clients rely on)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from .types import JSON


def _container(c: JSON) -> None:
    image = str(c.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    latest = ":" not in tag or tag.endswith(":latest")
    c.setdefault("imagePullPolicy", "Always" if latest and "@" not in tag else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")


def pod_spec(spec: JSON) -> None:
    """Defaults of a PodSpec (also inside workload templates)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        _container(c)


def _pod(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    pod_spec(spec)
    spec.setdefault("serviceAccountName", spec.get("serviceAccount", "default"))
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault(
        "tolerations",
        [
            {"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            for k in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
        ],
    )
    qos = "BestEffort"
    for c in spec.get("containers") or []:
        if (c.get("resources") or {}).get("requests") or (c.get("resources") or {}).get("limits"):
            qos = "Burstable"
    status = obj.get("status") or {}
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", qos)
    obj["status"] = status


def _template(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    template = spec.setdefault("template", {})
    pod_spec(template.setdefault("spec", {}))
    spec.setdefault("revisionHistoryLimit", 10)


def _deployment(obj: JSON) -> None:
    _template(obj)
    spec = obj["spec"]
    spec.setdefault("replicas", 1)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})


def _replicaset(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))
    spec.setdefault("replicas", 1)


def _replicationcontroller(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    template = spec.get("template")
    if isinstance(template, dict):
        pod_spec(template.setdefault("spec", {}))
        labels = (template.get("metadata") or {}).get("labels") or {}
        if labels and not spec.get("selector"):
            spec["selector"] = dict(labels)
        if labels and not obj["metadata"].get("labels"):
            obj["metadata"]["labels"] = dict(labels)
    spec.setdefault("replicas", 1)


def _daemonset(obj: JSON) -> None:
    _template(obj)
    strategy = obj["spec"].setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})


def _namespace(obj: JSON) -> None:
    name = obj["metadata"]["name"]
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = name
    obj["spec"] = dict(obj.get("spec") or {}, finalizers=["kubernetes"])
    obj["status"] = {"phase": "Active"}


def _secret(obj: JSON) -> None:
    obj.setdefault("type", "Opaque")


def _service_ports(obj: JSON) -> None:
    for port in obj.get("spec", {}).get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))


def _service(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    _service_ports(obj)
    if spec["type"] != "ExternalName":
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("internalTrafficPolicy", "Cluster")
    obj["status"] = {"loadBalancer": {}}


def _lease(obj: JSON) -> None:
    obj.setdefault("spec", {})


def _csr(obj: JSON) -> None:
    obj.setdefault("status", {})


DEFAULTERS: dict[tuple[str, str], Callable[[JSON], None]] = {
    ("", "pods"): _pod,
    ("", "namespaces"): _namespace,
    ("", "secrets"): _secret,
    ("", "services"): _service,
    ("apps", "deployments"): _deployment,
    ("", "replicationcontrollers"): _replicationcontroller,
    ("apps", "replicasets"): _replicaset,
    ("apps", "daemonsets"): _daemonset,
    ("apps", "statefulsets"): _template,
    ("coordination.k8s.io", "leases"): _lease,
    ("certificates.k8s.io", "certificatesigningrequests"): _csr,
}


class ServiceAllocator:
    """Cluster IPs from the service CIDR (10.96.0.0/12 by default) and node ports from
    30000-32767."""

    def __init__(self, cidr: str = "10.96.0.0/12") -> None:
        self._net = ipaddress.ip_network(cidr)
        self.first_ip = str(self._net.network_address + 1)
        """The ``kubernetes`` Service's address."""
        self._next_ip = 10
        self._next_port = 30000
        self.used_ips: set[str] = set()

    def allocate(self, svc: JSON) -> None:
        """Fill ``clusterIP(s)`` and node ports of a new Service."""
        spec = svc["spec"]
        if spec["type"] == "ExternalName":
            return
        ip = spec.get("clusterIP")
        if not ip:
            while True:
                candidate = str(self._net.network_address + self._next_ip)
                self._next_ip += 1
                if candidate not in self.used_ips:
                    ip = candidate
                    break
        if ip != "None":
            self.used_ips.add(ip)
        spec["clusterIP"] = ip
        spec.setdefault("clusterIPs", [ip])
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
            for port in spec.get("ports") or []:
                if not port.get("nodePort"):
                    port["nodePort"] = self._next_port
                    self._next_port += 1

    def release(self, svc: JSON) -> None:
        """Return a deleted Service's cluster IP."""
        self.used_ips.discard(str(svc.get("spec", {}).get("clusterIP", "")))
