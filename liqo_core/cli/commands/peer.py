"""``liqoctl peer`` / ``unpeer``: the enabled modules' peering steps, with both kubeconfigs.

The local cluster (``--kubeconfig/--context``) is the consumer, the remote one
(``--remote-kubeconfig/--remote-context``) the provider. Steps come from
:func:`liqo_core.hookspecs.liqo_peering_steps`: networking (unless
``--networking-disabled``), then authentication, then a ResourceSlice.
"""

from __future__ import annotations

from typing import Annotated

import typer

from liqo_core.cli.context import CommandError
from liqo_core.cli.peering import (
    Cpu,
    InBand,
    Memory,
    Pods,
    RemoteContext,
    RemoteKubeconfig,
    RemoteNamespace,
    Resource,
    SkipValidation,
    SliceClass,
    Timeout,
    drive,
    module_steps,
    requested_resources,
)
from liqo_core.peering import PeeringOptions


def peer(
    ctx: typer.Context,
    *,
    remote_kubeconfig: RemoteKubeconfig,
    remote_context: RemoteContext = None,
    remote_namespace: RemoteNamespace = None,
    networking_disabled: Annotated[
        bool, typer.Option("--networking-disabled", help="Do not connect the networks.")
    ] = False,
    in_band: InBand = False,
    create_resource_slice: Annotated[
        bool,
        typer.Option(
            "--create-resource-slice/--no-create-resource-slice",
            help="Ask the provider for resources with a ResourceSlice named after it.",
        ),
    ] = True,
    resource_slice_class: SliceClass = "",
    cpu: Cpu = None,
    memory: Memory = None,
    pods: Pods = None,
    resource: Resource = None,
    create_virtual_node: Annotated[
        bool,
        typer.Option(
            "--create-virtual-node/--no-create-virtual-node",
            help="Have a VirtualNode created once the ResourceSlice is accepted.",
        ),
    ] = True,
    timeout: Timeout = 120.0,
    skip_validation: SkipValidation = False,
) -> None:
    """Peer this cluster (consumer) with the --remote-kubeconfig one (provider)."""
    resources = requested_resources(cpu, memory, pods, resource)
    if resources and not create_resource_slice:
        raise CommandError(
            "--cpu/--memory/--pods/--resource need a ResourceSlice: drop --no-create-resource-slice"
        )
    options = PeeringOptions(
        networking_disabled=networking_disabled,
        in_band=in_band,
        create_resource_slice=create_resource_slice,
        resource_slice_class=resource_slice_class,
        resources=resources,
        create_virtual_node=create_virtual_node,
        timeout=timeout,
        skip_validation=skip_validation,
    )
    steps = module_steps(ctx, options)
    if not steps:
        raise CommandError("no enabled module contributes peering steps (is authentication on?)")
    remote = (remote_kubeconfig, remote_context, remote_namespace)
    typer.echo(f"Peered with provider {drive(ctx, remote, options, steps)}.")


def unpeer(
    ctx: typer.Context,
    *,
    remote_kubeconfig: RemoteKubeconfig,
    remote_context: RemoteContext = None,
    remote_namespace: RemoteNamespace = None,
    delete_namespaces: Annotated[
        bool,
        typer.Option(
            "--delete-namespaces", help="Also delete the tenant namespaces on both sides."
        ),
    ] = False,
    timeout: Timeout = 120.0,
) -> None:
    """Undo `liqoctl peer`: slices, authentication and networking, in reverse order."""
    options = PeeringOptions(timeout=timeout, delete_namespaces=delete_namespaces)
    remote = (remote_kubeconfig, remote_context, remote_namespace)
    provider = drive(ctx, remote, options, module_steps(ctx), undo=True)
    typer.echo(f"Unpeered from provider {provider}.")


def register(app: typer.Typer) -> None:
    """Add ``peer`` and ``unpeer``."""
    app.command("peer")(peer)
    app.command("unpeer")(unpeer)
