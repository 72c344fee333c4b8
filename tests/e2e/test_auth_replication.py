"""CRD replication between two clusters over a ControlPlane identity (declarative, no handshake).

The consumer's ``liqo controller-manager`` runs as a subprocess, with the module that
declares the replicated kind (authentication: ResourceSlice, Renew; offloading:
NamespaceMap): the replicator runs in the always-on core operator whenever one does.
Its credentials towards the provider are obtained through the provider's API, as an
administrator would: a ServiceAccount in the provider's tenant namespace with a Role on
the replicated kinds, and a token from the TokenRequest API. Everything is observed
through the two API servers.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import free_port, wait_for

from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.kubectl import get_json

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
SLICES = "resourceslices.authentication.liqo.io"
RESOURCE_FINALIZER = "crdreplicator.liqo.io/resource"
OPERATOR_FINALIZER = "crdreplicator.liqo.io/operator"
CORDON = "liqo.io/cordon"
CORDON_TENANT = "liqo.io/cordon-tenant"


def apply_crds(cluster: ClusterHandle) -> None:
    manifests = subprocess.run(
        [str(BIN / "liqoctl"), "crds"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=manifests)
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{SLICES}")


def create(cluster: ClusterHandle, obj: dict[str, Any]) -> None:
    cluster.kubectl("create", "-f", "-", input=json.dumps(obj))


def apply(cluster: ClusterHandle, obj: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(obj))


class Peering:
    """A consumer and a provider with tenant namespaces and the consumer's controller-manager."""

    def __init__(self, consumer: ClusterHandle, provider: ClusterHandle, tmp: Path) -> None:
        suffix = uuid.uuid4().hex[:6]
        self.consumer, self.provider, self.tmp = consumer, provider, tmp
        self.consumer_id, self.provider_id = f"consumer-{suffix}", f"provider-{suffix}"
        self.liqo_ns = f"liqo-{suffix}"
        self.local_ns = f"liqo-tenant-{self.provider_id}"
        self.remote_ns = f"liqo-tenant-{self.consumer_id}"
        self.process: subprocess.Popen[bytes] | None = None
        self.tokens: list[str] = []
        self.log = tmp / "controller-manager.log"

    def setup(self) -> None:
        for cluster in (self.consumer, self.provider):
            apply_crds(cluster)
        for name, peer in ((self.liqo_ns, None), (self.local_ns, self.provider_id)):
            labels = {"liqo.io/tenant-namespace": "true", "liqo.io/remote-cluster-id": peer}
            meta = {"name": name, "labels": labels} if peer else {"name": name}
            create(self.consumer, {"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
        labels = {"liqo.io/tenant-namespace": "true", "liqo.io/remote-cluster-id": self.consumer_id}
        create(
            self.provider,
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": self.remote_ns, "labels": labels},
            },
        )
        create(
            self.provider,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "liqo-replication", "namespace": self.remote_ns},
                "rules": [
                    {
                        "apiGroups": ["authentication.liqo.io", "offloading.liqo.io"],
                        "resources": [
                            "resourceslices",
                            "resourceslices/status",
                            "renews",
                            "renews/status",
                            "namespacemaps",
                            "namespacemaps/status",
                        ],
                        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                    }
                ],
            },
        )

    def credentials(self, account: str, bind: bool = True) -> bytes:
        """A kubeconfig for ServiceAccount ``account`` of the provider's tenant namespace."""
        ns = self.remote_ns
        self.provider.kubectl("create", "serviceaccount", account, "-n", ns)
        if bind:
            self.bind(account)
        token = self.provider.kubectl(
            "create", "token", account, "-n", ns, "--duration=3600s"
        ).stdout.strip()
        self.tokens.append(token)
        admin = yaml.safe_load(Path(self.provider.kubeconfig).read_text())
        cluster = dict(admin["clusters"][0]["cluster"])
        if "certificate-authority" in cluster:
            ca = Path(cluster.pop("certificate-authority")).read_bytes()
            cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "provider", "cluster": cluster}],
            "users": [{"name": account, "user": {"token": token}}],
            "contexts": [
                {
                    "name": "provider",
                    "context": {"cluster": "provider", "user": account, "namespace": ns},
                }
            ],
            "current-context": "provider",
        }
        return yaml.safe_dump(document).encode()

    def bind(self, account: str) -> None:
        """Let ``account`` manage the replicated kinds in the provider's tenant namespace."""
        ns = self.remote_ns
        create(
            self.provider,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": account, "namespace": ns},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "liqo-replication",
                },
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}],
            },
        )

    def put_identity_secret(self, kubeconfig: bytes) -> None:
        apply(
            self.consumer,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": f"kubeconfig-controlplane-{self.provider_id}",
                    "namespace": self.local_ns,
                    "labels": {
                        "liqo.io/identity-type": "ControlPlane",
                        "liqo.io/remote-cluster-id": self.provider_id,
                    },
                    "annotations": {"liqo.io/remote-tenant-namespace": self.remote_ns},
                },
                "data": {"kubeconfig": base64.b64encode(kubeconfig).decode()},
            },
        )

    def start(self, modules: tuple[str, ...] = ("authentication",)) -> None:
        config = self.tmp / "config.yaml"
        config.write_text(yaml.safe_dump({"modules": list(modules)}))
        environment = {k: v for k, v in os.environ.items() if not k.startswith("LIQO_")}
        command = [
            *(str(BIN / "liqo"), "controller-manager", "--config", str(config)),
            *("--kubeconfig", str(self.consumer.kubeconfig), "--no-leader-elect"),
            *("--cluster-id", self.consumer_id, "--namespace", self.liqo_ns),
            *("--health-port", str(free_port()), "--metrics-port", str(free_port())),
            *("--bind-address", "127.0.0.1"),
        ]
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                command, env=environment, stdout=sink, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # --- objects ------------------------------------------------------------------------

    def create_slice(self, name: str) -> None:
        create(
            self.consumer,
            {
                "apiVersion": "authentication.liqo.io/v1beta1",
                "kind": "ResourceSlice",
                "metadata": {
                    "name": name,
                    "namespace": self.local_ns,
                    "labels": {
                        "liqo.io/replication": "true",
                        "liqo.io/remoteID": self.provider_id,
                        "liqo.io/remote-cluster-id": self.provider_id,
                    },
                },
                "spec": {
                    "consumerClusterID": self.consumer_id,
                    "providerClusterID": self.provider_id,
                    "class": "default",
                    "resources": {"cpu": "2"},
                },
            },
        )

    def local_slice(self, name: str) -> dict[str, Any] | None:
        return get_json(self.consumer, SLICES, name, "-n", self.local_ns)

    def remote_slice(self, name: str) -> dict[str, Any] | None:
        return get_json(self.provider, SLICES, name, "-n", self.remote_ns)


@pytest.fixture
def peering(
    kube_clusters: Callable[[int], list[ClusterHandle]], tmp_path: Path
) -> Iterator[Peering]:
    consumer, provider = kube_clusters(2)
    pair = Peering(consumer, provider, tmp_path)
    pair.setup()
    try:
        yield pair
    finally:
        pair.kill()
        print(pair.logs()[-4000:])


def test_resource_slice_replicates_spec_out_status_back_and_deletion(peering: Peering) -> None:
    peering.put_identity_secret(peering.credentials("consumer-a"))
    peering.start()
    secret = f"kubeconfig-controlplane-{peering.provider_id}"

    name = peering.provider_id
    peering.create_slice(name)

    # The copy appears on the provider with rewritten labels.
    remote = wait_for("the remote copy", lambda: peering.remote_slice(name))
    assert remote["metadata"]["labels"] == {
        "liqo.io/replication": "false",
        "liqo.io/replicated": "true",
        "liqo.io/originID": peering.consumer_id,
        "liqo.io/remote-cluster-id": peering.consumer_id,
    }
    assert remote["spec"]["resources"] == {"cpu": "2"}
    local = peering.local_slice(name)
    assert local is not None
    assert RESOURCE_FINALIZER in local["metadata"]["finalizers"]
    secret_obj = get_json(peering.consumer, "secret", secret, "-n", peering.local_ns)
    assert secret_obj is not None
    assert OPERATOR_FINALIZER in (secret_obj["metadata"].get("finalizers") or [])

    # Spec flows local -> remote.
    peering.consumer.kubectl(
        *("patch", SLICES, name, "-n", peering.local_ns, "--type=merge"),
        *("-p", json.dumps({"spec": {"resources": {"cpu": "3"}}})),
    )
    wait_for(
        "the spec change on the provider",
        lambda: (peering.remote_slice(name) or {}).get("spec", {}).get("resources") == {"cpu": "3"},
    )

    # Status flows remote -> local.
    condition = {
        "type": "Resources",
        "status": "Accepted",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "reason": "ResourcesAccepted",
        "message": "granted",
    }
    peering.provider.kubectl(
        *("patch", SLICES, name, "-n", peering.remote_ns, "--type=merge", "--subresource=status"),
        *("-p", json.dumps({"status": {"conditions": [condition], "resources": {"cpu": "3"}}})),
    )
    wait_for(
        "the provider's status on the consumer",
        lambda: (
            (peering.local_slice(name) or {}).get("status", {}).get("conditions") == [condition]
        ),
    )

    # Killing the controller-manager and restarting it converges without duplicates.
    peering.kill()
    peering.consumer.kubectl(
        *("patch", SLICES, name, "-n", peering.local_ns, "--type=merge"),
        *("-p", json.dumps({"spec": {"resources": {"cpu": "4"}}})),
    )
    peering.start()
    wait_for(
        "the change made while stopped",
        lambda: (peering.remote_slice(name) or {}).get("spec", {}).get("resources") == {"cpu": "4"},
    )
    copies = json.loads(
        peering.provider.kubectl("get", SLICES, "-n", peering.remote_ns, "-o", "json").stdout
    )["items"]
    assert [item["metadata"]["name"] for item in copies] == [name]

    # Rotating the kubeconfig (another account; the first one is deleted) keeps it working.
    peering.put_identity_secret(peering.credentials("consumer-b"))
    peering.provider.kubectl("delete", "serviceaccount", "consumer-a", "-n", peering.remote_ns)
    peering.consumer.kubectl(
        *("patch", SLICES, name, "-n", peering.local_ns, "--type=merge"),
        *("-p", json.dumps({"spec": {"resources": {"cpu": "5"}}})),
    )
    wait_for(
        "the change after rotation",
        lambda: (peering.remote_slice(name) or {}).get("spec", {}).get("resources") == {"cpu": "5"},
    )

    # Deleting the local object removes the remote copy, then the finalizer.
    peering.consumer.kubectl("delete", SLICES, name, "-n", peering.local_ns, "--wait=false")
    wait_for("the remote copy deleted", lambda: peering.remote_slice(name) is None)
    wait_for("the local object gone", lambda: peering.local_slice(name) is None)

    # Deleting the Secret stops the replication, frees the local objects of the resource
    # finalizer (nothing could delete their copies any more) and leaves the copies alone.
    peering.create_slice("extra")
    wait_for("the extra copy", lambda: peering.remote_slice("extra"))
    peering.consumer.kubectl("delete", "secret", secret, "-n", peering.local_ns, "--wait=false")
    wait_for(
        "the Secret gone",
        lambda: get_json(peering.consumer, "secret", secret, "-n", peering.local_ns) is None,
    )
    extra = peering.local_slice("extra")
    assert extra is not None
    assert RESOURCE_FINALIZER not in (extra["metadata"].get("finalizers") or [])
    assert peering.remote_slice("extra") is not None
    assert "Traceback" not in peering.logs()


def test_a_provider_cordon_on_the_copy_survives_consumer_updates_and_restarts(
    peering: Peering,
) -> None:
    """The cordon annotations of a replicated slice are the provider's: re-syncing the
    consumer's spec and labels keeps them, and the consumer's own annotations can neither
    add nor lift them."""
    peering.put_identity_secret(peering.credentials("consumer-a"))
    peering.start()
    name = peering.provider_id
    peering.create_slice(name)
    wait_for("the remote copy", lambda: peering.remote_slice(name))

    # The provider cordons its copy, as `liqoctl cordon resourceslice` does.
    peering.provider.kubectl(
        "annotate", SLICES, name, "-n", peering.remote_ns, f"{CORDON}=true", "note=provider"
    )

    def copy_with(cpu: str) -> dict[str, Any] | None:
        remote = peering.remote_slice(name)
        return remote if remote and remote["spec"]["resources"] == {"cpu": cpu} else None

    def provider_annotations(remote: dict[str, Any]) -> dict[str, str]:
        annotations = dict(remote["metadata"].get("annotations") or {})
        return {
            key: annotations[key] for key in (CORDON, CORDON_TENANT, "note") if key in annotations
        }

    # The consumer changes its slice and tries to lift the cordon and to add a tenant cordon.
    patch = {
        "metadata": {
            "labels": {"team": "blue"},
            "annotations": {CORDON: "false", CORDON_TENANT: "true"},
        },
        "spec": {"resources": {"cpu": "3"}},
    }
    peering.consumer.kubectl(
        "patch", SLICES, name, "-n", peering.local_ns, "--type=merge", "-p", json.dumps(patch)
    )
    remote = wait_for("the spec change on the provider", lambda: copy_with("3"))
    assert remote["metadata"]["labels"]["team"] == "blue"
    assert provider_annotations(remote) == {CORDON: "true", "note": "provider"}

    # The consumer drops its annotations again: nothing of the provider's goes with them.
    patch = {
        "metadata": {"annotations": {CORDON: None, CORDON_TENANT: None}},
        "spec": {"resources": {"cpu": "4"}},
    }
    peering.consumer.kubectl(
        "patch", SLICES, name, "-n", peering.local_ns, "--type=merge", "-p", json.dumps(patch)
    )
    remote = wait_for("the second spec change", lambda: copy_with("4"))
    assert provider_annotations(remote) == {CORDON: "true", "note": "provider"}

    # The replicator restarts (changes made while it was down are synced): still cordoned.
    peering.kill()
    peering.consumer.kubectl(
        *("patch", SLICES, name, "-n", peering.local_ns, "--type=merge"),
        *("-p", json.dumps({"spec": {"resources": {"cpu": "5"}}})),
    )
    peering.start()
    remote = wait_for("the change made while stopped", lambda: copy_with("5"))
    assert provider_annotations(remote) == {CORDON: "true", "note": "provider"}
    assert "Traceback" not in peering.logs()


def test_forbidden_peer_is_reported_then_namespace_map_replicates_once_allowed(
    peering: Peering,
) -> None:
    # Offloading alone declares NamespaceMaps: the replicator runs without authentication.
    peering.put_identity_secret(peering.credentials("consumer-unbound", bind=False))
    peering.start(modules=("offloading",))
    secret = f"kubeconfig-controlplane-{peering.provider_id}"
    name = peering.provider_id
    create(
        peering.consumer,
        {
            "apiVersion": "offloading.liqo.io/v1beta1",
            "kind": "NamespaceMap",
            "metadata": {
                "name": name,
                "namespace": peering.local_ns,
                "labels": {
                    "liqo.io/replication": "true",
                    "liqo.io/remoteID": peering.provider_id,
                },
            },
            "spec": {"desiredMapping": {"apps": f"apps-{peering.consumer_id}"}},
        },
    )

    def forbidden_events() -> list[dict[str, Any]]:
        events = json.loads(
            peering.consumer.kubectl("get", "events", "-n", peering.local_ns, "-o", "json").stdout
        )["items"]
        return [
            event
            for event in events
            if event["involvedObject"].get("name") == secret
            and event.get("type") == "Warning"
            and event.get("reason") == "RemoteForbidden"
        ]

    [event, *_] = wait_for("a Warning event naming the 403", forbidden_events)
    assert peering.provider_id in event["message"]
    assert "403" in event["message"]
    assert not any(token in json.dumps(event) for token in peering.tokens)
    assert not any(token in peering.logs() for token in peering.tokens)
    assert get_json(peering.provider, "namespacemaps", name, "-n", peering.remote_ns) is None

    # Once the provider grants the permissions, the back-off retries and replication works.
    peering.bind("consumer-unbound")
    remote = wait_for(
        "the NamespaceMap copy",
        lambda: get_json(peering.provider, "namespacemaps", name, "-n", peering.remote_ns),
    )
    assert remote["spec"] == {"desiredMapping": {"apps": f"apps-{peering.consumer_id}"}}
    assert remote["metadata"]["labels"]["liqo.io/originID"] == peering.consumer_id
    status = {"currentMapping": {"apps": {"remoteNamespace": "apps-x", "phase": "Accepted"}}}
    peering.provider.kubectl(
        *("patch", "namespacemaps", name, "-n", peering.remote_ns, "--type=merge"),
        *("--subresource=status", "-p", json.dumps({"status": status})),
    )
    wait_for(
        "the NamespaceMap status on the consumer",
        lambda: (
            (get_json(peering.consumer, "namespacemaps", name, "-n", peering.local_ns) or {}).get(
                "status"
            )
            == status
        ),
    )

    # A clean shutdown stops the reflectors promptly.
    assert peering.process is not None
    peering.process.send_signal(signal.SIGTERM)
    assert peering.process.wait(30) == 0
    assert "Traceback" not in peering.logs()
