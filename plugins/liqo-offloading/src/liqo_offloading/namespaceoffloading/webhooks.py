"""The namespace-offloading admission webhooks, served by the module's operator; the rules
are in :mod:`liqo_offloading.namespaceoffloading.rules`.

- ``namespaceoffloading.validate`` (CREATE, UPDATE; persistent): the name must be
  ``offloading``; SelectedName needs ``remoteNamespaceName`` (an RFC 1123 label); the
  mapping strategy and the remote name are immutable; the clusterSelector must be a
  valid NodeSelector; a pod strategy made stricter is admitted with a warning (kopf hands
  handlers a ``warnings`` list that goes into the AdmissionReview response).
- ``pod.mutate`` (CREATE): the pod policy of the namespace's NamespaceOffloading, for
  namespaces labelled ``liqo.io/scheduling-enabled=true``; a pod of such a namespace
  without NamespaceOffloading is refused, as upstream.

kopf's webhook configurations have no ``namespaceSelector``: left alone, every pod
creation of the cluster would go through the pod webhook, and while the controller-manager
is down (failure policy Fail) no pod could be created anywhere, the controller-manager's
own included. So the handler filters by namespace itself (from the informers' caches), the
pod webhook is not persistent (kopf removes it when the operator stops), and
:mod:`.webhookconfig` adds upstream's ``namespaceSelector`` to it in the configuration,
so that after a crash the webhook left behind only concerns offloaded namespaces.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import kopf

from liqo_core import LiqoSettings
from liqo_core.api.consts import LIQO_RUNTIME_CLASS, SCHEDULING_ENABLED_LABEL
from liqo_core.kube import KubeTarget, describe_error, kube_client
from liqo_offloading.namespaceoffloading import rules
from liqo_offloading.namespaceoffloading.paths import (
    NAMESPACE_OFFLOADINGS,
    NAMESPACES,
    named,
    namespaced,
)
from liqo_offloading.namespaceoffloading.shared import Caches
from liqo_offloading.settings import offloading_settings

GROUP, VERSION = "offloading.liqo.io", "v1beta1"
OPERATIONS: list[Literal["CREATE", "UPDATE"]] = ["CREATE", "UPDATE"]
#: Handler id of the pod webhook (kopf names the webhook ``pod.mutate.<configuration>``).
POD_WEBHOOK_ID = "pod.mutate"
INVALID, UNAVAILABLE = 422, 503


NamespaceView = tuple[Mapping[str, str], Mapping[str, Any] | None]
"""A namespace's labels and its NamespaceOffloading (None: none)."""
Fetch = Callable[[str], Awaitable[NamespaceView]]


async def namespace_view(caches: Caches, namespace: str, fetch: Fetch | None) -> NamespaceView:
    """``namespace``'s labels and NamespaceOffloading: from the caches, or from ``fetch``
    (the API) while they are not synced.

    :raises kopf.AdmissionError: Neither can answer.
    """
    if caches.synced:
        return caches.namespace_labels(namespace), caches.offloading(namespace)
    if fetch is None:
        raise kopf.AdmissionError("pod admission is not available yet", code=UNAVAILABLE)
    try:
        return await fetch(namespace)
    except Exception as err:  # the API is unreachable or refuses: no decision possible
        message = f"cannot read namespace {namespace}: {describe_error(err)}"
        raise kopf.AdmissionError(message, code=UNAVAILABLE) from None


async def pod_changes(
    caches: Caches,
    namespace: str,
    pod: Mapping[str, Any],
    runtime_class: str = LIQO_RUNTIME_CLASS,
    fetch: Fetch | None = None,
) -> dict[str, Any]:
    """The ``spec`` fields to set on a new pod of ``namespace`` (empty: none).

    :raises kopf.AdmissionError: The namespace is labelled for offloading but has no (valid)
        NamespaceOffloading, or it cannot be read.
    """
    labels, nsoff = await namespace_view(caches, namespace, fetch)
    if labels.get(SCHEDULING_ENABLED_LABEL) != "true":
        return {}
    if nsoff is None:
        raise kopf.AdmissionError(rules.missing_offloading_message(namespace), code=INVALID)
    try:
        return rules.pod_mutation(dict(pod.get("spec") or {}), rules.spec_of(nsoff), runtime_class)
    except rules.PolicyError as err:
        raise kopf.AdmissionError(
            f"NamespaceOffloading {namespace}/{rules.OFFLOADING_NAME}: {err}", code=INVALID
        ) from None


def api_fetch(target: KubeTarget) -> Fetch:
    """Reads a namespace and its NamespaceOffloading through the API."""

    async def fetch(namespace: str) -> NamespaceView:
        async with kube_client(target) as kube:
            obj = await kube.get(named(NAMESPACES, namespace)) or {}
            labels = dict((obj.get("metadata") or {}).get("labels") or {})
            if labels.get(SCHEDULING_ENABLED_LABEL) != "true":
                return labels, None
            path = namespaced(NAMESPACE_OFFLOADINGS, namespace, rules.OFFLOADING_NAME)
            return labels, await kube.get(path)

    return fetch


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings, caches: Caches) -> None:
    """Register the NamespaceOffloading and pod webhooks."""
    runtime_class = offloading_settings(settings).runtime_class_name

    @kopf.on.validate(
        GROUP, VERSION, "namespaceoffloadings", registry=registry,
        id="namespaceoffloading.validate", operations=OPERATIONS, persistent=True,
    )  # fmt: skip
    def validate_offloading(body: kopf.Body, warnings: list[str], **kwargs: Any) -> None:
        old = kwargs.get("old")
        operation = str(kwargs.get("operation") or "")
        new = dict(body)
        problems = rules.offloading_problems(operation, None if old is None else dict(old), new)
        if problems:
            meta = new.get("metadata") or {}
            raise kopf.AdmissionError(
                f"NamespaceOffloading {meta.get('namespace')}/{meta.get('name')}: "
                + "; ".join(problems),
                code=INVALID,
            )
        if operation == "UPDATE":
            warnings.extend(rules.offloading_warnings(None if old is None else dict(old), new))

    @kopf.on.mutate(
        "v1", "pods", registry=registry, id=POD_WEBHOOK_ID, operations=["CREATE"],
        persistent=False,
    )  # fmt: skip
    async def place_pod(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kwargs: Any) -> None:
        namespace = str(kwargs.get("namespace") or (body.get("metadata") or {}).get("namespace"))
        fetch = api_fetch(memo.kube_target)
        changes = await pod_changes(caches, namespace, dict(body), runtime_class, fetch)
        if changes:
            patch.setdefault("spec", {}).update(changes)
