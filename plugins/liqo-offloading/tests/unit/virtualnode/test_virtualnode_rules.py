"""The VirtualNode defaults and refusals (the webhooks' and the controller's rules)."""

from __future__ import annotations

from typing import Any

from liqo_offloading.virtualnode import rules
from liqo_offloading.virtualnode.rules import Defaults

DEFAULTS = Defaults(liqo_namespace="liqo", template="virtual-kubelet-default")


def vn(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "provider", "namespace": "tenant"},
        "spec": {"clusterID": "provider", **spec},
    }


def test_the_template_reference_defaults_to_the_install_default() -> None:
    assert rules.template_ref({}, DEFAULTS) == ("liqo", "virtual-kubelet-default")
    assert rules.template_ref({"vkOptionsTemplateRef": {"name": "gpu"}}, DEFAULTS) == (
        "liqo",
        "gpu",
    )
    ref = {"vkOptionsTemplateRef": {"name": "gpu", "namespace": "ops"}}
    assert rules.template_ref(ref, DEFAULTS) == ("ops", "gpu")


def test_flags_come_from_the_spec_then_the_template_then_the_settings() -> None:
    settings = Defaults("liqo", "t", create_node=False, disable_network_check=True)
    assert rules.create_node({}, {}, settings) is False
    assert rules.create_node({}, {"createNode": True}, settings) is True
    assert rules.create_node({"createNode": False}, {"createNode": True}, settings) is False
    assert rules.disable_network_check({}, {}, settings) is True
    assert rules.disable_network_check({}, {"disableNetworkCheck": False}, settings) is False


def test_the_template_lists_join_the_offloading_patch_without_duplicates() -> None:
    template = {"labelsNotReflected": ["a", "b"], "annotationsNotReflected": ["x"]}
    patch = {"labelsNotReflected": ["b", "c"], "nodeSelector": {"zone": "1"}}
    assert rules.offloading_patch(patch, template) == {
        "labelsNotReflected": ["b", "c", "a"],
        "annotationsNotReflected": ["x"],
        "nodeSelector": {"zone": "1"},
    }
    assert rules.offloading_patch(None, {}) == {}


def test_creation_is_defaulted_whole() -> None:
    template = {"createNode": False, "labelsNotReflected": ["skip"]}
    changes = rules.defaulted_spec({"clusterID": "p"}, template, DEFAULTS, creating=True)
    assert changes == {
        "vkOptionsTemplateRef": {"namespace": "liqo", "name": "virtual-kubelet-default"},
        "createNode": False,
        "disableNetworkCheck": False,
        "offloadingPatch": {"labelsNotReflected": ["skip"]},
    }


def test_an_update_keeps_what_is_set_and_does_not_copy_lists_again() -> None:
    spec = {
        "clusterID": "p",
        "vkOptionsTemplateRef": {"name": "gpu"},
        "createNode": True,
        "disableNetworkCheck": True,
    }
    template = {"labelsNotReflected": ["skip"]}
    assert rules.defaulted_spec(spec, template, DEFAULTS, creating=False) == {}
    assert rules.defaulted_spec(spec, template, DEFAULTS, creating=True) == {
        "offloadingPatch": {"labelsNotReflected": ["skip"]}
    }


def test_without_a_readable_template_the_settings_default_the_flags() -> None:
    changes = rules.defaulted_spec({}, None, DEFAULTS, creating=True)
    assert changes["createNode"] is True
    assert "offloadingPatch" not in changes


def test_a_node_of_that_name_refuses_the_creation() -> None:
    [problem] = rules.create_problems(
        vn(), node_exists=True, template=("liqo", "t"), template_found=True
    )
    assert "a Node named 'provider' exists already" in problem
    assert "\n" not in problem


def test_a_missing_template_refuses_the_creation() -> None:
    [problem] = rules.create_problems(
        vn(), node_exists=False, template=("liqo", "gpu"), template_found=False
    )
    assert "VkOptionsTemplate liqo/gpu not found" in problem
    assert "spec.vkOptionsTemplateRef" in problem
    assert (
        rules.create_problems(vn(), node_exists=False, template=("l", "t"), template_found=True)
        == []
    )


def test_the_cluster_id_is_immutable() -> None:
    [problem] = rules.update_problems(vn(), vn(clusterID="other"))
    assert "spec.clusterID is immutable" in problem
    assert rules.update_problems(vn(), vn(createNode=False)) == []
    deleting = vn(clusterID="other")
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert rules.update_problems(vn(), deleting) == []


def test_pointing_at_a_missing_template_is_refused_on_update() -> None:
    [problem] = rules.update_problems(
        vn(), vn(vkOptionsTemplateRef={"name": "x"}), template=("liqo", "x"), template_found=False
    )
    assert "VkOptionsTemplate liqo/x not found" in problem
