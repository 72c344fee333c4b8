"""The CRD replicator's permissions: granted when a module that declares replicated kinds is on.

The replicator runs in the controller-manager's core whenever authentication
(ResourceSlices, Renews) or offloading (NamespaceMaps) is enabled; it watches the
ControlPlane kubeconfig Secrets, sets its finalizers on them and on the local objects, and
writes the peer's status back.
"""

from __future__ import annotations

import pytest

from .conftest import Manifest, RenderFn

SECRETS = [("", "secrets", verb) for verb in ("get", "list", "watch", "patch")]
SLICES_AND_RENEWS = [
    *[
        ("authentication.liqo.io", resource, verb)
        for resource in ("resourceslices", "renews")
        for verb in ("get", "list", "watch", "patch")
    ],
    ("authentication.liqo.io", "resourceslices/status", "update"),
    ("authentication.liqo.io", "renews/status", "update"),
]
NAMESPACE_MAPS = [
    *[("offloading.liqo.io", "namespacemaps", verb) for verb in ("get", "list", "watch", "patch")],
    ("offloading.liqo.io", "namespacemaps/status", "update"),
]


def allows(rules: list[Manifest], group: str, resource: str, verb: str) -> bool:
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        and not rule.get("resourceNames")
        for rule in rules
    )  # fmt: skip


def rules_with(render: RenderFn, authentication: bool, offloading: bool) -> list[Manifest]:
    values = {
        "networking": {"enabled": False},
        "authentication": {"enabled": authentication},
        "offloading": {"enabled": offloading},
    }
    return render(values).controller_manager_rules()


@pytest.mark.parametrize(
    ("authentication", "offloading"), [(True, False), (False, True), (True, True)]
)
def test_the_replicator_is_granted_with_either_module(
    render: RenderFn, authentication: bool, offloading: bool
) -> None:
    rules = rules_with(render, authentication, offloading)
    wanted = [*SECRETS]
    wanted += SLICES_AND_RENEWS if authentication else []
    wanted += NAMESPACE_MAPS if offloading else []
    missing = [need for need in wanted if not allows(rules, *need)]
    assert not missing, missing


def test_offloading_alone_grants_no_authentication_kinds(render: RenderFn) -> None:
    rules = rules_with(render, authentication=False, offloading=True)
    assert not any(allows(rules, *need) for need in SLICES_AND_RENEWS)


def test_neither_module_grants_the_replicator_nothing(render: RenderFn) -> None:
    rules = rules_with(render, authentication=False, offloading=False)
    assert not any(allows(rules, *need) for need in [*SECRETS, *SLICES_AND_RENEWS, *NAMESPACE_MAPS])
