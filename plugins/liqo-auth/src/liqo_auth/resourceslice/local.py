"""The ``resourceslice_local`` controller (consumer): complete the slices this cluster asks for.

A local slice (labels ``liqo.io/replication=true``, ``liqo.io/remoteID``) gets
``spec.consumerClusterID`` (this cluster), ``spec.providerClusterID`` (its
``liqo.io/remote-cluster-id`` label, else its namespace's) and ``spec.csr``: a CSR for
``CN=<slice>-<hex of sha256(consumer)[:6]>, O=<consumer>`` signed with this cluster's
private key. A CSR that is still right is kept.
"""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import quote

import kopf

from liqo_auth import crypto
from liqo_auth.keys import read_private_key
from liqo_auth.reconcile import Requeue
from liqo_auth.resourceslice.common import (
    LOCAL_SLICE_LABELS,
    labels_of,
    on_slice_event,
    slice_common_name,
    slices_path,
)
from liqo_core import LiqoSettings
from liqo_core.api.consts import REMOTE_CLUSTER_ID_LABEL
from liqo_core.kube import JSONObject, Kube

logger = logging.getLogger(__name__)


def csr_is_current(
    csr_b64: str | None, common_name: str, consumer: str, key: crypto.PrivateKey
) -> bool:
    """Whether the slice's CSR already asks for ``common_name``/``consumer`` with ``key``."""
    if not csr_b64:
        return False
    try:
        pem = base64.b64decode(csr_b64)
    except (ValueError, binascii.Error):
        return False
    return crypto.check_csr(pem, common_name, consumer, key.public_key()) is None


async def provider_of(api: Kube, body: JSONObject) -> str | None:
    """The provider a slice is for: its label, else its namespace's label."""
    provider = labels_of(body).get(REMOTE_CLUSTER_ID_LABEL)
    if provider:
        return provider
    namespace = await api.get(f"/api/v1/namespaces/{quote(body['metadata']['namespace'])}")
    return labels_of(namespace or {}).get(REMOTE_CLUSTER_ID_LABEL)


async def reconcile(api: Kube, settings: LiqoSettings, namespace: str, name: str) -> bool:
    """Fill in the slice's ids and CSR; return whether the spec changed."""
    body = await api.get(slices_path(namespace, name))
    if body is None or body["metadata"].get("deletionTimestamp"):
        return False
    consumer = settings.cluster_id
    if not consumer:
        raise Requeue("this cluster has no clusterID")
    spec = body.get("spec") or {}
    patch: JSONObject = {}
    if spec.get("consumerClusterID") != consumer:
        patch["consumerClusterID"] = consumer
    provider = await provider_of(api, body)
    if provider and not spec.get("providerClusterID"):
        patch["providerClusterID"] = provider
    common_name = slice_common_name(name, consumer)
    try:
        key = await read_private_key(api, settings.namespace)
    except LookupError as err:
        raise Requeue(str(err)) from None
    if not csr_is_current(spec.get("csr"), common_name, consumer, key):
        csr = crypto.make_csr(key, common_name, consumer)
        patch["csr"] = base64.b64encode(csr).decode()
    if not patch:
        return False
    await api.merge_patch(slices_path(namespace, name), {"spec": patch})
    return True


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Register the ``resourceslice_local`` controller."""

    async def fill_in(api: Kube, namespace: str, name: str) -> str | None:
        return "ids and CSR filled in" if await reconcile(api, settings, namespace, name) else None

    on_slice_event(registry, "resourceslice_local", LOCAL_SLICE_LABELS, fill_in, logger)
