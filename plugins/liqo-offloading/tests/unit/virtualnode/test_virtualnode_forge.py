"""The virtual kubelet Deployment, ServiceAccount, binding and NamespaceMap a VirtualNode
stands for (contract 1 and 2 of the offloading brief)."""

from __future__ import annotations

from typing import Any

import pytest
from liqo_offloading.virtualnode import forge
from liqo_offloading.virtualnode.forge import Behaviour, ForgeError, Site

SITE = Site(home_cluster_id="consumer", liqo_namespace="liqo", local_pod_cidrs=("10.0.0.0/16",))
ON = Behaviour(create_node=True, disable_network_check=False)


def virtual_node(name: str = "provider", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "offloading.liqo.io/v1beta1",
        "kind": "VirtualNode",
        "metadata": {"name": name, "namespace": "liqo-tenant-provider", "uid": "uid-1"},
        "spec": {"clusterID": "provider", "kubeconfigSecretRef": {"name": "kcfg"}, **spec},
    }


TEMPLATE = {"containerImage": "ghcr.io/liqo-py/liqo:1.0", "extraArgs": ["--resync-period=5m"]}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only


def test_the_deployment_follows_the_contract() -> None:
    deployment = forge.deployment(virtual_node(), TEMPLATE, SITE, ON)
    meta = deployment["metadata"]
    assert (meta["name"], meta["namespace"]) == ("vk-provider", "liqo-tenant-provider")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "virtual-kubelet"
    assert labels["app.kubernetes.io/instance"] == "virtual-kubelet-provider"
    assert labels["liqo.io/remote-cluster-id"] == "provider"
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "virtual-kubelet",
        "app.kubernetes.io/instance": "virtual-kubelet-provider",
    }
    assert meta["ownerReferences"][0]["kind"] == "VirtualNode"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "provider"
    main = container(deployment)
    assert main["name"] == "virtual-kubelet"
    assert main["command"] == ["liqo", "virtual-kubelet"]
    assert main["image"] == "ghcr.io/liqo-py/liqo:1.0"
    env = {e["name"]: e for e in main["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert {"POD_NAME", "POD_NAMESPACE"} <= set(env)
    assert env["LIQO_MODULES"] == {"name": "LIQO_MODULES", "value": ""}
    assert main["args"] == [
        "--foreign-cluster-id=provider",
        "--foreign-kubeconfig-secret-name=kcfg",
        "--nodename=provider",
        "--node-ip=$(POD_IP)",
        "--tenant-namespace=liqo-tenant-provider",
        "--liqo-namespace=liqo",
        "--home-cluster-id=consumer",
        "--local-podcidr=10.0.0.0/16",
        "--create-node=true",
        "--node-check-network=true",
        "--resync-period=5m",
    ]
    assert deployment["spec"]["replicas"] == 1


def test_template_options_reach_the_pod() -> None:
    template = {
        **TEMPLATE,
        "replicas": 2,
        "resources": {"limits": {"memory": "256Mi"}},
        "extraLabels": {"team": "a"},
        "extraAnnotations": {"sandbox.liqo.io/runner": "process"},
        "pullPolicy": "Always",
        "imagePullSecrets": [{"name": "registry"}],
        "tolerations": [{"key": "k", "operator": "Exists"}],
        "nodeExtraLabels": {"zone": "b", "arch": "arm64"},
        "nodeExtraAnnotations": {"note": "x"},
        "metricsEnabled": True,
        "reflectorsConfig": {
            "service": {"workers": 3, "type": "AllowList"},
            "pod": {"workers": 10},
        },
    }
    behaviour = Behaviour(create_node=False, disable_network_check=True)
    deployment = forge.deployment(virtual_node(), template, SITE, behaviour)
    pod_meta = deployment["spec"]["template"]["metadata"]
    assert pod_meta["labels"]["team"] == "a"
    assert pod_meta["annotations"]["sandbox.liqo.io/runner"] == "process"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["tolerations"] == [{"key": "k", "operator": "Exists"}]
    assert deployment["spec"]["replicas"] == 2
    main = container(deployment)
    assert main["resources"] == {"limits": {"memory": "256Mi"}}
    assert main["imagePullPolicy"] == "Always"
    assert main["ports"] == [{"name": "metrics", "containerPort": 8082, "protocol": "TCP"}]
    args = main["args"]
    assert "--create-node=false" in args
    assert "--node-check-network=false" in args
    assert "--node-extra-labels=arch=arm64,zone=b" in args
    assert "--node-extra-annotations=note=x" in args
    assert {"--metrics-enabled", "--metrics-address=:8082"} <= set(args)
    # Upstream's order of reflectors, whatever the template's.
    assert args.index("--pod-reflection-workers=10") < args.index("--service-reflection-workers=3")
    assert "--service-reflection-type=AllowList" in args
    assert args[-1] == "--resync-period=5m"  # extra arguments come last, so they win


def test_classes_enable_their_reflection_with_the_default_class() -> None:
    vn = virtual_node(
        storageClasses=[
            {"storageClassName": "slow"},
            {"storageClassName": "fast", "default": True},
        ],
        ingressClasses=[{"ingressClassName": "nginx"}],
    )
    args = container(forge.deployment(vn, TEMPLATE, SITE, ON))["args"]
    assert args[args.index("--enable-storage") + 1] == "--remote-real-storage-class-name=fast"
    assert args[args.index("--enable-ingress") + 1] == "--remote-real-ingress-class-name=nginx"
    assert "--enable-load-balancer" not in args


def test_a_changed_offloading_patch_rolls_the_pods() -> None:
    plain = forge.deployment(virtual_node(), TEMPLATE, SITE, ON)
    patched = forge.deployment(
        virtual_node(),
        TEMPLATE,
        SITE,
        Behaviour(True, False, offloading_patch={"nodeSelector": {"zone": "a"}}),
    )
    key = "liqo.io/offloading-patch-hash"
    assert plain["spec"]["template"]["metadata"]["annotations"][key] == ""
    digest = patched["spec"]["template"]["metadata"]["annotations"][key]
    assert len(digest) == 64
    assert forge.offloading_patch_hash({"nodeSelector": {"zone": "a"}}) == digest
    hash_key = "offloading.liqo.io/template-hash"
    assert (
        plain["metadata"]["annotations"][hash_key] != patched["metadata"]["annotations"][hash_key]
    )


def test_the_forge_is_deterministic() -> None:
    one = forge.deployment(virtual_node(), TEMPLATE, SITE, ON)
    two = forge.deployment(virtual_node(), dict(TEMPLATE), SITE, ON)
    assert one == two


def test_a_long_name_gives_valid_label_values() -> None:
    name = "a" * 60
    deployment = forge.deployment(virtual_node(name), TEMPLATE, SITE, ON)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert len(labels["app.kubernetes.io/instance"]) <= 63
    assert len(labels["liqo.io/virtual-node"]) <= 63
    other = forge.deployment(virtual_node("a" * 61), TEMPLATE, SITE, ON)
    assert (
        other["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"]
        != labels["app.kubernetes.io/instance"]
    )


def test_the_virtual_node_template_overrides_the_options() -> None:
    vn = virtual_node(
        template={
            "metadata": {"labels": {"extra": "yes"}},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "image": "example.com/vk:2",
                                "resources": {"requests": {"cpu": "100m"}},
                                "args": ["--resync-period=1m", "--node-extra-labels=gpu=true"],
                            }
                        ]
                    }
                }
            },
        }
    )
    deployment = forge.deployment(vn, TEMPLATE, SITE, ON)
    main = container(deployment)
    assert main["image"] == "example.com/vk:2"
    assert main["resources"] == {"requests": {"cpu": "100m"}}
    assert "--resync-period=1m" in main["args"]
    assert "--resync-period=5m" not in main["args"]
    assert "--node-extra-labels=gpu=true" in main["args"]
    assert deployment["metadata"]["labels"]["extra"] == "yes"


@pytest.mark.parametrize(
    ("vn", "template", "site", "message"),
    [
        (virtual_node(), {}, SITE, "containerImage"),
        (virtual_node(clusterID=""), TEMPLATE, SITE, "clusterID"),
        (virtual_node(), TEMPLATE, Site("", "liqo"), "cluster's id"),
    ],
)
def test_what_cannot_be_forged_says_why(
    vn: dict[str, Any], template: dict[str, Any], site: Site, message: str
) -> None:
    with pytest.raises(ForgeError, match=message):
        forge.deployment(vn, template, site, ON)


def test_account_binding_and_namespace_map() -> None:
    vn = virtual_node()
    account = forge.service_account(vn)
    assert (account["metadata"]["name"], account["metadata"]["namespace"]) == (
        "provider",
        "liqo-tenant-provider",
    )
    binding = forge.cluster_role_binding(vn)
    assert binding["metadata"]["name"] == "liqo-node-provider"
    assert binding["roleRef"]["name"] == "liqo-virtual-kubelet-local"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "provider", "namespace": "liqo-tenant-provider"}
    ]
    nm = forge.namespace_map("provider", "liqo-tenant-provider")
    assert nm["metadata"]["name"] == "provider"
    assert nm["metadata"]["labels"] == {
        "liqo.io/remote-cluster-id": "provider",
        "liqo.io/replication": "true",
        "liqo.io/remoteID": "provider",
    }
