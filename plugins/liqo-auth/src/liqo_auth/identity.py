"""The ``identity`` controller (consumer): a kubeconfig Secret for each Identity.

Secret ``kubeconfig-<identity>`` (same namespace, owned by the Identity) holds, under
``kubeconfig``, a kubeconfig built from this cluster's private key and the Identity's
``authParams`` (certificate, CA, API server, proxy). It is rewritten whenever they change.
When ``authParams.token`` is set (a token-based identity provider such as
``serviceaccount-token``), the user authenticates with that bearer token instead, and
no client certificate nor key goes into the kubeconfig.
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import quote

import kopf
import yaml

from liqo_auth import crypto
from liqo_auth.keys import read_private_key
from liqo_auth.kube import operator_api, secrets_path
from liqo_auth.names import KUBECONFIG_KEY, KUBECONFIG_SECRET_PREFIX
from liqo_auth.reconcile import Requeue, with_retries
from liqo_core import LiqoSettings
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION, IdentitySpec
from liqo_core.api.consts import (
    IDENTITY_TYPE_LABEL,
    REMOTE_CLUSTER_ID_LABEL,
    REMOTE_TENANT_NAMESPACE_ANNOTATION,
)
from liqo_core.kube import Kube

logger = logging.getLogger(__name__)


def identities_path(namespace: str, name: str | None = None) -> str:
    """REST path of the Identities of ``namespace`` (or of one)."""
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/identities"
    return f"{base}/{quote(name)}" if name else base


def kubeconfig_secret_name(identity: str) -> str:
    """Name of the kubeconfig Secret of Identity ``identity``."""
    return f"{KUBECONFIG_SECRET_PREFIX}{identity}"


def build_kubeconfig(spec: IdentitySpec, private_key_pem: bytes | None, user: str) -> str:
    """A kubeconfig for the provider of ``spec`` (YAML text).

    :param private_key_pem: This cluster's private key (unused with a token).
    :param user: The user name inside the kubeconfig (this cluster's id).
    """
    params = spec.auth_params
    if not (params.token or params.signed_crt) or not params.api_server:
        raise ValueError("the identity has no certificate, token or API server yet")
    credentials: dict[str, str]
    if params.token:
        credentials = {"token": params.token}
    elif private_key_pem:
        credentials = {
            "client-certificate-data": params.signed_crt,
            "client-key-data": base64.b64encode(private_key_pem).decode(),
        }
    else:
        raise ValueError("a certificate identity needs this cluster's private key")
    cluster: dict[str, Any] = {"server": params.api_server}
    if params.ca:
        cluster["certificate-authority-data"] = params.ca
    if params.proxy_url:
        cluster["proxy-url"] = params.proxy_url
    context: dict[str, Any] = {"cluster": spec.cluster_id, "user": user}
    if spec.namespace:
        context["namespace"] = spec.namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": spec.cluster_id, "cluster": cluster}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": spec.cluster_id, "context": context}],
        "current-context": spec.cluster_id,
    }
    return str(yaml.safe_dump(config, sort_keys=False))


async def reconcile(api: Kube, settings: LiqoSettings, namespace: str, name: str) -> bool:
    """Write the Identity's kubeconfig Secret; return whether it changed."""
    identity = await api.get(identities_path(namespace, name))
    if identity is None or identity["metadata"].get("deletionTimestamp"):
        return False
    spec = IdentitySpec.model_validate(identity.get("spec") or {})
    if spec.auth_params.aws_config is not None:
        raise Requeue("AWS IAM identities are not supported yet")
    key_pem = None
    if not spec.auth_params.token:
        key_pem = crypto.private_key_pem(await read_private_key(api, settings.namespace))
    kubeconfig = build_kubeconfig(spec, key_pem, settings.cluster_id or "liqo-consumer")
    secret_name = kubeconfig_secret_name(name)
    labels = {REMOTE_CLUSTER_ID_LABEL: spec.cluster_id, IDENTITY_TYPE_LABEL: spec.type}
    annotations = {REMOTE_TENANT_NAMESPACE_ANNOTATION: spec.namespace or ""}
    data = {KUBECONFIG_KEY: base64.b64encode(kubeconfig.encode()).decode()}
    owner = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Identity",
        "name": name,
        "uid": identity["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "type": "Opaque",
        "data": data,
    }
    changed = True
    if await api.create(secrets_path(namespace), body) is None:
        current = await api.get(secrets_path(namespace, secret_name)) or {}
        meta = current.get("metadata") or {}
        same = (
            current.get("data") == data
            and all((meta.get("labels") or {}).get(k) == v for k, v in labels.items())
            and all((meta.get("annotations") or {}).get(k) == v for k, v in annotations.items())
        )
        if same:
            changed = False
        else:
            patch = {
                "metadata": {
                    "labels": labels,
                    "annotations": annotations,
                    "ownerReferences": [owner],
                },
                "data": data,
            }
            await api.merge_patch(secrets_path(namespace, secret_name), patch)
    ref = {"kubeconfigSecretRef": {"name": secret_name}}
    if (identity.get("status") or {}).get("kubeconfigSecretRef") != ref["kubeconfigSecretRef"]:
        await api.merge_patch(identities_path(namespace, name) + "/status", {"status": ref})
    return changed


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Register the ``identity`` controller."""

    @kopf.on.event(GROUP, VERSION, "identities", registry=registry, id="identity")
    async def identity_changed(
        body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any
    ) -> None:
        if type == "DELETED":
            return  # the kubeconfig Secret is garbage-collected with its owner
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""

        async def work() -> None:
            async with operator_api(memo.kube_target) as api:
                if await reconcile(api, settings, namespace, name):
                    logger.info("Identity %s/%s: kubeconfig Secret written", namespace, name)

        await with_retries(logger, f"Identity {namespace}/{name}", work)
