# mypy: disable-error-code="empty-body"
# (pluggy never calls a spec's body: every spec is a signature and a docstring.)
"""Hook specifications: the in-process contract between liqo-core and its plugins.

Every hook is named ``liqo_<phase>_<event>`` and is called with keyword arguments only.
Implementations are marked with :data:`hookimpl` (``from liqo_core import hookimpl``)
and may accept any subset of a spec's arguments, so a spec can gain arguments later
without breaking plugins.

Who implements them:

- *modules* (entry-point group ``liqo.modules``): objects registered under their
  entry-point name (``networking``, ``authentication``, ``offloading``, ...);
- the *transport* (group ``liqo.network.transports``), registered as
  ``transport:<name>`` when the networking module is enabled. A
  :class:`~liqo_core.transport.Transport` already answers :func:`liqo_api_models` from
  its ``api_models()`` method; it may implement any other hook too.

Hooks are grouped by phase: lifecycle, controllers, CLI, API, authentication, peering.
Hooks of the local sandbox (a test bed, not production) are specified by the sandbox
itself, in :mod:`liqo_core.sandbox.hookspecs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import kopf
    import typer

    from liqo_core.api.resource import CustomResource
    from liqo_core.identity import IdentityProvider
    from liqo_core.peering import PeeringStep
    from liqo_core.peers import PeerStatusSource
    from liqo_core.replication import ReplicatedResource
    from liqo_core.settings import LiqoSettings

#: Project name shared by the markers, the plugin manager and the hook prefix.
PROJECT_NAME = "liqo"

#: Marks a hook specification (used only in this module).
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Marks a hook implementation in a plugin: ``@hookimpl def liqo_configure(settings): ...``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@dataclass(frozen=True)
class ModuleInfo:
    """What a module declares it owns (answer of :func:`liqo_module_info`).

    :param description: One line shown by ``liqoctl plugins list``.
    :param api_groups: API groups whose kinds the module reconciles (``networking.liqo.io``).
    :param kinds: Custom resource kinds the module owns (``Configuration``, ``GatewayServer``).
    :param controllers: Controller names, upstream's ids where upstream has them; filled
        by the runtime from the handlers the module registers (a plugin leaves it empty).
    :param values_key: Top-level Helm values key that toggles the module (``networking``).
    """

    description: str
    api_groups: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    controllers: tuple[str, ...] = ()
    values_key: str | None = None


# --- lifecycle -------------------------------------------------------------------------


@hookspec(historic=True)
def liqo_configure(settings: LiqoSettings) -> None:
    """Configure a plugin once every enabled plugin is loaded and registered.

    Called by the runtime after all modules (and the transport) are constructed,
    registered and, for the transport, initialized. Historic: a plugin registered later
    receives the call on registration. Keep it cheap and free of I/O against clusters;
    controllers start from :func:`liqo_register_handlers`.

    :param settings: The validated settings of this process.
    """


@hookspec
def liqo_unconfigure(settings: LiqoSettings) -> None:
    """Release what :func:`liqo_configure` acquired, at shutdown.

    Called once by :meth:`LiqoRuntime.close`, and also when start-up fails after
    registration, so it may run without a prior successful ``liqo_configure``:
    implementations must tolerate that.

    :param settings: The validated settings of this process.
    """


# --- controllers -----------------------------------------------------------------------


@hookspec
def liqo_register_handlers(
    registry: kopf.OperatorRegistry, settings: LiqoSettings, hooks: pluggy.HookRelay
) -> None:
    """Add the plugin's kopf handlers (controllers, webhooks, timers) to ``registry``.

    The runtime calls each plugin's implementation alone, with a fresh registry that
    belongs to that plugin only; the controller-manager runs one kopf operator per
    registry. Pass ``registry=registry`` to every ``kopf.on.*`` decorator; never use
    kopf's process-wide default registry. Registering nothing is valid. Controllers that
    need another module too are registered only if ``settings.module_enabled(<other>)``.

    Handler ids name their controller: ``<controller>`` or ``<controller>-<detail>``
    (controller names have no ``-``); ``liqoctl plugins check`` lists a module's
    controllers from them.

    :param registry: The plugin's own registry.
    :param settings: The validated settings of this process.
    :param hooks: The plugin manager's hook relay, to ask other plugins (e.g.
        :func:`liqo_core.identity.resolve_identity_provider`).
    """


# --- CLI -------------------------------------------------------------------------------


@hookspec
def liqo_cli_commands(app: typer.Typer) -> None:
    """Add ``liqoctl`` subcommands (``app.command()`` / ``app.add_typer()``).

    Called once per ``liqoctl`` run for the enabled plugins, after the core commands
    are registered. Names must not clash with core commands.

    :param app: The root ``liqoctl`` application.
    """


# --- API -------------------------------------------------------------------------------


@hookspec
def liqo_api_models() -> list[type[CustomResource]]:
    """Return the custom-resource model classes the plugin owns.

    ``liqoctl crds`` prints the CRDs of liqo-core's models followed by these (the
    chart's ``crds/`` directory is generated from that output), so a transport can
    ship its own template and implementation kinds without touching core types.

    :return: :class:`liqo_core.api.CustomResource` subclasses; an empty list if the
        plugin owns no kinds.
    """


@hookspec
def liqo_module_info() -> ModuleInfo:
    """Declare what the plugin owns: API groups, kinds, controllers, values key.

    Called per plugin (the runtime knows which plugin answered), for
    ``liqoctl plugins list`` and for documentation.

    :return: The plugin's :class:`ModuleInfo`.
    """


# --- authentication --------------------------------------------------------------------


@hookspec(firstresult=True)
def liqo_identity_provider(name: str, settings: LiqoSettings) -> IdentityProvider | None:
    """Return the identity provider called ``name`` that issues consumers' credentials.

    ``firstresult``: the first non-None answer wins. ``name`` is
    ``settings.authentication.identity_provider``; the authentication module answers for
    ``kubernetes-csr`` (its default) and ``serviceaccount-token``, and a plugin answers
    for its own name (or, with ``tryfirst=True``, replaces one of those).

    :param name: The provider the settings select.
    :param settings: The validated settings of this process.
    :return: A :class:`liqo_core.identity.IdentityProvider`, or None to let the next
        plugin answer.
    """


# --- peering ---------------------------------------------------------------------------


@hookspec
def liqo_peering_steps(settings: LiqoSettings) -> list[PeeringStep]:
    """Return the module's part of ``liqoctl peer`` / ``unpeer``, as ordered steps.

    Called once per ``peer``, ``unpeer``, ``authenticate`` or ``unauthenticate`` run on the
    consumer's side, for the enabled plugins. Each :class:`~liqo_core.peering.PeeringStep`
    has a unique ``name`` and a :class:`~liqo_core.peering.PeeringPhase`; the command
    orders all answers by phase (networking, authentication, resources), drops networking
    with ``--networking-disabled``, and undoes them in reverse on ``unpeer``.

    :param settings: The validated settings of the consumer's ``liqoctl``.
    :return: The module's steps; an empty list for none.
    """


@hookspec
def liqo_peer_status_sources(settings: LiqoSettings) -> list[PeerStatusSource]:
    """Return what the module contributes to its peers' ForeignClusters.

    Called by the controller-manager's always-on ``core`` operator (the ForeignCluster
    controller) and by ``liqoctl info peer``, for the enabled plugins. Objects of each
    source's ``watches`` that belong to a peer make the peer known (its ForeignCluster
    is created, named after its cluster id) and trigger its update; the source's
    ``status`` function gives the module's conditions, role contributions, tenant
    namespaces and API server for one peer. Modules without a source, or disabled,
    show ``enabled: false`` in ``status.modules``.

    :param settings: The validated settings of this process.
    :return: :class:`liqo_core.peers.PeerStatusSource` objects; an empty list for none.
    """


@hookspec
def liqo_replicated_resources(settings: LiqoSettings) -> list[ReplicatedResource]:
    """Return the kinds the module needs copied to its peers (CRD replication).

    Called by the controller-manager for the enabled plugins. Objects of these kinds
    labelled ``liqo.io/replication=true`` and ``liqo.io/remoteID=<peer>`` are copied into
    the peer's tenant namespace (spec local to remote, status remote to local) with the
    peer's ControlPlane kubeconfig. The always-on ``core`` operator runs the replicator
    when at least one enabled plugin declares a kind; several plugins may declare the
    same kind.

    :param settings: The validated settings of this process.
    :return: :class:`liqo_core.replication.ReplicatedResource` objects; an empty list
        for none.
    """
