"""What the module's ``liqoctl`` commands share: command groups, the cluster client,
reads of custom objects, and waiting for the controllers under a spinner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer

from liqo_core.cli.context import get_state

T = TypeVar("T")

GROUP, VERSION = "offloading.liqo.io", "v1beta1"


def group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The ``name`` command group of ``app``, created unless another module added it."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    created = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(created, name=name)
    return created


@contextmanager
def api_client(ctx: typer.Context) -> Iterator[Any]:
    """The local cluster's ``kubernetes`` client (closed on exit)."""
    client = get_state(ctx).api_client()
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]


def status_of(err: BaseException) -> int | None:
    """The HTTP status of a ``kubernetes`` API error (None for other errors)."""
    from kubernetes.client.exceptions import ApiException

    return err.status if isinstance(err, ApiException) else None


def api_message(err: BaseException) -> str:
    """The API server's message of a failed call, on one line."""
    import json

    body = getattr(err, "body", None)
    try:
        message = json.loads(body).get("message") if body else None
    except (ValueError, AttributeError):
        message = None
    text = message or getattr(err, "reason", None) or str(err)
    return " ".join(str(text).split())


def get_custom(client: Any, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
    """The ``offloading.liqo.io`` object, or None when it does not exist."""
    from kubernetes.client import CustomObjectsApi

    try:
        obj: Any = CustomObjectsApi(client).get_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, name
        )
    except Exception as err:
        if status_of(err) == 404:
            return None
        raise
    return dict(obj)


def list_custom(
    client: Any, plural: str, label_selector: str | None = None
) -> list[dict[str, Any]]:
    """Every ``offloading.liqo.io`` object of ``plural`` in the cluster."""
    from kubernetes.client import CustomObjectsApi

    found: Any = CustomObjectsApi(client).list_cluster_custom_object(
        GROUP, VERSION, plural, label_selector=label_selector or ""
    )
    return [dict(item) for item in found.get("items") or []]


def wait_for(
    client: Any, timeout: float, what: str, probe: Callable[[], tuple[T | None, str]]
) -> T:
    """Poll ``probe`` under a spinner until it returns a value (see
    :meth:`liqo_core.peering.PeeringContext.wait`).

    :raises CommandError: At the deadline, naming ``what`` and the last detail, or when
        ``probe`` raises :class:`~liqo_core.peering.PeeringError` (a final failure).
    """
    from liqo_core.cli.peering import progress
    from liqo_core.peering import PeeringContext, PeeringOptions

    waiting = PeeringContext(
        consumer=client,
        provider=None,
        consumer_id="",
        provider_id="",
        consumer_namespace="",
        provider_namespace="",
        options=PeeringOptions(timeout=timeout),
    )
    with progress(waiting):
        return waiting.wait(what, probe)
