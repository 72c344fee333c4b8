"""The offloading module's pieces of the chart: the default VkOptionsTemplate, the
virtual kubelets' local ClusterRole, the controller-manager's rights for the VirtualNode
controller, the module's settings and its admission webhooks."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from liqo_offloading.settings import OffloadingSettings

from liqo_core.settings import LiqoSettings

from .conftest import CHART_DIR, NAMESPACE, Manifest, RenderFn

TEMPLATE = "virtual-kubelet-default"
LOCAL_ROLE = "liqo-virtual-kubelet-local"
WEBHOOK = "liqo-offloading-webhook"
KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


def _grants(rules: list[Manifest]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _each(group: str, resource: str, *verbs: str) -> list[tuple[str, str, str]]:
    return [(group, resource, verb) for verb in verbs]


def test_the_default_template_runs_the_controller_manager_image(render: RenderFn) -> None:
    rendered = render({"controllerManager": {"image": {"tag": "v9"}}})
    template = rendered.get("VkOptionsTemplate", TEMPLATE)
    assert template["metadata"]["namespace"] == NAMESPACE
    spec = template["spec"]
    assert spec["containerImage"] == "ghcr.io/liqo-py/liqo:v9"
    assert spec["pullPolicy"] == "IfNotPresent"
    assert (spec["replicas"], spec["createNode"], spec["disableNetworkCheck"]) == (1, True, False)
    assert spec["metricsEnabled"] is False and "metricsAddress" not in spec
    assert spec["resources"]["limits"] == {"memory": "256Mi"}
    assert spec["reflectorsConfig"]["pod"] == {"workers": 10}
    assert spec["reflectorsConfig"]["service"] == {"workers": 3, "type": "DenyList"}
    assert set(spec["reflectorsConfig"]) == {
        "pod", "service", "endpointslice", "ingress", "configmap", "secret",
        "serviceaccount", "persistentvolumeclaim", "event",
    }  # fmt: skip
    assert "metallb.universe.tf/address-pool" in spec["annotationsNotReflected"]
    for key in (
        "extraArgs",
        "extraAnnotations",
        "extraLabels",
        "tolerations",
        "labelsNotReflected",
    ):
        assert key not in spec


def test_virtual_kubelet_values_reach_the_template(render: RenderFn) -> None:
    toleration = {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}
    values: dict[str, Any] = {
        "offloading": {
            "createNode": False,
            "disableNetworkCheck": True,
            "reflection": {"skip": {"labels": ["team"]}, "secret": {"workers": 0}},
            "virtualKubelet": {
                "replicas": 2,
                "extra": {
                    "annotations": {"sandbox.liqo.io/runner": "process"},
                    "labels": {"tier": "vk"},
                    "args": ["--resync-period=5m"],
                    "resources": {"limits": {"memory": "1Gi"}, "requests": {}},
                    "tolerations": [toleration],
                },
                "virtualNode": {"extra": {"labels": {"gpu": "true"}, "annotations": {"a": "b"}}},
            },
        },
        "metrics": {"enabled": True},
    }
    spec = render(values).get("VkOptionsTemplate", TEMPLATE)["spec"]
    assert (spec["replicas"], spec["createNode"], spec["disableNetworkCheck"]) == (2, False, True)
    assert spec["extraAnnotations"] == {"sandbox.liqo.io/runner": "process"}
    assert spec["extraLabels"] == {"tier": "vk"}
    assert spec["extraArgs"] == ["--resync-period=5m"]
    assert spec["resources"]["limits"] == {"memory": "1Gi"}
    assert spec["tolerations"] == [toleration]
    assert spec["nodeExtraLabels"] == {"gpu": "true"}
    assert spec["nodeExtraAnnotations"] == {"a": "b"}
    assert spec["labelsNotReflected"] == ["team"]
    assert spec["reflectorsConfig"]["secret"] == {"workers": 0, "type": "DenyList"}
    assert (spec["metricsEnabled"], spec["metricsAddress"]) == (True, ":5872")


def test_the_template_is_a_valid_vk_options_template(render: RenderFn) -> None:
    from liqo_core.api.offloading_v1beta1 import VkOptionsTemplate

    VkOptionsTemplate.from_dict(render().get("VkOptionsTemplate", TEMPLATE))


def test_the_local_role_grants_what_a_virtual_kubelet_needs(render: RenderFn) -> None:
    role = render().get("ClusterRole", LOCAL_ROLE)
    assert role["metadata"]["labels"]["app.kubernetes.io/name"] == "virtual-kubelet-local"
    grants = _grants(role["rules"])
    needed = [
        *_each("", "nodes", "create", "update"), ("", "nodes/status", "patch"),
        *_each("coordination.k8s.io", "leases", "create", "update"),
        *_each("", "pods", "watch", "delete"), ("", "pods/status", "update"),
        *_each("offloading.liqo.io", "virtualnodes", "watch"),
        *_each("offloading.liqo.io", "namespacemaps", "watch"),
        ("", "secrets", "get"), ("", "events", "create"), ("", "configmaps", "watch"),
        ("", "services", "watch"), ("discovery.k8s.io", "endpointslices", "watch"),
        ("", "serviceaccounts", "get"), ("", "serviceaccounts/token", "create"),
    ]  # fmt: skip
    assert [grant for grant in needed if grant not in grants] == []
    # Reading offloading objects only: the VirtualNode is the controller's to write.
    assert ("offloading.liqo.io", "virtualnodes", "update") not in grants
    assert ("", "secrets", "delete") not in grants


def test_the_controller_manager_may_run_virtual_kubelets(render: RenderFn) -> None:
    rules = render().controller_manager_rules()
    grants = _grants(rules)
    needed = [
        *_each("offloading.liqo.io", "virtualnodes", "watch", "patch"),
        ("offloading.liqo.io", "virtualnodes/status", "patch"),
        ("offloading.liqo.io", "vkoptionstemplates", "watch"),
        *_each("offloading.liqo.io", "namespacemaps", "watch", "create", "delete"),
        *_each("apps", "deployments", "watch", "patch", "delete"),
        *_each("", "serviceaccounts", "watch", "create", "delete"),
        *_each("rbac.authorization.k8s.io", "clusterrolebindings", "watch", "create", "patch",
               "delete"),
        *_each("", "nodes", "watch", "patch", "delete"),
        *_each("", "pods", "list", "delete"), ("", "namespaces", "list"), ("", "events", "create"),
    ]  # fmt: skip
    assert [grant for grant in needed if grant not in grants] == []
    [bind] = [
        rule
        for rule in rules
        if "bind" in rule["verbs"] and LOCAL_ROLE in rule.get("resourceNames", [])
    ]
    assert bind["resourceNames"] == [LOCAL_ROLE]


def test_offloading_off_renders_none_of_it(render: RenderFn) -> None:
    rendered = render({"offloading": {"enabled": False}})
    assert rendered.find("VkOptionsTemplate", TEMPLATE) is None
    assert rendered.find("ClusterRole", LOCAL_ROLE) is None
    assert rendered.find("Service", WEBHOOK) is None
    assert all(rendered.find(kind, WEBHOOK) is None for kind in KINDS)
    names = {n for r in rendered.controller_manager_rules() for n in r.get("resourceNames", [])}
    assert LOCAL_ROLE not in names


def test_the_webhooks_are_served_behind_their_own_service(render: RenderFn) -> None:
    rendered = render()
    service = rendered.get("Service", WEBHOOK)
    assert service["metadata"]["namespace"] == NAMESPACE
    [port] = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (443, 9444)
    selector = rendered.get("Deployment", "liqo-controller-manager")["spec"]["selector"]
    assert service["spec"]["selector"] == selector["matchLabels"]
    for kind in KINDS:
        assert "webhooks" not in rendered.get(kind, WEBHOOK)
    [port] = render({"offloading": {"webhook": {"port": 9555}}}).get("Service", WEBHOOK)["spec"][
        "ports"
    ]
    assert port["targetPort"] == 9555


def test_the_offloading_webhooks_need_no_authentication(render: RenderFn) -> None:
    rendered = render({"authentication": {"enabled": False}})
    assert rendered.find("Service", "liqo-webhook") is None
    assert rendered.get("Service", WEBHOOK)
    grants = _grants(rendered.controller_manager_rules())
    for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        assert {
            ("admissionregistration.k8s.io", kind, verb) for verb in ("create", "patch")
        } <= grants
    off = render({"webhook": {"enabled": False}})
    assert off.find("Service", WEBHOOK) is None
    assert all(off.find(kind, WEBHOOK) is None for kind in KINDS)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"virtualKubelet": {"replicas": -1}}, "/offloading/virtualKubelet/replicas"),
        (
            {"virtualKubelet": {"extra": {"args": ["resync"]}}},
            "/offloading/virtualKubelet/extra/args",
        ),
        (
            {"reflection": {"service": {"workers": 3, "type": "Deny"}}},
            "/offloading/reflection/service",
        ),
        ({"reflection": {"pod": {"workers": -1}}}, "/offloading/reflection/pod/workers"),
        ({"webhook": {"port": 0}}, "/offloading/webhook/port"),
        ({"createNode": "yes"}, "/offloading/createNode"),
        ({"virtualKubelet": {"extra": {"annotations": {"a": 1}}}}, "/offloading/virtualKubelet"),
    ],
)
def test_the_schema_refuses_bad_values(
    render: RenderFn, values: dict[str, Any], where: str
) -> None:
    with pytest.raises(helm.HelmError, match=where):
        render({"offloading": values})


# The settings section: rendered by the named template, read back by the module's model.

PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: offloading-settings-probe
data:
  offloading.yaml: |
    {{- include "liqo.offloading.settings" . | nindent 4 }}
"""


@pytest.fixture(scope="module")
def probe_chart(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A copy of the chart with a template printing the offloading settings."""
    copy = tmp_path_factory.mktemp("chart") / "liqo"
    shutil.copytree(CHART_DIR, copy)
    (copy / "templates" / "zz-offloading-settings-probe.yaml").write_text(PROBE)
    with helm.Chart.load(copy) as chart:
        yield chart


def _settings(chart: Any, values: dict[str, Any] | None = None) -> dict[str, Any]:
    rendered = chart.render(values, name="liqo", namespace=NAMESPACE)
    [text] = [t for p, t in rendered.items() if p.endswith("zz-offloading-settings-probe.yaml")]
    document = yaml.safe_load(text)
    parsed: dict[str, Any] = yaml.safe_load(document["data"]["offloading.yaml"])
    return parsed


def test_the_settings_carry_the_defaults_and_the_webhook(probe_chart: Any, tmp_path: Path) -> None:
    section = _settings(probe_chart)
    assert section == {
        "createNode": True,
        "disableNetworkCheck": False,
        "defaultVkOptionsTemplate": TEMPLATE,
        "runtimeClassName": "liqo",
        "webhook": {"enabled": True, "port": 9444, "service": WEBHOOK, "configuration": WEBHOOK},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"namespace": NAMESPACE, "offloading": section}))
    loaded = LiqoSettings(config_file=path).section(OffloadingSettings)
    assert (loaded.create_node, loaded.default_vk_options_template) == (True, TEMPLATE)
    assert loaded.runtime_class_name == "liqo"
    assert (loaded.webhook.enabled, loaded.webhook.service, loaded.webhook.port) == (
        True,
        WEBHOOK,
        9444,
    )


def test_the_settings_follow_the_values(probe_chart: Any) -> None:
    section = _settings(
        probe_chart,
        {
            "offloading": {
                "createNode": False,
                "disableNetworkCheck": True,
                "runtimeClass": {"name": "offload"},
            },
            "webhook": {"enabled": False},
        },
    )
    assert section == {
        "createNode": False,
        "disableNetworkCheck": True,
        "defaultVkOptionsTemplate": TEMPLATE,
        "runtimeClassName": "offload",
    }
