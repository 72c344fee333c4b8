"""The controller-manager Deployment, its config plumbing and its metrics Service."""

from __future__ import annotations

from typing import Any

from .conftest import NAMESPACE, Manifest, RenderFn


def _deployment(render: RenderFn, values: dict[str, Any] | None = None) -> Manifest:
    return render(values).get("Deployment", "liqo-controller-manager")


def _container(deployment: Manifest) -> Manifest:
    containers: list[Manifest] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _checksum(render: RenderFn, values: dict[str, Any]) -> str:
    annotations = _deployment(render, values)["spec"]["template"]["metadata"]["annotations"]
    value: str = annotations["checksum/config"]
    return value


def test_runs_the_controller_manager_role_with_the_mounted_config(render: RenderFn) -> None:
    deployment = _deployment(render)
    assert deployment["metadata"]["namespace"] == NAMESPACE
    pod = deployment["spec"]["template"]["spec"]
    container = _container(deployment)

    assert [*container["command"], *container["args"]] == [
        "liqo",
        "controller-manager",
        "--config",
        "/etc/liqo/config.yaml",
    ]
    assert pod["serviceAccountName"] == "liqo-controller-manager"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    assert mount["mountPath"] == "/etc/liqo"
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert volume["configMap"]["name"] == "liqo-controller-manager-config"

    env = {item["name"]: item["valueFrom"]["fieldRef"]["fieldPath"] for item in container["env"]}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}


def test_probes_and_ports(render: RenderFn) -> None:
    container = _container(_deployment(render))
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"healthz": 8081, "metrics": 8082, "webhook": 9443}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "healthz"}


def test_runs_unprivileged_on_a_read_only_root(render: RenderFn) -> None:
    deployment = _deployment(render)
    pod_security = deployment["spec"]["template"]["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] != 0
    security = _container(deployment)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert _container(deployment)["resources"]["requests"]["cpu"] == "100m"


def test_selector_matches_pod_labels(render: RenderFn) -> None:
    deployment = _deployment(render)
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert selector["app.kubernetes.io/name"] == "controller-manager"


def test_image_from_values(render: RenderFn) -> None:
    assert _container(_deployment(render))["image"] == "ghcr.io/liqo-py/liqo:1.0.0-dev"
    shared = _container(_deployment(render, {"tag": "v1.2.3", "pullPolicy": "Always"}))
    assert shared["image"] == "ghcr.io/liqo-py/liqo:v1.2.3"
    assert shared["imagePullPolicy"] == "Always"
    own = _container(
        _deployment(
            render,
            {
                "tag": "v1.2.3",
                "controllerManager": {
                    "image": {
                        "name": "registry.example/liqo",
                        "tag": "ipsec",
                        "pullPolicy": "Never",
                    }
                },
            },
        )
    )
    assert own["image"] == "registry.example/liqo:ipsec"
    assert own["imagePullPolicy"] == "Never"


def test_replicas_drive_leader_election(render: RenderFn) -> None:
    single = render()
    assert single.get("Deployment", "liqo-controller-manager")["spec"]["replicas"] == 1
    assert single.settings()["controllerManager"]["leaderElection"]["enabled"] is False

    ha = render({"controllerManager": {"replicas": 3}})
    assert ha.get("Deployment", "liqo-controller-manager")["spec"]["replicas"] == 3
    assert ha.settings()["controllerManager"]["leaderElection"]["enabled"] is True

    forced_off = render({"controllerManager": {"replicas": 2, "config": {"leaderElection": False}}})
    assert forced_off.settings()["controllerManager"]["leaderElection"]["enabled"] is False
    forced_on = render({"controllerManager": {"config": {"leaderElection": True}}})
    assert forced_on.settings()["controllerManager"]["leaderElection"]["enabled"] is True


def test_pods_roll_when_the_config_changes_only(render: RenderFn) -> None:
    base = {"discovery": {"config": {"clusterID": "rome"}}}
    reference = _checksum(render, base)
    assert _checksum(render, {**base, "networking": {"transport": "ipsec"}}) != reference
    assert _checksum(render, {**base, "offloading": {"enabled": False}}) != reference
    # Values that do not reach the settings file leave the pods alone.
    assert _checksum(render, {**base, "controllerManager": {"pod": {"labels": {"a": "b"}}}}) == (
        reference
    )


def test_metrics_service_only_when_enabled(render: RenderFn) -> None:
    assert render().find("Service", "liqo-controller-manager-metrics") is None
    rendered = render({"metrics": {"enabled": True}})
    service = rendered.get("Service", "liqo-controller-manager-metrics")
    assert service["metadata"]["namespace"] == NAMESPACE
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8082, "targetPort": "metrics", "protocol": "TCP"}
    ]
    pod_labels = rendered.get("Deployment", "liqo-controller-manager")["spec"]["template"][
        "metadata"
    ]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_pod_annotations_and_labels(render: RenderFn) -> None:
    values = {"controllerManager": {"pod": {"labels": {"tier": "cp"}, "annotations": {"x": "y"}}}}
    metadata = _deployment(render, values)["spec"]["template"]["metadata"]
    assert metadata["labels"]["tier"] == "cp"
    assert metadata["annotations"]["x"] == "y"
    assert "checksum/config" in metadata["annotations"]
