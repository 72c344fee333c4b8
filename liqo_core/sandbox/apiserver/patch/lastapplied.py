"""The bridge between client-side and server-side apply for ``kubectl``.

Kubernetes lets the field manager ``kubectl`` take over, without conflicts, the fields
that ``kubectl.kubernetes.io/last-applied-configuration`` shows were client-side applied,
and keeps that annotation in step with what ``kubectl`` server-side applies, so users can
switch between ``kubectl apply`` and ``kubectl apply --server-side``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from liqo_core.sandbox.apiserver.patch.fieldset import Path, leaves
from liqo_core.sandbox.apiserver.patch.shapes import Struct

__all__ = ["KUBECTL", "LAST_APPLIED", "last_applied_paths", "sync_last_applied"]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
KUBECTL = "kubectl"


def _annotation(obj: dict[str, Any] | None) -> str | None:
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) else None


def last_applied_paths(live: dict[str, Any] | None, shape: Struct) -> set[Path] | None:
    """The field set of ``live``'s last-applied configuration (None if absent or unreadable)."""
    text = _annotation(live)
    if text is None:
        return None
    try:
        config = json.loads(text)
    except ValueError:
        return None
    if not isinstance(config, dict):
        return None
    try:
        return set(leaves(config, shape))
    except ValueError:
        return None


def sync_last_applied(result: dict[str, Any], applied: dict[str, Any]) -> None:
    """Rewrite ``result``'s last-applied annotation (if it has one) to ``applied``."""
    if _annotation(result) is None:
        return
    config = copy.deepcopy(applied)
    meta = config.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"].pop(LAST_APPLIED, None)
        if not meta["annotations"]:
            del meta["annotations"]
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    result["metadata"]["annotations"][LAST_APPLIED] = text
