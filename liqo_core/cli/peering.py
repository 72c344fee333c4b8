"""What the two-cluster ``liqoctl`` commands share: provider flags, context, progress.

``peer``/``unpeer`` (core) and ``authenticate``/``unauthenticate`` (authentication module)
take the consumer from the global ``--kubeconfig/--context`` and the provider from
``--remote-kubeconfig/--remote-context``, collect the enabled modules' steps and run
them under a spinner that shows the current step and what it waits for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from liqo_core.cli.context import (
    ClusterAccessError,
    CommandError,
    get_state,
    new_api_client,
    server_of,
    unreachable,
)
from liqo_core.peering import (
    PeeringContext,
    PeeringError,
    PeeringOptions,
    PeeringStep,
    ordered_steps,
    run_steps,
    select_steps,
    undo_steps,
)

if TYPE_CHECKING:
    from rich.console import Console

#: ConfigMap (Liqo namespace) holding a cluster's id.
CLUSTER_ID_CONFIGMAP = "liqo-clusterid-configmap"
CLUSTER_ID_KEY = "CLUSTER_ID"

RemoteKubeconfig = Annotated[
    str,
    typer.Option(
        "--remote-kubeconfig", help="Kubeconfig of the provider cluster.", show_default=False
    ),
]
RemoteContext = Annotated[
    str | None, typer.Option("--remote-context", help="Context of the provider's kubeconfig.")
]
RemoteNamespace = Annotated[
    str | None,
    typer.Option(
        "--remote-namespace",
        help="Namespace Liqo is installed in on the provider (default: the local one).",
    ),
]
Timeout = Annotated[
    float,
    typer.Option("--timeout", min=0.0, help="Seconds to wait for the controllers, overall."),
]
InBand = Annotated[
    bool, typer.Option("--in-band", help="Reach the provider's API server through the tunnel.")
]
SkipValidation = Annotated[
    bool, typer.Option("--skip-validation", help="Skip the pre-flight checks.")
]


_RESOURCE_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)

Cpu = Annotated[str | None, typer.Option("--cpu", help="CPU to ask for (e.g. 4, 500m).")]
Memory = Annotated[str | None, typer.Option("--memory", help="Memory to ask for (e.g. 8Gi).")]
Pods = Annotated[str | None, typer.Option("--pods", help="Number of pods to ask for.")]
Resource = Annotated[
    list[str] | None,
    typer.Option(
        "--resource",
        metavar="NAME=QUANTITY",
        help="Other resource to ask for, e.g. nvidia.com/gpu=2 (repeatable).",
    ),
]
SliceClass = Annotated[
    str,
    typer.Option(
        "--resource-slice-class", help="ResourceSlice class (empty: the provider's default)."
    ),
]


def requested_resources(
    cpu: str | None, memory: str | None, pods: str | None, others: list[str] | None
) -> dict[str, str]:
    """The resources asked for on the command line, checked.

    :raises CommandError: A malformed ``name=quantity`` or quantity, or a repeated name.
    """
    from liqo_core.kube.quantity import is_quantity

    found: dict[str, str] = {}
    pairs: list[tuple[str, str | None]] = [("cpu", cpu), ("memory", memory), ("pods", pods)]
    for text in others or []:
        key, sep, quantity = text.partition("=")
        if not sep or not key or not _RESOURCE_NAME.match(key):
            raise CommandError(
                f"--resource {text!r}: expected name=quantity (e.g. nvidia.com/gpu=2)"
            )
        pairs.append((key, quantity))
    for name, value in pairs:
        if value is None:
            continue
        if not is_quantity(value):
            raise CommandError(
                f"{name}: {value!r} is not a Kubernetes quantity (e.g. 500m, 4, 8Gi)"
            )
        if name in found:
            raise CommandError(f"resource {name!r} given twice")
        found[name] = value
    return found


def remote_client(kubeconfig: str, context: str | None) -> Any:
    """A ``kubernetes`` ApiClient for the provider."""
    return new_api_client(kubeconfig, context, "--remote-kubeconfig")


def cluster_id(api_client: Any, namespace: str, side: str, flag: str | None = None) -> str:
    """The cluster ID stored in ``namespace`` (ConfigMap ``liqo-clusterid-configmap``).

    :param flag: The option that chose this cluster's kubeconfig, named when it cannot be
        reached (default: ``--remote-kubeconfig`` for the provider, else ``--kubeconfig``).
    """
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException

    try:
        config_map = CoreV1Api(api_client).read_namespaced_config_map(
            CLUSTER_ID_CONFIGMAP, namespace
        )
    except ApiException as err:
        if err.status == 404:
            hint = " (see --remote-namespace)" if side == "provider" else ""
            raise CommandError(
                f"the {side} has no ConfigMap {namespace}/{CLUSTER_ID_CONFIGMAP}: "
                f"is Liqo installed in that namespace?{hint}"
            ) from None
        raise ClusterAccessError(
            f"cannot read the {side}'s cluster ID: {err.status} {err.reason}"
        ) from err
    except Exception as err:  # urllib3/ssl/socket errors: the cluster is not reachable
        default = "--remote-kubeconfig" if side == "provider" else "--kubeconfig"
        raise unreachable(err, server_of(api_client), flag or default) from None
    value = (config_map.data or {}).get(CLUSTER_ID_KEY)
    if not value:
        raise CommandError(f"ConfigMap {namespace}/{CLUSTER_ID_CONFIGMAP} has no {CLUSTER_ID_KEY}")
    return str(value)


def module_steps(ctx: typer.Context, options: PeeringOptions | None = None) -> list[PeeringStep]:
    """The enabled modules' peering steps, ordered by phase; those ``options`` select.

    :raises CommandError: Conflicting steps, or options the steps cannot honour.
    """
    state = get_state(ctx)
    runtime = state.runtime()
    try:
        steps = ordered_steps(runtime.pm.hook.liqo_peering_steps(settings=state.settings()))
        return steps if options is None else select_steps(steps, options)
    except PeeringError as err:
        raise CommandError(str(err)) from err


@contextmanager
def peering_context(
    ctx: typer.Context,
    remote_kubeconfig: str,
    remote_context: str | None,
    remote_namespace: str | None,
    options: PeeringOptions,
) -> Iterator[PeeringContext]:
    """Both clusters' clients and ids; clients are closed on exit."""
    state = get_state(ctx)
    settings = state.settings()
    consumer = state.api_client()
    provider: Any = None
    try:
        provider = remote_client(remote_kubeconfig, remote_context)
        provider_namespace = remote_namespace or settings.namespace
        yield PeeringContext(
            consumer=consumer,
            provider=provider,
            consumer_id=settings.cluster_id
            or cluster_id(consumer, settings.namespace, "consumer", state.kubeconfig_flag()),
            provider_id=cluster_id(provider, provider_namespace, "provider"),
            consumer_namespace=settings.namespace,
            provider_namespace=provider_namespace,
            options=options,
        )
    finally:
        for client in (consumer, provider):
            if client is not None:
                client.close()


@contextmanager
def progress(peering: PeeringContext) -> Iterator[Console]:
    """Show ``peering``'s progress under a spinner; peering errors become one-line errors."""
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    with console.status("starting") as status:

        def report(message: str) -> None:
            prefix = f"{peering.current_step}: " if peering.current_step else ""
            status.update(f"{prefix}{message}")

        peering.report = report
        try:
            yield console
        except PeeringError as err:
            raise CommandError(str(err)) from err


def run_with_progress(
    peering: PeeringContext,
    steps: Sequence[PeeringStep],
    runner: Callable[..., None],
    verb: str,
) -> None:
    """Run ``runner(steps, peering, done)`` under :func:`progress`; a line per finished step.

    :param verb: Printed after each step's name (``done``, ``removed``).
    :raises CommandError: With the step and the reason, when a step fails or times out.
    """
    with progress(peering):
        runner(steps, peering, lambda step: typer.echo(f"{step.name}: {peering.outcome or verb}"))


def drive(
    ctx: typer.Context,
    remote: tuple[str, str | None, str | None],
    options: PeeringOptions,
    steps: Sequence[PeeringStep],
    *,
    undo: bool = False,
) -> str:
    """Run (or undo) ``steps`` against the consumer and the ``remote`` provider.

    :param remote: ``--remote-kubeconfig``, ``--remote-context``, ``--remote-namespace``.
    :return: The provider's cluster ID.
    """
    with peering_context(ctx, *remote, options) as peering:
        if undo:
            run_with_progress(peering, steps, undo_steps, "removed")
        else:
            run_with_progress(peering, steps, run_steps, "done")
        return peering.provider_id
