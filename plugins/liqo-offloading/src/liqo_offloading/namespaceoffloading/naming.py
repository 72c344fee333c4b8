"""The name of a namespace's twins on the providers (``status.remoteNamespaceName``).

Upstream's rule (``remoteNamespaceName`` of the NamespaceOffloading controller):
``DefaultName`` gives ``<namespace>-<local cluster id>``, ``EnforceSameName`` the
namespace's own name, ``SelectedName`` ``spec.remoteNamespaceName``. Upstream does not
shorten: a DefaultName longer than a namespace name may be (63 characters) could never be
created on a provider, so here it is cut and ends with a hash of the whole (names that
fit are upstream's, character for character).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

DEFAULT_NAME: Final = "DefaultName"
ENFORCE_SAME_NAME: Final = "EnforceSameName"
SELECTED_NAME: Final = "SelectedName"
#: Longest namespace name (an RFC 1123 label).
NAMESPACE_NAME_MAX: Final = 63
_HASH = 8


def mapping_strategy(spec: Mapping[str, Any]) -> str:
    """``spec.namespaceMappingStrategy``, defaulted as the CRD does."""
    return str(spec.get("namespaceMappingStrategy") or DEFAULT_NAME)


def default_name(namespace: str, cluster_id: str) -> str:
    """``<namespace>-<cluster id>``, shortened (prefix + hash) past 63 characters."""
    name = f"{namespace}-{cluster_id}"
    if len(name) <= NAMESPACE_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH]
    head = name[: NAMESPACE_NAME_MAX - _HASH - 1].rstrip("-")
    return f"{head}-{digest}"


def remote_namespace_name(namespace: str, spec: Mapping[str, Any], cluster_id: str) -> str:
    """The twin namespace's name for local ``namespace`` offloaded with ``spec`` from the
    cluster ``cluster_id`` (an unknown strategy falls back to DefaultName, as upstream)."""
    strategy = mapping_strategy(spec)
    if strategy == ENFORCE_SAME_NAME:
        return namespace
    if strategy == SELECTED_NAME:
        return str(spec.get("remoteNamespaceName") or "")
    return default_name(namespace, cluster_id)
