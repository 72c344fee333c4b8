"""``liqoctl info``: the local installation and its peerings; ``info peer``: one peering's details.

``info`` reads the cluster id, the enabled modules (the controller-manager's settings), the
controller-manager's Deployment and leader Lease, and one line per ForeignCluster.
``info peer`` prints, per peer, its ForeignCluster (role, API server, conditions) and what
each enabled module reports about it now: what is done, what waits, what is stuck and why.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from liqo_core.cli.context import (
    ClusterAccessError,
    CommandError,
    get_state,
    server_of,
    unreachable,
)
from liqo_core.cli.output import OUTPUT_HELP, OutputFormat, print_data
from liqo_core.errors import LiqoError

if TYPE_CHECKING:  # rich and yaml load when something is printed: `liqoctl --help` stays fast
    from rich.console import Console
    from rich.text import Text

CLUSTER_ID_CONFIGMAP = "liqo-clusterid-configmap"
CLUSTER_ID_KEY = "CLUSTER_ID"
CONTROLLER_MANAGER = "liqo-controller-manager"
CONTROLLER_MANAGER_CONFIG = "liqo-controller-manager-config"
MODULES = ("networking", "authentication", "offloading")
REQUEST_TIMEOUT = 10
GET_HELP = "Print only this dot-separated field of the result (e.g. local.clusterID)."

app = typer.Typer(
    name="info",
    help="Show the local installation and its peerings.",
    invoke_without_command=True,
)


def _read(what: str, call: Callable[[], Any], server: str, flag: str) -> Any:
    """``call()``; None when the object does not exist; one-line errors otherwise."""
    from kubernetes.client.exceptions import ApiException

    try:
        return call()
    except ApiException as err:
        if err.status == 404:
            return None
        raise ClusterAccessError(f"cannot read {what}: {err.status} {err.reason}") from err
    except LiqoError:
        raise
    except Exception as err:  # urllib3/ssl/socket errors: the cluster is not reachable
        raise unreachable(err, server, flag) from None


def pick(data: Any, path: str) -> Any:
    """The value at dot-separated ``path`` in ``data`` (list items by index)."""
    value = data
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise CommandError(f"no field {path!r} in the result (at {part!r})")
    return value


def emit(data: Any, output: OutputFormat | None, get: str | None) -> bool:
    """Print ``data`` (or its ``get`` field) when asked for a format or a field."""
    if get is not None:
        value = pick(data, get)
        if output is None and not isinstance(value, dict | list):
            typer.echo("" if value is None else str(value))
        else:
            print_data(value, output or OutputFormat.YAML)
        return True
    if output is not None:
        print_data(data, output)
        return True
    return False


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 1000)


# --- reading the installation ----------------------------------------------------------


class Installation:
    """What ``info`` reads from the cluster, with the CLI's settings as fallback."""

    def __init__(self, ctx: typer.Context) -> None:
        from kubernetes.client import AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi

        self.state = get_state(ctx)
        self.settings = self.state.settings()
        self.namespace = self.settings.namespace
        self.api_client = self.state.api_client()
        self.core = CoreV1Api(self.api_client)
        self.apps = AppsV1Api(self.api_client)
        self.leases = CoordinationV1Api(self.api_client)
        self.custom = CustomObjectsApi(self.api_client)

    def close(self) -> None:
        self.api_client.close()  # type: ignore[no-untyped-call]

    def _read(self, what: str, call: Callable[[], Any]) -> Any:
        return _read(what, call, server_of(self.api_client), self.state.kubeconfig_flag())

    def require_installed(self) -> None:
        """Fail, in one line, when nothing of Liqo is in the namespace (a wrong ``-n``).

        Liqo is installed where its cluster-id ConfigMap or its controller-manager
        Deployment is; a namespace with neither has no Liqo to describe.
        """
        namespace = self.namespace
        config_map = self._read(
            f"ConfigMap {namespace}/{CLUSTER_ID_CONFIGMAP}",
            lambda: self.core.read_namespaced_config_map(
                CLUSTER_ID_CONFIGMAP, namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        if config_map is not None:
            return
        deployment = self._read(
            f"Deployment {namespace}/{CONTROLLER_MANAGER}",
            lambda: self.apps.read_namespaced_deployment(
                CONTROLLER_MANAGER, namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        if deployment is not None:
            return
        found = self._read(
            f"Namespace {namespace}",
            lambda: self.core.read_namespace(namespace, _request_timeout=REQUEST_TIMEOUT),
        )
        fix = "pass -n/--namespace with the namespace Liqo is installed in"
        if found is None:
            raise CommandError(
                f"Liqo is not installed in namespace {namespace}: no such namespace ({fix})"
            )
        raise CommandError(
            f"Liqo is not installed in namespace {namespace}: no ConfigMap "
            f"{CLUSTER_ID_CONFIGMAP} and no Deployment {CONTROLLER_MANAGER} there ({fix})"
        )

    def cluster_id(self) -> str | None:
        config_map = self._read(
            f"ConfigMap {self.namespace}/{CLUSTER_ID_CONFIGMAP}",
            lambda: self.core.read_namespaced_config_map(
                CLUSTER_ID_CONFIGMAP, self.namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        found = (config_map.data or {}).get(CLUSTER_ID_KEY) if config_map else None
        return found or self.settings.cluster_id

    def modules(self) -> list[str]:
        """Modules the controller-manager runs (its ConfigMap), else the CLI's settings."""
        config_map = self._read(
            f"ConfigMap {self.namespace}/{CONTROLLER_MANAGER_CONFIG}",
            lambda: self.core.read_namespaced_config_map(
                CONTROLLER_MANAGER_CONFIG, self.namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        text = (config_map.data or {}).get("config.yaml") if config_map else None
        if text:
            import yaml

            try:
                document = yaml.safe_load(text) or {}
            except yaml.YAMLError:
                document = {}
            if isinstance(document, dict) and isinstance(document.get("modules"), list):
                return [str(module) for module in document["modules"]]
        return list(self.settings.modules)

    def controller_manager(self) -> dict[str, Any]:
        deployment = self._read(
            f"Deployment {self.namespace}/{CONTROLLER_MANAGER}",
            lambda: self.apps.read_namespaced_deployment(
                CONTROLLER_MANAGER, self.namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        result: dict[str, Any] = {"deployment": None, "leader": None}
        if deployment is not None:
            wanted = deployment.spec.replicas if deployment.spec.replicas is not None else 1
            ready = (deployment.status.ready_replicas if deployment.status else None) or 0
            result["deployment"] = {
                "name": CONTROLLER_MANAGER,
                "replicas": wanted,
                "readyReplicas": ready,
                "healthy": ready >= wanted > 0,
            }
        election = self.settings.controller_manager.leader_election
        lease = self._read(
            f"Lease {self.namespace}/{election.lease_name}",
            lambda: self.leases.read_namespaced_lease(
                election.lease_name, self.namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        if lease is not None and lease.spec is not None:
            spec = lease.spec
            renewed = spec.renew_time
            duration = spec.lease_duration_seconds or 0
            fresh = bool(
                spec.holder_identity
                and renewed is not None
                and (datetime.now(UTC) - renewed).total_seconds() <= duration
            )
            result["leader"] = {
                "lease": election.lease_name,
                "holder": spec.holder_identity or None,
                "renewTime": renewed.isoformat() if renewed else None,
                "held": fresh,
            }
        return result

    def foreign_clusters(self) -> list[dict[str, Any]]:
        answer = self._read(
            "ForeignClusters",
            lambda: self.custom.list_cluster_custom_object(
                "core.liqo.io", "v1beta1", "foreignclusters", _request_timeout=REQUEST_TIMEOUT
            ),
        )
        items = (answer or {}).get("items") or []
        return sorted(items, key=lambda fc: str(fc["metadata"]["name"]))

    def foreign_cluster(self, peer: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._read(
            f"ForeignCluster {peer}",
            lambda: self.custom.get_cluster_custom_object(
                "core.liqo.io", "v1beta1", "foreignclusters", peer, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        return found


def _condition(conditions: Sequence[dict[str, Any]] | None, kind: str) -> dict[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == kind), None)


def peering_summary(fc: dict[str, Any]) -> dict[str, Any]:
    """One line of ``info``'s peerings: role, modules in use, API server, problems."""
    status = fc.get("status") or {}
    modules = status.get("modules") or {}
    problems = [
        f"{c.get('type')}: {c.get('status')}"
        for name in MODULES
        for c in (modules.get(name) or {}).get("conditions") or []
        if c.get("status") not in ("Ready", "Established")
    ]
    api_server = _condition(status.get("conditions"), "APIServerStatus")
    return {
        "clusterID": (fc.get("spec") or {}).get("clusterID") or fc["metadata"]["name"],
        "role": status.get("role") or "Unknown",
        "modules": [name for name in MODULES if (modules.get(name) or {}).get("enabled")],
        "apiServer": api_server.get("status") if api_server else None,
        "problems": problems,
    }


# --- info ------------------------------------------------------------------------------


@app.callback()
def info(
    ctx: typer.Context,
    output: Annotated[OutputFormat | None, typer.Option("--output", "-o", help=OUTPUT_HELP)] = None,
    get: Annotated[str | None, typer.Option("--get", help=GET_HELP)] = None,
) -> None:
    """Show the local installation: cluster id, modules, controller-manager, peerings."""
    if ctx.invoked_subcommand is not None:
        return
    cluster = Installation(ctx)
    try:
        cluster.require_installed()
        data = {
            "local": {
                "clusterID": cluster.cluster_id(),
                "namespace": cluster.namespace,
                "modules": cluster.modules(),
            },
            "controllerManager": cluster.controller_manager(),
            "peerings": [peering_summary(fc) for fc in cluster.foreign_clusters()],
        }
    finally:
        cluster.close()
    if not emit(data, output, get):
        print_installation(data)


def _mark(ok: bool | None) -> Text:
    from rich.text import Text

    if ok is None:
        return Text("-", style="dim")
    return Text("OK", style="green") if ok else Text("NOT OK", style="bold red")


def print_installation(data: dict[str, Any]) -> None:
    """``info`` as text."""
    from rich.text import Text

    console = _console()
    local = data["local"]
    console.print(Text("Local installation", style="bold"))
    console.print(f"  Cluster ID:  {local['clusterID'] or '(unknown)'}")
    console.print(f"  Namespace:   {local['namespace']}")
    console.print(f"  Modules:     {', '.join(local['modules']) or '(none)'}")
    manager = data["controllerManager"]
    deployment = manager["deployment"]
    line = Text("  Controller-manager: ")
    if deployment is None:
        line.append(f"Deployment {CONTROLLER_MANAGER} not found", style="yellow")
    else:
        line.append(f"{deployment['readyReplicas']}/{deployment['replicas']} ready ")
        line.append_text(_mark(deployment["healthy"]))
    console.print(line)
    leader = manager["leader"]
    line = Text("  Leader:      ")
    if leader is None:
        line.append("no leader Lease", style="dim")
    else:
        line.append(f"{leader['holder'] or '(none)'} ")
        line.append_text(_mark(leader["held"]))
    console.print(line)
    console.print(Text("Peerings", style="bold"))
    if not data["peerings"]:
        console.print("  (none)")
    for peer in data["peerings"]:
        line = Text(f"  {peer['clusterID']}  role {peer['role']}")
        line.append(f"  modules {', '.join(peer['modules']) or '(none)'}")
        if peer["apiServer"]:
            line.append(f"  API server {peer['apiServer']}")
        if peer["problems"]:
            line.append(f"  problems: {'; '.join(peer['problems'])}", style="red")
        console.print(line)


# --- info peer -------------------------------------------------------------------------


def module_reports(ctx: typer.Context, modules: Sequence[str], peers: Sequence[str]) -> Any:
    """What each enabled module's status source says about each peer, or a reason why not.

    :return: ``{peer: {module: ModulePeerStatus}}``, or a string saying why none.
    """
    import asyncio

    from liqo_core.kube import Kube, KubeTarget
    from liqo_core.peers import gather_reports

    state = get_state(ctx)
    try:
        sources = [s for s in state.runtime().peer_status_sources() if s.module in modules]
    except LiqoError as err:
        return f"module details unavailable: {err}"
    path = state.kubeconfig_path()
    target = KubeTarget(kubeconfig=Path(path) if path else None, context=state.context)

    async def gather() -> dict[str, Any]:
        async with await Kube.from_target(target, request_timeout=REQUEST_TIMEOUT) as api:
            return {peer: await gather_reports(api, sources, peer) for peer in peers}

    try:
        return asyncio.run(gather())
    except LiqoError:
        raise
    except Exception as err:
        from liqo_core.kube import describe_error

        return f"module details unavailable: {describe_error(err)}"


def peer_data(
    peer: str, fc: dict[str, Any] | None, modules: Sequence[str], reports: Any
) -> dict[str, Any]:
    """One peer for ``info peer``: the ForeignCluster's view plus the modules' details."""
    status = (fc or {}).get("status") or {}
    fc_modules = status.get("modules") or {}
    api_server = _condition(status.get("conditions"), "APIServerStatus")
    data: dict[str, Any] = {
        "clusterID": peer,
        "foreignCluster": fc is not None,
        "role": status.get("role") or "Unknown",
        "apiServer": {
            "url": status.get("apiServerUrl"),
            "status": (api_server or {}).get("status"),
            "reason": (api_server or {}).get("reason"),
            "message": (api_server or {}).get("message"),
        },
        "tenantNamespace": status.get("tenantNamespace") or {},
        "modules": {},
    }
    for name in MODULES:
        section: dict[str, Any] = {
            "installed": name in modules,
            "enabled": bool((fc_modules.get(name) or {}).get("enabled")),
            "conditions": (fc_modules.get(name) or {}).get("conditions") or [],
        }
        report = reports.get(peer, {}).get(name) if isinstance(reports, dict) else None
        if report is not None:
            section["details"] = [{"state": d.state, "text": d.text} for d in report.details]
        data["modules"][name] = section
    if isinstance(reports, str):
        data["note"] = reports
    return data


@app.command("peer")
def info_peer(
    ctx: typer.Context,
    cluster_ids: Annotated[
        list[str] | None, typer.Argument(help="Peer cluster ids (default: every peer).")
    ] = None,
    output: Annotated[OutputFormat | None, typer.Option("--output", "-o", help=OUTPUT_HELP)] = None,
    get: Annotated[str | None, typer.Option("--get", help=GET_HELP)] = None,
) -> None:
    """Show each peering's modules: what is done, what waits, what is stuck and why."""
    cluster = Installation(ctx)
    try:
        cluster.require_installed()
        modules = cluster.modules()
        if cluster_ids:
            found = {peer: cluster.foreign_cluster(peer) for peer in cluster_ids}
        else:
            found = {fc["metadata"]["name"]: fc for fc in cluster.foreign_clusters()}
    finally:
        cluster.close()
    peers = list(found)
    reports = module_reports(ctx, modules, peers) if peers else {}
    unknown = [
        peer
        for peer in peers
        if found[peer] is None
        and not (isinstance(reports, dict) and any(r.in_use for r in reports[peer].values()))
    ]
    if unknown:
        raise CommandError(
            f"no peering with {', '.join(unknown)}: no ForeignCluster and no module object "
            "refers to it (list peers with `liqoctl info`)"
        )
    data = [peer_data(peer, found[peer], modules, reports) for peer in peers]
    result: Any = data[0] if cluster_ids and len(cluster_ids) == 1 else data
    if not emit(result, output, get):
        if not data:
            typer.echo("No peerings.")
        for entry in data:
            print_peer(entry)


_STATE_STYLE = {"done": "green", "waiting": "yellow", "stuck": "bold red"}
_GOOD = ("Ready", "Established")


def print_peer(data: dict[str, Any]) -> None:
    """``info peer`` as text, one block per peer."""
    from rich.text import Text

    console = _console()
    console.print(Text(f"Peer {data['clusterID']}  (role: {data['role']})", style="bold"))
    if not data["foreignCluster"]:
        console.print(
            Text("  no ForeignCluster yet: is the controller-manager running?", style="yellow")
        )
    api = data["apiServer"]
    if api["url"] or api["status"]:
        line = Text(f"  API server: {api['url'] or '(unknown)'}")
        if api["status"]:
            style = "green" if api["status"] in _GOOD else "bold red"
            line.append(f"  {api['status']}", style=style)
            if api["status"] not in _GOOD and api["message"]:
                line.append(f" ({api['reason']}: {api['message']})")
        console.print(line)
    namespaces = data["tenantNamespace"]
    if namespaces:
        console.print(
            f"  Tenant namespaces: local {namespaces.get('local') or '-'}, "
            f"remote {namespaces.get('remote') or '-'}"
        )
    for name, section in data["modules"].items():
        title = name.capitalize()
        if not section["installed"]:
            console.print(Text(f"  {title}: module disabled", style="dim"))
            continue
        if not section["enabled"] and not section.get("details"):
            console.print(Text(f"  {title}: not in use with this peer", style="dim"))
            continue
        console.print(Text(f"  {title}:", style="bold"))
        for condition in section["conditions"]:
            state = str(condition.get("status"))
            line = Text(f"    {condition.get('type')}: ")
            line.append(state, style="green" if state in _GOOD else "bold red")
            if condition.get("reason"):
                line.append(f" ({condition['reason']})")
            console.print(line)
        for detail in section.get("details") or []:
            line = Text("    ")
            line.append(f"{detail['state']:<8}", style=_STATE_STYLE.get(detail["state"], ""))
            line.append(f" {detail['text']}")
            console.print(line)
    if data.get("note"):
        console.print(Text(f"  {data['note']}", style="yellow"))


def register(root: typer.Typer) -> None:
    """Add ``info`` and ``info peer``."""
    root.add_typer(app, name="info")
