"""Render the liqo chart with Helm's own engine (helm-python-sdk) for the chart tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

CHART_DIR = Path(__file__).resolve().parents[2] / "charts" / "liqo"
RELEASE = "liqo"
NAMESPACE = "liqo"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    """The objects of one render, with lookups by kind and name."""

    objects: list[Manifest]
    notes: str

    def find(self, kind: str, name: str) -> Manifest | None:
        for obj in self.objects:
            if obj["kind"] == kind and obj["metadata"]["name"] == name:
                return obj
        return None

    def get(self, kind: str, name: str) -> Manifest:
        obj = self.find(kind, name)
        assert obj is not None, f"{kind}/{name} not rendered; got {self.names()}"
        return obj

    def of_kind(self, kind: str) -> list[Manifest]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def names(self) -> list[str]:
        return [f"{obj['kind']}/{obj['metadata']['name']}" for obj in self.objects]

    def settings(self) -> dict[str, Any]:
        """The controller-manager settings file, parsed."""
        config_map = self.get("ConfigMap", "liqo-controller-manager-config")
        parsed: dict[str, Any] = yaml.safe_load(config_map["data"]["config.yaml"])
        return parsed

    def settings_text(self) -> str:
        config_map = self.get("ConfigMap", "liqo-controller-manager-config")
        text: str = config_map["data"]["config.yaml"]
        return text

    def cluster_id(self) -> str:
        value: str = self.get("ConfigMap", "liqo-clusterid-configmap")["data"]["CLUSTER_ID"]
        return value

    def controller_manager_rules(self) -> list[Manifest]:
        rules: list[Manifest] = self.get("ClusterRole", "liqo-controller-manager")["rules"]
        return rules


RenderFn = Callable[..., Rendered]


@pytest.fixture(scope="session")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart: helm.Chart) -> RenderFn:
    """Render the chart with the given values, as `helm template` would."""

    def _render(values: dict[str, Any] | None = None, **options: Any) -> Rendered:
        manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, **options)
        objects: list[Manifest] = []
        for path, text in manifests.items():
            if path.endswith(".yaml"):
                objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
        return Rendered(objects, manifests.get(f"{chart.name}/templates/NOTES.txt", ""))

    return _render
