"""The admission webhooks' pieces of the chart: settings, Service, configurations, RBAC."""

from __future__ import annotations

from pathlib import Path

import pytest
from liqo_auth.settings import AuthenticationSettings

from liqo_core.settings import load_settings

from .conftest import RenderFn

KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


def test_on_by_default_behind_the_liqo_webhook_service(render: RenderFn) -> None:
    rendered = render()
    webhook = rendered.settings()["authentication"]["webhook"]
    assert webhook == {
        "enabled": True, "port": 9443, "service": "liqo-webhook", "configuration": "liqo-webhook",
    }  # fmt: skip
    service = rendered.get("Service", "liqo-webhook")
    assert service["metadata"]["namespace"] == "liqo"
    [port] = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (443, 9443)
    deployment = rendered.get("Deployment", "liqo-controller-manager")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"] == selector
    for kind in KINDS:  # owned by the release, filled in by the controller-manager
        assert "webhooks" not in rendered.get(kind, "liqo-webhook")


def test_the_port_is_configurable(render: RenderFn) -> None:
    rendered = render({"webhook": {"port": 10250}})
    assert rendered.settings()["authentication"]["webhook"]["port"] == 10250
    [port] = rendered.get("Service", "liqo-webhook")["spec"]["ports"]
    assert port["targetPort"] == 10250


@pytest.mark.parametrize(
    "values", [{"webhook": {"enabled": False}}, {"authentication": {"enabled": False}}]
)
def test_off_renders_nothing_of_it(render: RenderFn, values: dict[str, object]) -> None:
    rendered = render(values)
    assert rendered.find("Service", "liqo-webhook") is None
    assert all(rendered.find(kind, "liqo-webhook") is None for kind in KINDS)
    assert "webhook" not in (rendered.settings().get("authentication") or {})


def test_the_controller_manager_may_keep_its_configurations(render: RenderFn) -> None:
    grants = {
        (resource, verb)
        for rule in render().controller_manager_rules()
        if "admissionregistration.k8s.io" in rule.get("apiGroups", [])
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        assert {(kind, "create"), (kind, "patch")} <= grants


def test_rendered_webhook_settings_load(render: RenderFn, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(render().settings_text())
    settings = load_settings(config_file=path)
    webhook = settings.section(AuthenticationSettings).webhook
    assert (webhook.enabled, webhook.service, webhook.port) == (True, "liqo-webhook", 9443)


def test_the_schema_refuses_a_bad_port(render: RenderFn) -> None:
    with pytest.raises(Exception, match="port"):
        render({"webhook": {"port": 0}})


def test_the_webhook_port_is_declared_on_the_container(render: RenderFn) -> None:
    rendered = render({"webhook": {"port": 9555}})
    deployment = rendered.get("Deployment", "liqo-controller-manager")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["webhook"] == 9555
    service = rendered.get("Service", "liqo-webhook")
    assert service["spec"]["ports"][0]["targetPort"] == 9555
