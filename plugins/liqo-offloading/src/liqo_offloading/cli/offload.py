"""``liqoctl offload namespace`` / ``unoffload namespace`` (upstream ``pkg/liqoctl/offload``).

``offload`` creates (or updates) the namespace's NamespaceOffloading ``offloading`` and,
unless ``--no-wait``, waits until the controller reports it ``Ready`` (or
``NoClusterSelected``, with a warning) for the current generation; ``SomeFailed`` and
``AllFailed`` end it with an error naming the peers. ``-o yaml|json`` prints the
resource instead. ``unoffload`` deletes it and waits until it is gone (the twins were
deleted on every provider).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from liqo_core.cli.context import CommandError
from liqo_core.cli.output import OUTPUT_HELP, OutputFormat, print_data
from liqo_offloading.cli.common import (
    GROUP,
    VERSION,
    api_client,
    api_message,
    get_custom,
    group,
    status_of,
    wait_for,
)
from liqo_offloading.cli.selectors import SelectorError, cluster_selector

OFFLOADING = "offloading"
PLURAL = "namespaceoffloadings"
PodStrategy = Literal["LocalAndRemote", "Remote", "Local"]
MappingStrategy = Literal["DefaultName", "EnforceSameName", "SelectedName"]
DONE_PHASES = ("Ready", "NoClusterSelected")
FAILED_PHASES = ("SomeFailed", "AllFailed")

Names = Annotated[
    list[str] | None,
    typer.Argument(help="Namespaces to act on.", show_default=False, metavar="NAME..."),
]
NamespaceSelector = Annotated[
    str | None,
    typer.Option(
        "--ns-selector",
        help="Label selector choosing the namespaces instead of NAME (e.g. team=a).",
    ),
]
Wait = Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the controllers to finish.")]


def namespace_offloading(
    namespace: str,
    *,
    pod_strategy: str,
    mapping_strategy: str,
    remote_name: str | None,
    selector: dict[str, Any],
) -> dict[str, Any]:
    """The NamespaceOffloading manifest of ``namespace``."""
    spec: dict[str, Any] = {
        "namespaceMappingStrategy": mapping_strategy,
        "podOffloadingStrategy": pod_strategy,
        "clusterSelector": selector,
    }
    if remote_name:
        spec["remoteNamespaceName"] = remote_name
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NamespaceOffloading",
        "metadata": {"name": OFFLOADING, "namespace": namespace},
        "spec": spec,
    }


def immutable_problem(live: dict[str, Any], desired: dict[str, Any]) -> str | None:
    """Why ``live`` cannot become ``desired`` in place (the naming is fixed at creation)."""
    have, want = live.get("spec") or {}, desired["spec"]
    have_strategy = have.get("namespaceMappingStrategy") or "DefaultName"
    if have_strategy != want["namespaceMappingStrategy"]:
        return (
            f"namespace {desired['metadata']['namespace']} is offloaded with "
            f"--namespace-mapping-strategy {have_strategy}, which cannot change: "
            "unoffload it first"
        )
    if (have.get("remoteNamespaceName") or None) != want.get("remoteNamespaceName"):
        return (
            f"namespace {desired['metadata']['namespace']} is offloaded as "
            f"{have.get('remoteNamespaceName')!r}, which cannot change: unoffload it first"
        )
    return None


def offloading_detail(nsoff: dict[str, Any] | None) -> str:
    """The controller's view of a NamespaceOffloading, for progress and errors."""
    if nsoff is None:
        return "the NamespaceOffloading does not exist"
    status = nsoff.get("status") or {}
    if status.get("observedGeneration") != (nsoff.get("metadata") or {}).get("generation"):
        return "the controller has not processed the latest change yet"
    phase = status.get("offloadingPhase") or "no phase yet"
    pending = []
    for cluster, conditions in sorted((status.get("remoteNamespacesConditions") or {}).items()):
        ready = next((c for c in conditions or [] if c.get("type") == "Ready"), None)
        if ready is not None and ready.get("status") != "True":
            pending.append(f"{cluster}: {ready.get('reason')}")
    return f"{phase}" + (f" ({', '.join(pending)})" if pending else "")


def _namespaces(client: Any, names: list[str] | None, selector: str | None) -> list[str]:
    if not names and not selector:
        raise CommandError("give the namespace NAME(s) or --ns-selector")
    if names and selector:
        raise CommandError("give either namespace NAME(s) or --ns-selector, not both")
    if names:
        return list(dict.fromkeys(names))
    from kubernetes.client import CoreV1Api

    try:
        found = CoreV1Api(client).list_namespace(label_selector=selector)
    except Exception as err:
        if status_of(err) == 400:
            raise CommandError(f"--ns-selector {selector!r}: {api_message(err)}") from None
        raise
    return [str(ns.metadata.name) for ns in found.items if ns.metadata is not None]


def _check_namespace(client: Any, namespace: str) -> None:
    from kubernetes.client import CoreV1Api

    try:
        CoreV1Api(client).read_namespace(namespace)
    except Exception as err:
        if status_of(err) == 404:
            raise CommandError(f"namespace {namespace} does not exist") from None
        raise


def _apply(client: Any, body: dict[str, Any]) -> str | None:
    """Create or update the NamespaceOffloading; returns its previous pod strategy."""
    from kubernetes.client import CustomObjectsApi

    api = CustomObjectsApi(client)
    namespace = body["metadata"]["namespace"]
    live = get_custom(client, PLURAL, namespace, OFFLOADING)
    try:
        if live is None:
            api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
            return None
        problem = immutable_problem(live, body)
        if problem:
            raise CommandError(problem)
        if (live.get("metadata") or {}).get("deletionTimestamp"):
            raise CommandError(f"namespace {namespace} is being unoffloaded: wait and retry")
        patch = {"spec": body["spec"]}
        api.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, OFFLOADING, patch)
    except CommandError:
        raise
    except Exception as err:
        if status_of(err) in (400, 403, 409, 422):
            raise CommandError(f"namespace {namespace}: {api_message(err)}") from None
        raise
    return str((live.get("spec") or {}).get("podOffloadingStrategy") or "LocalAndRemote")


def _offloaded(client: Any, namespace: str, timeout: float) -> str:
    def probe() -> tuple[str | None, str]:
        nsoff = get_custom(client, PLURAL, namespace, OFFLOADING)
        detail = offloading_detail(nsoff)
        status = (nsoff or {}).get("status") or {}
        current = status.get("observedGeneration") == ((nsoff or {}).get("metadata") or {}).get(
            "generation"
        )
        phase = status.get("offloadingPhase")
        if nsoff is not None and current and phase in FAILED_PHASES:
            from liqo_core.peering import PeeringError

            raise PeeringError(f"the offloading of namespace {namespace} failed: {detail}")
        return (str(phase) if current and phase in DONE_PHASES else None), detail

    return wait_for(client, timeout, f"the offloading of namespace {namespace}", probe)


def offload_namespace(
    ctx: typer.Context,
    names: Names = None,
    *,
    namespace_mapping_strategy: Annotated[
        MappingStrategy,
        typer.Option(
            "--namespace-mapping-strategy",
            help="Names of the remote namespaces: DefaultName (<name>-<cluster id>), "
            "EnforceSameName or SelectedName (--remote-namespace-name).",
        ),
    ] = "DefaultName",
    remote_namespace_name: Annotated[
        str | None,
        typer.Option("--remote-namespace-name", help="Remote namespace name (with SelectedName)."),
    ] = None,
    pod_offloading_strategy: Annotated[
        PodStrategy,
        typer.Option(
            "--pod-offloading-strategy",
            help="Where the namespace's pods may run: LocalAndRemote, Remote or Local.",
        ),
    ] = "LocalAndRemote",
    selector: Annotated[
        list[str] | None,
        typer.Option(
            "--selector",
            "-l",
            help="Labels of the virtual nodes to offload to, e.g. 'region in (eu,us), "
            "!staging' (repeatable: alternatives; default: every peer).",
        ),
    ] = None,
    ns_selector: NamespaceSelector = None,
    wait: Wait = True,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.0, help="Seconds to wait, per namespace.")
    ] = 20.0,
    output: Annotated[OutputFormat | None, typer.Option("--output", "-o", help=OUTPUT_HELP)] = None,
) -> None:
    """Offload namespaces to the peers whose virtual nodes match --selector."""
    try:
        clusters = cluster_selector(selector)
    except SelectorError as err:
        raise CommandError(f"--selector {err}") from None
    if namespace_mapping_strategy == "SelectedName" and not remote_namespace_name:
        raise CommandError(
            "--namespace-mapping-strategy SelectedName needs --remote-namespace-name"
        )
    if remote_namespace_name and namespace_mapping_strategy != "SelectedName":
        raise CommandError(
            "--remote-namespace-name needs --namespace-mapping-strategy SelectedName"
        )
    if remote_namespace_name and (ns_selector or len(names or []) > 1):
        raise CommandError("--remote-namespace-name works with a single namespace only")

    def manifest(namespace: str) -> dict[str, Any]:
        return namespace_offloading(
            namespace,
            pod_strategy=pod_offloading_strategy,
            mapping_strategy=namespace_mapping_strategy,
            remote_name=remote_namespace_name,
            selector=clusters,
        )

    if output is not None and not ns_selector:
        for namespace in _namespaces(None, names, None):
            print_data(manifest(namespace), output)
        return
    with api_client(ctx) as client:
        namespaces = _namespaces(client, names, ns_selector)
        if not namespaces:
            typer.echo("No namespace matches --ns-selector: nothing to offload.")
        for namespace in namespaces:
            if output is not None:
                print_data(manifest(namespace), output)
                continue
            _check_namespace(client, namespace)
            before = _apply(client, manifest(namespace))
            typer.echo(f"Offloading of namespace {namespace} enabled.")
            if before and stricter(before, pod_offloading_strategy):
                typer.echo(
                    "Warning: the pod offloading strategy is more restrictive than before: "
                    "existing pods violating it keep running until recreated.",
                    err=True,
                )
            if not wait:
                continue
            if _offloaded(client, namespace, timeout) == "NoClusterSelected":
                typer.echo(
                    f"Warning: namespace {namespace} is offloaded, but no peer's virtual "
                    "node matches the selector.",
                    err=True,
                )
            else:
                typer.echo(f"Namespace {namespace} offloaded: its remote namespaces are ready.")


def stricter(before: str, after: str) -> bool:
    """Whether the pod strategy became more restrictive (upstream's warning: any change
    to something other than LocalAndRemote)."""
    return after not in ("LocalAndRemote", before)


def unoffload_namespace(
    ctx: typer.Context,
    names: Names = None,
    *,
    ns_selector: NamespaceSelector = None,
    wait: Wait = True,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.0, help="Seconds to wait, per namespace.")
    ] = 120.0,
) -> None:
    """Stop offloading namespaces: their twins are deleted on every peer."""
    from kubernetes.client import CustomObjectsApi

    with api_client(ctx) as client:
        namespaces = _namespaces(client, names, ns_selector)
        if not namespaces:
            typer.echo("No namespace matches --ns-selector: nothing to unoffload.")
            return
        for namespace in namespaces:
            try:
                CustomObjectsApi(client).delete_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, OFFLOADING
                )
            except Exception as err:
                if status_of(err) != 404:
                    raise
                typer.echo(f"Namespace {namespace} is not offloaded.")
                continue
            typer.echo(f"Offloading of namespace {namespace} disabled.")
            if not wait:
                continue

            def gone(namespace: str = namespace) -> tuple[bool | None, str]:
                nsoff = get_custom(client, PLURAL, namespace, OFFLOADING)
                if nsoff is None:
                    return True, ""
                return None, f"{offloading_detail(nsoff)}; waiting for the remote namespaces"

            wait_for(client, timeout, f"the unoffloading of namespace {namespace}", gone)
            typer.echo(f"Namespace {namespace} unoffloaded: its remote namespaces are gone.")


def register(app: typer.Typer) -> None:
    """Add ``offload namespace`` and ``unoffload namespace``."""
    offload = group(app, "offload", "Offload namespaces to peers.")
    offload.command("namespace")(offload_namespace)
    unoffload = group(app, "unoffload", "Stop offloading namespaces.")
    unoffload.command("namespace")(unoffload_namespace)
