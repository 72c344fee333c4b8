"""Patch and apply libraries of the API emulator.

JSON merge patch, JSON patch, strategic merge patch, server-side apply and the
``metadata.managedFields`` bookkeeping behind it. Pure functions: they never touch the
store and never mutate their inputs (except :func:`update_managed_fields`, which fills in
the object it is given).
"""

from liqo_core.sandbox.apiserver.patch.errors import ApplyConflict, PatchError
from liqo_core.sandbox.apiserver.patch.managed import (
    apply_server_side,
    normalized_managed_fields,
    update_managed_fields,
)
from liqo_core.sandbox.apiserver.patch.merge import apply_json_patch, apply_merge_patch
from liqo_core.sandbox.apiserver.patch.strategic import apply_strategic_merge_patch

__all__ = [
    "ApplyConflict",
    "PatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_server_side",
    "apply_strategic_merge_patch",
    "normalized_managed_fields",
    "update_managed_fields",
]
