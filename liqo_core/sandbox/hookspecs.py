# mypy: disable-error-code="empty-body"
# (pluggy never calls a spec's body: every spec is a signature and a docstring.)
"""Hook specifications of the local sandbox (``liqoctl sandbox``), a test bed.

These hooks are not part of the production contract (:mod:`liqo_core.hookspecs`): only
the sandbox adds them to its plugin manager (``load_runtime(settings,
hookspecs=[liqo_core.sandbox.hookspecs])``). A plugin implements them with
``@hookimpl(optionalhook=True)``, so that production processes, which do not know
these specs, still load it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from liqo_core.hookspecs import hookspec

if TYPE_CHECKING:
    from liqo_core.sandbox.state import ClusterInfo
    from liqo_core.settings import LiqoSettings


@hookspec
def liqo_sandbox_components(
    cluster: ClusterInfo, settings: LiqoSettings
) -> list[Mapping[str, Any]]:
    """Return extra Kubernetes manifests the local sandbox applies for this plugin.

    Called by ``liqoctl sandbox up`` for each sandbox cluster, once the chart is installed
    there, for every plugin the installed settings enable (in start order); the manifests
    are server-side applied in the order returned, and a namespaced manifest without
    ``metadata.namespace`` goes to the Liqo namespace. Return things a real cluster would
    already have and the sandbox lacks; never what the chart installs.

    **Provisional**: may change before 1.0.

    :param cluster: The sandbox cluster: ``name``, ``cluster_id``, ``pod_cidr``,
        ``service_cidr``, ``kubeconfig`` and ``nodes``.
    :param settings: The settings the cluster's Liqo controller-manager runs with.
    :return: Manifests (plain dicts with ``apiVersion``, ``kind`` and ``metadata.name``)
        to apply, in order; an empty list for none.
    """
