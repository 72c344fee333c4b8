"""Imperative authentication commands: both-kubeconfig handshake, slices, reservations.

Consumer side: ``authenticate``/``unauthenticate --remote-kubeconfig P``,
``create resourceslice NAME --remote-cluster-id P``, ``get kubeconfig --remote-cluster-id
P``. Provider side: ``cordon|uncordon|drain|activate tenant C`` (``spec.tenantCondition``)
and ``cordon|uncordon resourceslice NAME`` (annotation ``liqo.io/cordon``).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import typer

from liqo_auth import forge
from liqo_auth.cli.common import OptionalOutput, RemoteClusterID, api_client, group
from liqo_auth.cli.steps import (
    Authentication,
    TenantNamespaces,
    list_objects,
    request_slice,
    resource_slice,
    wait_slice_accepted,
)
from liqo_auth.names import KUBECONFIG_KEY, KUBECONFIG_SECRET_PREFIX
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION
from liqo_core.api.consts import CORDON_ANNOTATION, RESOURCE_SLICE_NAME_LABEL
from liqo_core.cli.context import CommandError, get_state
from liqo_core.cli.output import print_data
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
    Timeout,
    drive,
    module_steps,
    progress,
    requested_resources,
)
from liqo_core.peering import (
    PeeringContext,
    PeeringOptions,
    PeeringPhase,
    PeeringStep,
)


def authenticate(
    ctx: typer.Context,
    *,
    remote_kubeconfig: RemoteKubeconfig,
    remote_context: RemoteContext = None,
    remote_namespace: RemoteNamespace = None,
    in_band: InBand = False,
    timeout: Timeout = 120.0,
    skip_validation: SkipValidation = False,
) -> None:
    """Consumer: run the handshake with the --remote-kubeconfig provider (both kubeconfigs)."""
    options = PeeringOptions(in_band=in_band, timeout=timeout, skip_validation=skip_validation)
    steps: list[PeeringStep] = [TenantNamespaces(), Authentication()]
    if in_band:  # the proxy URL comes from the networking steps, which must run first
        chosen = module_steps(ctx, options)
        steps = [s for s in chosen if s.phase <= PeeringPhase.AUTHENTICATION]
    remote = (remote_kubeconfig, remote_context, remote_namespace)
    typer.echo(f"Authenticated with provider {drive(ctx, remote, options, steps)}.")


def unauthenticate(
    ctx: typer.Context,
    *,
    remote_kubeconfig: RemoteKubeconfig,
    remote_context: RemoteContext = None,
    remote_namespace: RemoteNamespace = None,
    timeout: Timeout = 120.0,
) -> None:
    """Consumer: delete the Identity here and the Tenant on the provider, until both are gone."""
    remote = (remote_kubeconfig, remote_context, remote_namespace)
    provider = drive(ctx, remote, PeeringOptions(timeout=timeout), [Authentication()], undo=True)
    typer.echo(f"Unauthenticated from provider {provider}.")


def create_resourceslice(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the ResourceSlice.", show_default=False)],
    *,
    remote_cluster_id: RemoteClusterID,
    slice_class: Annotated[
        str, typer.Option("--class", help="ResourceSlice class (empty: the provider's default).")
    ] = "",
    cpu: Cpu = None,
    memory: Memory = None,
    pods: Pods = None,
    resource: Resource = None,
    no_virtual_node: Annotated[
        bool, typer.Option("--no-virtual-node", help="Do not create a VirtualNode for it.")
    ] = False,
    timeout: Timeout = 120.0,
    output: OptionalOutput = None,
) -> None:
    """Consumer: ask provider REMOTE_CLUSTER_ID for resources; wait until accepted.

    With -o, print the ResourceSlice instead of creating it.
    """
    resources = requested_resources(cpu, memory, pods, resource)
    with api_client(ctx) as client:
        namespace = forge.find_tenant_namespace(client, remote_cluster_id)
        if namespace is None:
            raise CommandError(
                f"no tenant namespace for cluster {remote_cluster_id}: authenticate first"
            )
        body = resource_slice(
            name,
            namespace,
            remote_cluster_id,
            slice_class=slice_class,
            resources=resources,
            create_virtual_node=not no_virtual_node,
        )
        if output is not None:
            print_data(body, output)
            return
        waiting = PeeringContext(
            consumer=client,
            provider=None,
            consumer_id="",
            provider_id=remote_cluster_id,
            consumer_namespace=get_state(ctx).settings().namespace,
            provider_namespace="",
            options=PeeringOptions(timeout=timeout),
        )
        with progress(waiting):
            request_slice(client, body)
            wait_slice_accepted(waiting, namespace, name)
    typer.echo(f"ResourceSlice {namespace}/{name} accepted by {remote_cluster_id}.")


IdentityType = Literal["ControlPlane", "ResourceSlice"]


def _identity_secret(client: Any, identity: dict[str, Any]) -> bytes | None:
    from kubernetes.client import CoreV1Api

    meta = identity["metadata"]
    ref = ((identity.get("status") or {}).get("kubeconfigSecretRef") or {}).get("name")
    name = ref or f"{KUBECONFIG_SECRET_PREFIX}{meta['name']}"
    try:
        secret = CoreV1Api(client).read_namespaced_secret(name, meta["namespace"])
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            return None
        raise
    value = (secret.data or {}).get(KUBECONFIG_KEY)
    return base64.b64decode(value) if value else None


def get_kubeconfig(
    ctx: typer.Context,
    *,
    remote_cluster_id: RemoteClusterID,
    identity_type: Annotated[
        str, typer.Option("--identity-type", help="ControlPlane or ResourceSlice.")
    ] = "ControlPlane",
    resource_slice_name: Annotated[
        str | None,
        typer.Option("--resource-slice-name", help="The ResourceSlice (type ResourceSlice)."),
    ] = None,
) -> None:
    """Consumer: print the kubeconfig an Identity for provider REMOTE_CLUSTER_ID grants."""
    if identity_type not in ("ControlPlane", "ResourceSlice"):
        raise CommandError(f"--identity-type {identity_type!r}: use ControlPlane or ResourceSlice")
    if resource_slice_name and identity_type != "ResourceSlice":
        raise CommandError("--resource-slice-name needs --identity-type ResourceSlice")
    with api_client(ctx) as client:
        found = [
            identity
            for identity in list_objects(client, "identities")
            if (identity.get("spec") or {}).get("clusterID") == remote_cluster_id
            and (identity.get("spec") or {}).get("type") == identity_type
            and (
                resource_slice_name is None
                or (identity["metadata"].get("labels") or {}).get(RESOURCE_SLICE_NAME_LABEL)
                == resource_slice_name
            )
        ]
        what = f"{identity_type} Identity for cluster {remote_cluster_id}"
        if resource_slice_name:
            what += f" and ResourceSlice {resource_slice_name}"
        if not found:
            raise CommandError(f"no {what}")
        if len(found) > 1:
            raise CommandError(f"several {what}s: pass --resource-slice-name")
        kubeconfig = _identity_secret(client, found[0])
    if kubeconfig is None:
        raise CommandError(f"the {what} has no kubeconfig Secret yet")
    typer.echo(kubeconfig.decode(), nl=False)


# --- provider: reservation controls --------------------------------------------------------

TenantCondition = Literal["Active", "Cordoned", "Drained"]
ConsumerID = Annotated[
    str,
    typer.Argument(help="Cluster ID of the consumer.", show_default=False, metavar="CLUSTER_ID"),
]


def _set_tenant_condition(ctx: typer.Context, consumer: str, condition: TenantCondition) -> None:
    with api_client(ctx) as client:
        tenants = [
            t for t in list_objects(client, "tenants")
            if (t.get("spec") or {}).get("clusterID") == consumer
        ]  # fmt: skip
        if not tenants:
            raise CommandError(f"no Tenant for cluster {consumer}")
        from kubernetes.client import CustomObjectsApi

        for tenant in tenants:
            meta = tenant["metadata"]
            CustomObjectsApi(client).patch_namespaced_custom_object(
                GROUP, VERSION, meta["namespace"], "tenants", meta["name"],
                {"spec": {"tenantCondition": condition}},
            )  # fmt: skip
    typer.echo(f"Tenant {consumer}: {condition}.")


def cordon_tenant(ctx: typer.Context, cluster_id: ConsumerID) -> None:
    """Provider: grant no new resources to consumer CLUSTER_ID (existing slices stay)."""
    _set_tenant_condition(ctx, cluster_id, "Cordoned")


def uncordon_tenant(ctx: typer.Context, cluster_id: ConsumerID) -> None:
    """Provider: serve consumer CLUSTER_ID again (tenantCondition Active)."""
    _set_tenant_condition(ctx, cluster_id, "Active")


def activate_tenant(ctx: typer.Context, cluster_id: ConsumerID) -> None:
    """Provider: set consumer CLUSTER_ID's Tenant Active (after a drain or cordon)."""
    _set_tenant_condition(ctx, cluster_id, "Active")


def drain_tenant(ctx: typer.Context, cluster_id: ConsumerID) -> None:
    """Provider: deny every slice of consumer CLUSTER_ID and revoke what it was granted."""
    _set_tenant_condition(ctx, cluster_id, "Drained")


SliceName = Annotated[
    str, typer.Argument(help="Name of the ResourceSlice.", show_default=False, metavar="NAME")
]
SliceConsumer = Annotated[
    str | None,
    typer.Option(
        "--remote-cluster-id", help="Consumer of the slice, when several have one called NAME."
    ),
]


def _cordon_slice(ctx: typer.Context, name: str, consumer: str | None, cordon: bool) -> None:
    from kubernetes.client import CustomObjectsApi

    with api_client(ctx) as client:
        found = [
            s
            for s in list_objects(client, "resourceslices")
            if s["metadata"]["name"] == name
            and (consumer is None or _slice_consumer(s) == consumer)
        ]
        if not found:
            raise CommandError(f"no ResourceSlice called {name!r}")
        if len(found) > 1:
            raise CommandError(f"several ResourceSlices called {name!r}: pass --remote-cluster-id")
        meta = found[0]["metadata"]
        patch = {"metadata": {"annotations": {CORDON_ANNOTATION: "true" if cordon else None}}}
        CustomObjectsApi(client).patch_namespaced_custom_object(
            GROUP, VERSION, meta["namespace"], "resourceslices", name, patch
        )
    typer.echo(
        f"ResourceSlice {meta['namespace']}/{name}: {'cordoned' if cordon else 'uncordoned'}."
    )


def _slice_consumer(obj: dict[str, Any]) -> str | None:
    spec = obj.get("spec") or {}
    labels = obj["metadata"].get("labels") or {}
    return spec.get("consumerClusterID") or labels.get("liqo.io/originID")


def cordon_resourceslice(
    ctx: typer.Context, name: SliceName, remote_cluster_id: SliceConsumer = None
) -> None:
    """Provider: grant nothing more to ResourceSlice NAME (annotation liqo.io/cordon)."""
    _cordon_slice(ctx, name, remote_cluster_id, True)


def uncordon_resourceslice(
    ctx: typer.Context, name: SliceName, remote_cluster_id: SliceConsumer = None
) -> None:
    """Provider: lift the cordon of ResourceSlice NAME."""
    _cordon_slice(ctx, name, remote_cluster_id, False)


def register_commands(app: typer.Typer) -> None:
    """Add the commands under the root and the ``create``, ``get``, ``cordon``... groups."""
    app.command("authenticate")(authenticate)
    app.command("unauthenticate")(unauthenticate)
    group(app, "create", "Create Liqo resources.").command("resourceslice")(create_resourceslice)
    group(app, "get", "Read Liqo resources.").command("kubeconfig")(get_kubeconfig)
    cordon = group(app, "cordon", "Provider: stop granting resources to a tenant or slice.")
    cordon.command("tenant")(cordon_tenant)
    cordon.command("resourceslice")(cordon_resourceslice)
    uncordon = group(app, "uncordon", "Provider: lift a cordon.")
    uncordon.command("tenant")(uncordon_tenant)
    uncordon.command("resourceslice")(uncordon_resourceslice)
    group(app, "drain", "Provider: revoke what a tenant was granted.").command("tenant")(
        drain_tenant
    )
    group(app, "activate", "Provider: serve a tenant again.").command("tenant")(activate_tenant)
