"""``liqoctl version``: the client's version and, with a reachable cluster, Liqo's."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from liqo_core.cli.context import ClusterAccessError, get_state, server_of, unreachable
from liqo_core.cli.output import OUTPUT_HELP, OutputFormat, print_data

#: Deployment whose labels and image tell the installed version.
CONTROLLER_MANAGER = "liqo-controller-manager"
VERSION_LABEL = "app.kubernetes.io/version"
REQUEST_TIMEOUT = 10


def client_version() -> str:
    """Version of the installed liqo-core distribution, rendered as the chart's (SemVer)."""
    from liqo_core.version import liqo_version

    return liqo_version()


def version_of_deployment(deployment: Any) -> str:
    """Liqo's version from the controller-manager Deployment: label, else image tag."""
    labels = deployment.metadata.labels or {}
    if labels.get(VERSION_LABEL):
        return str(labels[VERSION_LABEL])
    image = str(deployment.spec.template.spec.containers[0].image)
    name = image.rsplit("/", 1)[-1]
    return name.split("@", 1)[0].split(":", 1)[1] if ":" in name else "unknown"


def server_version(ctx: typer.Context, namespace: str) -> str | None:
    """Installed Liqo version, or None when Liqo is not installed in ``namespace``."""
    from kubernetes.client import AppsV1Api
    from kubernetes.client.exceptions import ApiException

    state = get_state(ctx)
    api_client = state.api_client()
    try:
        deployment = AppsV1Api(api_client).read_namespaced_deployment(
            CONTROLLER_MANAGER, namespace, _request_timeout=REQUEST_TIMEOUT
        )
    except ApiException as err:
        if err.status == 404:
            return None
        raise ClusterAccessError(
            f"cannot read Deployment {namespace}/{CONTROLLER_MANAGER}: {err.status} {err.reason}"
        ) from err
    except Exception as err:  # urllib3/ssl/socket errors: the cluster is not reachable
        raise unreachable(err, server_of(api_client), state.kubeconfig_flag()) from None
    finally:
        api_client.close()  # type: ignore[no-untyped-call]
    return version_of_deployment(deployment)


def version(
    ctx: typer.Context,
    client: Annotated[
        bool, typer.Option("--client", help="Print the client version only.")
    ] = False,
    output: Annotated[OutputFormat | None, typer.Option("--output", "-o", help=OUTPUT_HELP)] = None,
) -> None:
    """Print the liqoctl version and, when a cluster is configured, the installed Liqo's."""
    state = get_state(ctx)
    data: dict[str, Any] = {"clientVersion": client_version()}
    if not client and state.kubeconfig_path() is not None:
        namespace = state.settings().namespace
        installed = server_version(ctx, namespace)
        data["serverVersion"] = installed
        data["namespace"] = namespace
    if output is not None:
        print_data(data, output)
        return
    typer.echo(f"Client version: {data['clientVersion']}")
    if "serverVersion" in data:
        installed = data["serverVersion"]
        shown = installed if installed else f"Liqo is not installed in namespace {namespace!r}"
        typer.echo(f"Server version: {shown}")


def register(app: typer.Typer) -> None:
    """Add ``version``."""
    app.command("version")(version)
