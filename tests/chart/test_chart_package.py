"""The chart as a package: values schema, `helm lint`, and the CRDs it installs."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
import yaml

from .conftest import CHART_DIR, NAMESPACE, RenderFn

# Every bad value must fail the release with a message that names it.
BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"controllerManager": {"replicas": -1}}, "/controllerManager/replicas"),
    ({"controllerManager": {"replicas": "two"}}, "/controllerManager/replicas"),
    ({"networking": {"enabled": "yes"}}, "/networking/enabled"),
    ({"authentication": {"enabled": 1}}, "/authentication/enabled"),
    ({"offloading": {"enabled": None}}, "'/offloading': missing property 'enabled'"),
    ({"networking": {"transport": "Wire Guard"}}, "/networking/transport"),
    ({"extraModules": [{"name": "networking"}]}, "/extraModules/0/name"),
    ({"extraModules": [{"name": "core"}]}, "/extraModules/0/name"),
    ({"extraModules": [{"name": "namespace"}]}, "/extraModules/0/name"),
    ({"extraModules": [{"options": {}}]}, "missing property 'name'"),
    ({"extraModules": [{"name": "w", "rules": [{"apiGroups": [""]}]}]}, "/extraModules/0/rules/0"),
    ({"networking": {"transport": ""}}, "/networking/transport"),
    ({"networking": {"transprot": "ipsec"}}, "transprot"),
    ({"modules": ["networking"]}, "modules"),
    ({"offloading": {"enabeld": False}}, "enabeld"),
    (
        {"networking": {"gatewayTemplates": {"wireguard": {"implementation": "kernal"}}}},
        "/networking/gatewayTemplates/wireguard/implementation",
    ),
    ({"networking": {"transport": "IPsec"}}, "/networking/transport"),
    (
        {"offloading": {"defaultNodeResources": {"cpu": "lots"}}},
        "/offloading/defaultNodeResources/cpu",
    ),
    ({"discovery": {"config": {"clusterID": "Not_A_Label"}}}, "/discovery/config/clusterID"),
    ({"controllerManager": {"image": {"name": ""}}}, "/controllerManager/image/name"),
    ({"controllerManager": {"config": {"leaderElection": "auto"}}}, "leaderElection"),
    ({"common": {"globalLabels": {"liqo.io/managed": True}}}, "/common/globalLabels"),
    # The authentication module's values.
    ({"authentication": {"identityProvider": "Kubernetes CSR"}}, "identityProvider"),
    ({"authentication": {"identityProvider": ""}}, "identityProvider"),
    ({"authentication": {"credentialLifetime": "forever"}}, "credentialLifetime"),
    ({"authentication": {"credentialLifetime": "0"}}, "credentialLifetime"),
    ({"authentication": {"credentialLifetime": 0}}, "credentialLifetime"),
    ({"authentication": {"credentialLifetime": -60}}, "credentialLifetime"),
    ({"controllerManager": {"config": {"defaultLimitsEnforcement": "hard"}}}, "Enforcement"),
    ({"controllerManager": {"config": {"defaultLimitsEnforcement": ""}}}, "Enforcement"),
    ({"apiServer": {"address": "liqo.example.com:6443"}}, "/apiServer/address"),
    ({"apiServer": {"address": "http://liqo.example.com"}}, "/apiServer/address"),
    ({"apiServer": {"ca": "not a certificate"}}, "/apiServer/ca"),
    ({"apiServer": {"trustedCA": True}}, "trustedCA"),
    ({"discovery": {"config": {"clusterLabels": {"bad key!": "x"}}}}, "clusterLabels"),
    ({"discovery": {"config": {"clusterLabels": {"zone": "a" * 64}}}}, "clusterLabels"),
    ({"discovery": {"config": {"clusterLabels": {"zone": 1}}}}, "clusterLabels"),
]


# Every value of the authentication module set.
AUTHENTICATION_VALUES: dict[str, Any] = {
    "authentication": {"identityProvider": "serviceaccount-token", "credentialLifetime": "24h"},
    "apiServer": {"address": "https://liqo.example.com:6443"},
    "discovery": {"config": {"clusterLabels": {"topology.kubernetes.io/zone": "a"}}},
    "controllerManager": {"config": {"defaultLimitsEnforcement": "Hard"}},
}


@pytest.mark.parametrize(("values", "named"), BAD_VALUES)
def test_bad_value_fails_the_render_naming_it(
    render: RenderFn, values: dict[str, Any], named: str
) -> None:
    with pytest.raises(helm.HelmValuesError) as failure:
        render(values)
    assert named in str(failure.value)


@pytest.mark.parametrize(("values", "named"), BAD_VALUES[:4])
def test_bad_value_fails_lint(values: dict[str, Any], named: str) -> None:
    report = helm.lint(CHART_DIR, values, strict=True, namespace=NAMESPACE)
    assert report["errors"]
    assert any(named in error for error in report["errors"])


def test_default_values_pass_the_schema(chart: helm.Chart) -> None:
    schema = chart.schema
    assert schema is not None
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    chart.validate_schema(chart.values)


@pytest.mark.parametrize(
    "values",
    [
        None,
        {"networking": {"enabled": False}},
        {"authentication": {"enabled": False}},
        {"offloading": {"enabled": False}},
        {
            "networking": {"enabled": False},
            "authentication": {"enabled": False},
            "offloading": {"enabled": False},
        },
        {"networking": {"transport": "ipsec"}, "metrics": {"enabled": True}},
        {"controllerManager": {"replicas": 2}, "discovery": {"config": {"clusterID": "c1"}}},
        AUTHENTICATION_VALUES,
        {**AUTHENTICATION_VALUES, "authentication": {"enabled": False}},
    ],
)
def test_lint_is_clean_in_strict_mode(values: dict[str, Any] | None) -> None:
    report = helm.lint(CHART_DIR, values, strict=True, namespace=NAMESPACE)
    assert report["total_charts_linted"] == 1
    assert report["errors"] == []
    # Severity 2 is a warning, 3 an error; strict mode treats warnings as errors.
    assert [msg for msg in report["messages"] if msg["severity"] >= 2] == []


def test_chart_metadata(chart: helm.Chart) -> None:
    metadata = chart.metadata
    assert metadata["apiVersion"] == "v2"
    assert metadata["name"] == "liqo"
    assert metadata["version"] == "1.0.0-dev"
    assert metadata["appVersion"]


def test_chart_ships_the_crds_outside_the_templates(chart: helm.Chart, render: RenderFn) -> None:
    """Helm installs crds/ before the templates; the CRDs must not be templated twice."""
    on_disk = sorted(
        f"liqo/{path.relative_to(CHART_DIR).as_posix()}"
        for path in (CHART_DIR / "crds").rglob("*")
        if path.suffix in {".yaml", ".yml", ".json"}
    )
    assert on_disk, "charts/liqo/crds/ holds no CRD manifests"
    shipped = chart.crds
    assert sorted(crd["filename"] for crd in shipped) == on_disk

    groups: set[str] = set()
    for crd in shipped:
        for doc in yaml.safe_load_all(crd["data"]):
            if not doc:
                continue
            assert doc["apiVersion"] == "apiextensions.k8s.io/v1", crd["filename"]
            assert doc["kind"] == "CustomResourceDefinition", crd["filename"]
            groups.add(doc["spec"]["group"])
    assert all(group.endswith("liqo.io") for group in groups)
    assert {"core.liqo.io", "authentication.liqo.io", "offloading.liqo.io"} <= groups
    assert render().of_kind("CustomResourceDefinition") == []


def _crd_plurals(chart: helm.Chart) -> set[tuple[str, str]]:
    plurals: set[tuple[str, str]] = set()
    for crd in chart.crds:
        for doc in yaml.safe_load_all(crd["data"]):
            if doc:
                plurals.add((doc["spec"]["group"], doc["spec"]["names"]["plural"]))
    return plurals


def test_rbac_names_only_existing_liqo_resources(chart: helm.Chart, render: RenderFn) -> None:
    """A typo in a rule would silently grant nothing: every Liqo resource named is a CRD."""
    plurals = _crd_plurals(chart)
    rendered = render()
    for role in rendered.of_kind("ClusterRole"):
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                # metrics.liqo.io is served by an aggregated API, not by a CRD.
                if not group.endswith("liqo.io") or group == "metrics.liqo.io":
                    continue
                for resource in rule["resources"]:
                    base = resource.split("/")[0]
                    assert base == "*" or (group, base) in plurals, (
                        role["metadata"]["name"],
                        group,
                        resource,
                    )


def test_controller_manager_reaches_every_liqo_crd(chart: helm.Chart, render: RenderFn) -> None:
    granted: set[tuple[str, str]] = set()
    for rule in render().controller_manager_rules():
        if "watch" in rule["verbs"]:
            granted.update((g, r) for g in rule["apiGroups"] for r in rule["resources"])
    for group, plural in _crd_plurals(chart):
        assert (group, plural) in granted or (group, "*") in granted, (group, plural)
