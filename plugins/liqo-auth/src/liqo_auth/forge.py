"""Forge what one administrator sends the other in the declarative handshake.

Pure builders (:func:`forge_tenant`, :func:`forge_identity`) and their API-reading
counterparts over a synchronous ``kubernetes`` client, used by ``liqoctl`` and tests:

- on the provider, :func:`create_nonce` / :func:`get_nonce` (``liqoctl create|get nonce``);
- on the consumer, :func:`tenant_for_provider` (``liqoctl generate tenant``) signs the
  provider's nonce and forges the Tenant to apply on the provider;
- on the provider, :func:`identity_for_consumer` (``liqoctl generate identity``) forges the
  Identity to apply on the consumer from the Tenant's status.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any, TypeVar

from liqo_auth import crypto
from liqo_auth.names import (
    CLUSTER_ID_CONFIGMAP,
    CLUSTER_ID_KEY,
    CONTROL_PLANE_IDENTITY_PREFIX,
    KEYS_SECRET,
    NONCE_KEY,
    NONCE_SECRET,
    PRIVATE_KEY,
    PUBLIC_KEY,
    SIGNED_NONCE_KEY,
    SIGNED_NONCE_SECRET,
    default_tenant_namespace,
    tenant_namespace_labels,
    tenant_namespace_selector,
)
from liqo_core.api.authentication_v1beta1 import (
    GROUP,
    VERSION,
    AuthParams,
    Identity,
    IdentitySpec,
    Tenant,
    TenantSpec,
)
from liqo_core.api.consts import (
    NONCE_SECRET_LABEL,
    REMOTE_CLUSTER_ID_LABEL,
    SIGNED_NONCE_SECRET_LABEL,
)
from liqo_core.api.meta import ObjectMeta

#: How long the helpers wait for a controller (nonce generated, nonce signed).
DEFAULT_TIMEOUT = 30.0
T = TypeVar("T")


class ForgeError(RuntimeError):
    """What was asked cannot be forged yet; the message says what is missing."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- pure builders ------------------------------------------------------------------------


def forge_tenant(
    consumer_id: str,
    private_key: crypto.PrivateKey,
    signed_nonce: bytes,
    *,
    namespace: str | None = None,
    proxy_url: str | None = None,
) -> dict[str, Any]:
    """The Tenant a consumer sends: its key, a control-plane CSR and the nonce signature."""
    csr = crypto.make_csr(private_key, consumer_id, crypto.CONTROL_PLANE_ORGANIZATION)
    tenant = Tenant(
        metadata=ObjectMeta(
            name=consumer_id,
            namespace=namespace,
            labels={REMOTE_CLUSTER_ID_LABEL: consumer_id},
        ),
        spec=TenantSpec(
            cluster_id=consumer_id,
            public_key=_b64(crypto.public_key_pem(private_key)),
            csr=_b64(csr),
            signature=_b64(signed_nonce),
            proxy_url=proxy_url,
        ),
    )
    return tenant.to_dict()


def forge_identity(
    provider_id: str,
    auth_params: dict[str, Any],
    remote_tenant_namespace: str,
    *,
    namespace: str | None = None,
) -> dict[str, Any]:
    """The ControlPlane Identity a provider sends, from its Tenant's ``status.authParams``."""
    identity = Identity(
        metadata=ObjectMeta(
            name=f"{CONTROL_PLANE_IDENTITY_PREFIX}{provider_id}",
            namespace=namespace,
            labels={REMOTE_CLUSTER_ID_LABEL: provider_id},
        ),
        spec=IdentitySpec(
            cluster_id=provider_id,
            type="ControlPlane",
            auth_params=AuthParams.model_validate(auth_params),
            namespace=remote_tenant_namespace,
        ),
    )
    return identity.to_dict()


# --- through the API (synchronous kubernetes client) --------------------------------------


def _poll(what: str, probe: Callable[[], T | None], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise ForgeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(delay)  # polling a controller's answer
        delay = min(delay * 2, 1.0)


def _core(api_client: Any) -> Any:
    from kubernetes.client import CoreV1Api

    return CoreV1Api(api_client)


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status", None)


def local_cluster_id(api_client: Any, liqo_namespace: str, configured: str | None = None) -> str:
    """This cluster's id: ``configured``, else ConfigMap ``liqo-clusterid-configmap``."""
    if configured:
        return configured
    try:
        config_map = _core(api_client).read_namespaced_config_map(
            CLUSTER_ID_CONFIGMAP, liqo_namespace
        )
    except Exception as exc:
        if _status(exc) == 404:
            raise ForgeError(
                f"this cluster's id is unknown: no ConfigMap {liqo_namespace}/"
                f"{CLUSTER_ID_CONFIGMAP} and no clusterID setting"
            ) from None
        raise
    value = (config_map.data or {}).get(CLUSTER_ID_KEY)
    if not value:
        raise ForgeError(
            f"ConfigMap {liqo_namespace}/{CLUSTER_ID_CONFIGMAP} has no {CLUSTER_ID_KEY}"
        )
    return str(value)


def find_tenant_namespace(api_client: Any, remote_cluster_id: str) -> str | None:
    """The tenant namespace for a peer, if one exists."""
    namespaces = _core(api_client).list_namespace(
        label_selector=tenant_namespace_selector(remote_cluster_id)
    )
    names = sorted(ns.metadata.name for ns in namespaces.items)
    default = default_tenant_namespace(remote_cluster_id)
    return default if default in names else (names[0] if names else None)


def ensure_tenant_namespace(api_client: Any, remote_cluster_id: str) -> str:
    """Find or create the tenant namespace for a peer."""
    found = find_tenant_namespace(api_client, remote_cluster_id)
    if found is not None:
        return found
    name = default_tenant_namespace(remote_cluster_id)
    body = {"metadata": {"name": name, "labels": tenant_namespace_labels(remote_cluster_id)}}
    core = _core(api_client)
    try:
        core.create_namespace(body)
    except Exception as exc:
        if _status(exc) != 409:
            raise
        core.patch_namespace(
            name, {"metadata": {"labels": tenant_namespace_labels(remote_cluster_id)}}
        )
    return name


def _secret_value(api_client: Any, namespace: str, name: str, key: str) -> bytes | None:
    try:
        secret = _core(api_client).read_namespaced_secret(name, namespace)
    except Exception as exc:
        if _status(exc) == 404:
            return None
        raise
    value = (secret.data or {}).get(key)
    return base64.b64decode(value) if value else None


def _ensure_secret(
    api_client: Any, namespace: str, name: str, labels: dict[str, str], data: dict[str, str]
) -> None:
    body = {"metadata": {"name": name, "namespace": namespace, "labels": labels}, "data": data}
    core = _core(api_client)
    try:
        core.create_namespaced_secret(namespace, body)
    except Exception as exc:
        if _status(exc) != 409:
            raise
        core.replace_namespaced_secret(name, namespace, body)


def create_nonce(api_client: Any, consumer_id: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Provider: ask for a nonce for ``consumer_id`` and return it once generated."""
    namespace = ensure_tenant_namespace(api_client, consumer_id)
    if _secret_value(api_client, namespace, NONCE_SECRET, NONCE_KEY) is None:
        labels = {NONCE_SECRET_LABEL: "true", REMOTE_CLUSTER_ID_LABEL: consumer_id}
        try:
            _core(api_client).create_namespaced_secret(
                namespace,
                {"metadata": {"name": NONCE_SECRET, "namespace": namespace, "labels": labels}},
            )
        except Exception as exc:
            if _status(exc) != 409:
                raise
    return get_nonce(api_client, consumer_id, timeout)


def get_nonce(api_client: Any, consumer_id: str, timeout: float = 0.0) -> str:
    """Provider: the nonce for ``consumer_id`` (waiting up to ``timeout`` for it)."""

    def probe() -> str | None:
        namespace = find_tenant_namespace(api_client, consumer_id)
        if namespace is None:
            return None
        value = _secret_value(api_client, namespace, NONCE_SECRET, NONCE_KEY)
        return value.decode() if value else None

    if timeout <= 0:
        found = probe()
        if found is None:
            raise ForgeError(
                f"no nonce for cluster {consumer_id}: run `liqoctl create nonce` first"
            )
        return found
    return _poll(f"the nonce for cluster {consumer_id}", probe, timeout)


def sign_nonce(
    api_client: Any, provider_id: str, nonce: str | None, timeout: float = DEFAULT_TIMEOUT
) -> bytes:
    """Consumer: have this cluster sign the provider's nonce; return the signature.

    With ``nonce`` the ``liqo-signed-nonce`` Secret is (re)written with it; without, the
    existing Secret is used.
    """
    namespace = ensure_tenant_namespace(api_client, provider_id)
    if nonce is not None:
        current = _secret_value(api_client, namespace, SIGNED_NONCE_SECRET, NONCE_KEY)
        if current != nonce.encode():
            labels = {SIGNED_NONCE_SECRET_LABEL: "true", REMOTE_CLUSTER_ID_LABEL: provider_id}
            _ensure_secret(
                api_client,
                namespace,
                SIGNED_NONCE_SECRET,
                labels,
                {NONCE_KEY: _b64(nonce.encode())},
            )
    elif _secret_value(api_client, namespace, SIGNED_NONCE_SECRET, NONCE_KEY) is None:
        raise ForgeError(f"no nonce of cluster {provider_id} to sign: pass --nonce")
    return _poll(
        f"the signature of cluster {provider_id}'s nonce",
        lambda: _secret_value(api_client, namespace, SIGNED_NONCE_SECRET, SIGNED_NONCE_KEY),
        timeout,
    )


def read_private_key(api_client: Any, liqo_namespace: str) -> crypto.PrivateKey:
    """This cluster's private key (Secret ``authentication-keys``)."""
    pem = _secret_value(api_client, liqo_namespace, KEYS_SECRET, PRIVATE_KEY)
    if pem is None:
        raise ForgeError(
            f"no key pair in {liqo_namespace}/{KEYS_SECRET}: is the authentication module running?"
        )
    return crypto.load_private_key(pem)


def read_public_key(api_client: Any, liqo_namespace: str) -> bytes | None:
    """This cluster's public key PEM, if generated."""
    return _secret_value(api_client, liqo_namespace, KEYS_SECRET, PUBLIC_KEY)


def tenant_for_provider(
    api_client: Any,
    liqo_namespace: str,
    provider_id: str,
    *,
    consumer_id: str | None = None,
    nonce: str | None = None,
    remote_tenant_namespace: str | None = None,
    proxy_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Consumer: the Tenant to apply on ``provider_id`` (``liqoctl generate tenant``)."""
    consumer = local_cluster_id(api_client, liqo_namespace, consumer_id)
    key = read_private_key(api_client, liqo_namespace)
    signature = sign_nonce(api_client, provider_id, nonce, timeout)
    namespace = remote_tenant_namespace or default_tenant_namespace(consumer)
    return forge_tenant(consumer, key, signature, namespace=namespace, proxy_url=proxy_url)


def identity_for_consumer(
    api_client: Any,
    liqo_namespace: str,
    consumer_id: str,
    *,
    provider_id: str | None = None,
    remote_tenant_namespace: str | None = None,
) -> dict[str, Any]:
    """Provider: the Identity to apply on ``consumer_id`` (``liqoctl generate identity``)."""
    from kubernetes.client import CustomObjectsApi

    provider = local_cluster_id(api_client, liqo_namespace, provider_id)
    tenants: dict[str, Any] = CustomObjectsApi(api_client).list_cluster_custom_object(  # type: ignore[assignment]
        GROUP, VERSION, "tenants"
    )
    matching = [
        item
        for item in tenants.get("items") or []
        if (item.get("spec") or {}).get("clusterID") == consumer_id
    ]
    if not matching:
        raise ForgeError(f"no Tenant for cluster {consumer_id}: apply the consumer's Tenant first")
    status = matching[0].get("status") or {}
    params = status.get("authParams") or {}
    if not (params.get("signedCRT") or params.get("token")) or not status.get("tenantNamespace"):
        raise ForgeError(f"the Tenant of cluster {consumer_id} has no credentials yet")
    namespace = remote_tenant_namespace or default_tenant_namespace(provider)
    return forge_identity(provider, params, status["tenantNamespace"], namespace=namespace)
