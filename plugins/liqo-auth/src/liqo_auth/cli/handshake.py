"""Declarative handshake helpers: the manifests two administrators exchange.

- ``liqoctl create nonce --remote-cluster-id C`` (provider): nonce for consumer C;
- ``liqoctl get nonce --remote-cluster-id C`` (provider): print it;
- ``liqoctl generate tenant --remote-cluster-id P [--nonce N]`` (consumer): sign P's
  nonce and print the Tenant to apply on P;
- ``liqoctl generate identity --remote-cluster-id C`` (provider): print the Identity to
  apply on consumer C.
"""

from __future__ import annotations

from typing import Annotated

import typer

from liqo_auth import forge
from liqo_auth.cli.common import Output, RemoteClusterID, Timeout, group
from liqo_auth.cli.common import run as _run
from liqo_core.cli.context import get_state
from liqo_core.cli.output import OutputFormat, print_data

RemoteTenantNamespace = Annotated[
    str | None,
    typer.Option(
        "--remote-tenant-namespace",
        help="Tenant namespace on the peer (default: liqo-tenant-<this cluster's id>).",
    ),
]


def create_nonce(
    ctx: typer.Context, remote_cluster_id: RemoteClusterID, timeout: Timeout = 30.0
) -> None:
    """Provider: create the nonce consumer REMOTE_CLUSTER_ID must sign, and print it."""
    typer.echo(_run(ctx, lambda api: forge.create_nonce(api, remote_cluster_id, timeout)))


def get_nonce(ctx: typer.Context, remote_cluster_id: RemoteClusterID) -> None:
    """Provider: print the nonce of consumer REMOTE_CLUSTER_ID."""
    typer.echo(_run(ctx, lambda api: forge.get_nonce(api, remote_cluster_id)))


def generate_tenant(
    ctx: typer.Context,
    *,
    remote_cluster_id: RemoteClusterID,
    nonce: Annotated[
        str | None,
        typer.Option("--nonce", help="The provider's nonce (default: the one stored already)."),
    ] = None,
    remote_tenant_namespace: RemoteTenantNamespace = None,
    proxy_url: Annotated[
        str | None, typer.Option("--proxy-url", help="Proxy to reach the provider's API server.")
    ] = None,
    output: Output = OutputFormat.YAML,
    timeout: Timeout = 30.0,
) -> None:
    """Consumer: sign provider REMOTE_CLUSTER_ID's nonce; print the Tenant to apply there."""
    state = get_state(ctx)
    settings = state.settings()
    tenant = _run(
        ctx,
        lambda api: forge.tenant_for_provider(
            api,
            settings.namespace,
            remote_cluster_id,
            consumer_id=settings.cluster_id,
            nonce=nonce,
            remote_tenant_namespace=remote_tenant_namespace,
            proxy_url=proxy_url,
            timeout=timeout,
        ),
    )
    print_data(tenant, output)


def generate_identity(
    ctx: typer.Context,
    remote_cluster_id: RemoteClusterID,
    remote_tenant_namespace: RemoteTenantNamespace = None,
    output: Output = OutputFormat.YAML,
) -> None:
    """Provider: print the Identity to apply on consumer REMOTE_CLUSTER_ID."""
    settings = get_state(ctx).settings()
    identity = _run(
        ctx,
        lambda api: forge.identity_for_consumer(
            api,
            settings.namespace,
            remote_cluster_id,
            provider_id=settings.cluster_id,
            remote_tenant_namespace=remote_tenant_namespace,
        ),
    )
    print_data(identity, output)


def register_commands(app: typer.Typer) -> None:
    """Add ``create|get nonce`` and ``generate tenant|identity``."""
    group(app, "create", "Create Liqo resources.").command("nonce")(create_nonce)
    group(app, "get", "Read Liqo resources.").command("nonce")(get_nonce)
    generate = group(app, "generate", "Generate manifests to give a peer's administrator.")
    generate.command("tenant")(generate_tenant)
    generate.command("identity")(generate_identity)
