"""The Liqo RuntimeClass: pods asking for it go to virtual nodes (upstream runtime-class.yaml)."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from .conftest import RenderFn

VIRTUAL_NODE_TOLERATION = {
    "key": "virtual-node.liqo.io/not-allowed",
    "operator": "Exists",
    "effect": "NoExecute",
}


def test_the_default_runtime_class_pins_pods_to_virtual_nodes(render: RenderFn) -> None:
    runtime_class = render().get("RuntimeClass", "liqo")
    assert runtime_class["apiVersion"] == "node.k8s.io/v1"
    assert runtime_class["handler"] == "liqo"
    assert runtime_class["scheduling"] == {
        "nodeSelector": {"liqo.io/type": "virtual-node"},
        "tolerations": [VIRTUAL_NODE_TOLERATION],
    }
    labels = runtime_class["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "liqo"
    assert labels["app.kubernetes.io/component"] == "offloading"
    assert "namespace" not in runtime_class["metadata"]  # cluster-scoped


def test_name_handler_labels_and_annotations(render: RenderFn) -> None:
    values = {"offloading": {"runtimeClass": {
        "name": "to-peers", "handler": "peers", "labels": {"team": "a"},
        "annotations": {"note": "x"}}}}  # fmt: skip
    rendered = render(values)
    assert rendered.find("RuntimeClass", "liqo") is None
    runtime_class = rendered.get("RuntimeClass", "to-peers")
    assert runtime_class["handler"] == "peers"
    assert runtime_class["metadata"]["labels"]["team"] == "a"
    assert runtime_class["metadata"]["annotations"] == {"note": "x"}


def test_scheduling_parts_can_be_turned_off(render: RenderFn) -> None:
    no_selector = {"offloading": {"runtimeClass": {"nodeSelector": {"enabled": False}}}}
    scheduling = render(no_selector).get("RuntimeClass", "liqo")["scheduling"]
    assert scheduling == {"tolerations": [VIRTUAL_NODE_TOLERATION]}
    neither = {"offloading": {"runtimeClass": {
        "nodeSelector": {"enabled": False}, "tolerations": {"enabled": False}}}}  # fmt: skip
    assert "scheduling" not in render(neither).get("RuntimeClass", "liqo")


def test_rendered_only_with_offloading(render: RenderFn) -> None:
    assert render({"offloading": {"enabled": False}}).of_kind("RuntimeClass") == []
    disabled = {"offloading": {"runtimeClass": {"enabled": False}}}
    assert render(disabled).of_kind("RuntimeClass") == []


def test_global_labels_and_annotations_reach_it(render: RenderFn) -> None:
    values = {"common": {"globalLabels": {"org": "x"}, "globalAnnotations": {"who": "me"}}}
    meta = render(values).get("RuntimeClass", "liqo")["metadata"]
    assert meta["labels"]["org"] == "x"
    assert meta["annotations"] == {"who": "me"}


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"name": "Not A Name"}, "/offloading/runtimeClass/name"),
        ({"enabeld": True}, "enabeld"),
        ({"tolerations": {"tolerations": [{"operator": "Maybe"}]}}, "operator"),
    ],
)
def test_bad_values_are_refused(render: RenderFn, values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm.HelmError, match=where):
        render({"offloading": {"runtimeClass": values}})
