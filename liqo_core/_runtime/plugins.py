"""Finding, loading and hosting the enabled modules and the transport.

stevedore finds plugins by name in the entry-point groups; pluggy carries the hook calls
between the core and them. Start-up runs in phases, and each phase finishes for every
plugin before the next begins (as neutron's managers do)::

    import classes -> check contracts -> construct -> register -> initialize transport
    -> liqo_configure (historic)

If any phase fails, what was already registered is unconfigured and unregistered and a
:class:`~liqo_core.errors.PluginLoadError` names the plugin, its distribution
and what to do.

Plugins are imported by stevedore (``invoke_on_load=False``) and constructed here with
``settings``: that is how an import failure, a broken contract and a failing constructor
get three distinct, accurate messages.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import pluggy
from stevedore import DriverManager, NamedExtensionManager
from stevedore.exception import NoMatches
from stevedore.extension import Extension, ExtensionManager

from liqo_core import hookspecs
from liqo_core.errors import (
    PluginConflictError,
    PluginContractError,
    PluginImportError,
    PluginStartError,
    SettingsError,
    UnknownPluginError,
)
from liqo_core.hookspecs import ModuleInfo
from liqo_core.settings import validate_sections
from liqo_core.transport import Transport

if TYPE_CHECKING:
    import kopf

    from liqo_core.api.resource import CustomResource
    from liqo_core.identity import IdentityProvider
    from liqo_core.peers import PeerStatusSource
    from liqo_core.replication import ReplicatedResource
    from liqo_core.settings import LiqoSettings

LOG = logging.getLogger(__name__)

#: Entry-point group of modules.
MODULES_GROUP = "liqo.modules"
#: Entry-point group of transports.
TRANSPORTS_GROUP = "liqo.network.transports"
#: The module that needs a transport.
NETWORKING_MODULE = "networking"

PluginKind = Literal["module", "transport"]
_KIND_OF_GROUP: dict[str, PluginKind] = {MODULES_GROUP: "module", TRANSPORTS_GROUP: "transport"}


class LiqoPluginManager(pluggy.PluginManager):
    """The pluggy manager of a Liqo process, with every production ``liqo_*`` spec added.

    :param extra_hookspecs: Spec modules of the hosting process (the sandbox adds
        :mod:`liqo_core.sandbox.hookspecs`); plugins implement those with
        ``optionalhook=True`` so that other hosts still load them.
    """

    def __init__(self, extra_hookspecs: Iterable[ModuleType] = ()) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        for specs in extra_hookspecs:
            self.add_hookspecs(specs)

    def hook_of(self, plugin_name: str, hook_name: str) -> pluggy.HookCaller:
        """Return a caller of ``hook_name`` that reaches only plugin ``plugin_name``."""
        others = [plugin for name, plugin in self.list_name_plugin() if name != plugin_name]
        return self.subset_hook_caller(hook_name, remove_plugins=others)


@dataclass(frozen=True)
class PluginInfo:
    """One installed plugin, as its entry point describes it (nothing is imported).

    :param kind: ``module`` or ``transport``.
    :param name: Entry-point name (what settings refer to).
    :param distribution: Distribution that declares it, ``unknown`` if none.
    :param version: That distribution's version, ``unknown`` if none.
    :param target: ``package.module:attribute`` the entry point loads.
    :param enabled: Whether the given settings enable it.
    """

    kind: PluginKind
    name: str
    distribution: str
    version: str
    target: str
    enabled: bool


@dataclass(frozen=True)
class LoadedPlugin:
    """A constructed plugin and where it came from.

    :param kind: ``module`` or ``transport``.
    :param name: Entry-point name.
    :param plugin_name: Name it is registered under on the plugin manager
        (the entry-point name for modules, ``transport:<name>`` for the transport).
    :param distribution: Distribution that provides it.
    :param version: That distribution's version.
    :param obj: The plugin object.
    """

    kind: PluginKind
    name: str
    plugin_name: str
    distribution: str
    version: str
    obj: Any


def distribution_of(entry_point: importlib.metadata.EntryPoint) -> tuple[str, str]:
    """Return ``(name, version)`` of the distribution declaring ``entry_point``."""
    dist = entry_point.dist
    if dist is None:
        return "unknown", "unknown"
    return dist.metadata["Name"] or "unknown", dist.version or "unknown"


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    # Read the installed metadata directly: stevedore's on-disk cache drops ``.dist``,
    # which every message and ``plugins list`` need, and goes stale when plugins are
    # installed while a process runs.
    return list(importlib.metadata.entry_points(group=group))


class _ModuleManager(NamedExtensionManager[Any]):
    def list_entry_points(self) -> list[importlib.metadata.EntryPoint]:
        return _entry_points(self.namespace)


class _TransportManager(DriverManager[Any]):
    def list_entry_points(self) -> list[importlib.metadata.EntryPoint]:
        return _entry_points(self.namespace)


def discover_plugins(settings: LiqoSettings) -> list[PluginInfo]:
    """List every installed module and transport, marking those ``settings`` enable."""
    networking = settings.module_enabled(NETWORKING_MODULE)
    found: list[PluginInfo] = []
    for group, kind in _KIND_OF_GROUP.items():
        for ep in sorted(_entry_points(group), key=lambda ep: ep.name):
            distribution, version = distribution_of(ep)
            if kind == "module":
                enabled = settings.module_enabled(ep.name)
            else:
                enabled = networking and ep.name == settings.networking.transport
            found.append(PluginInfo(kind, ep.name, distribution, version, ep.value, enabled))
    return found


def _remedy(kind: PluginKind) -> str:
    return "remove it from `modules`" if kind == "module" else "choose another transport"


def _on_missing(group: str) -> Callable[[Iterable[str]], NoReturn]:
    kind = _KIND_OF_GROUP[group]

    def raise_unknown(names: Iterable[str]) -> NoReturn:
        name = sorted(names)[0]
        available = sorted({ep.name for ep in _entry_points(group)})
        setting = "modules" if kind == "module" else "networking.transport"
        raise UnknownPluginError(
            kind,
            name,
            "unknown",
            f"{kind} {name!r} is not installed (installed {kind}s: "
            f"{', '.join(available) or 'none'}): install the distribution that provides "
            f"it, or fix `{setting}`",
        )

    return raise_unknown


def _on_load_failure(
    manager: ExtensionManager[Any], ep: importlib.metadata.EntryPoint, err: BaseException
) -> None:
    kind = _KIND_OF_GROUP[manager.namespace]
    distribution, _ = distribution_of(ep)
    raise PluginImportError(
        kind,
        ep.name,
        distribution,
        f"{kind} {ep.name!r} from distribution {distribution!r} failed to import "
        f"({ep.value}: {type(err).__name__}: {_one_line(err)}): reinstall {distribution!r} "
        f"with its dependencies, or {_remedy(kind)}",
    ) from err


def _check_unique(group: str, names: Iterable[str]) -> None:
    """Refuse a selected name that several distributions declare, before importing any.

    (stevedore's ``conflict_resolver`` only sees duplicates that happen to be adjacent
    in the entry-point list, so the check is done here.)
    """
    kind = _KIND_OF_GROUP[group]
    wanted = set(names)
    providers: dict[str, list[str]] = {}
    for ep in _entry_points(group):
        if ep.name in wanted:
            providers.setdefault(ep.name, []).append(distribution_of(ep)[0])
    for name in names:
        distributions = sorted(providers.get(name, []))
        if len(distributions) > 1:
            raise PluginConflictError(
                kind,
                name,
                distributions[0],
                f"{kind} {name!r} is provided by several distributions "
                f"({', '.join(repr(d) for d in distributions)}): uninstall all but one",
            )


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


class LiqoRuntime:
    """The loaded plugins of one process: a plugin manager, the modules and the transport.

    Build it with :func:`load_runtime`; call :meth:`close` (or use it as a context
    manager) at shutdown.
    """

    def __init__(self, settings: LiqoSettings, pm: LiqoPluginManager) -> None:
        self.settings = settings
        self.pm = pm
        #: Enabled modules, in the order of ``settings.modules``.
        self.modules: list[LoadedPlugin] = []
        #: The transport, when the networking module is enabled.
        self.transport_plugin: LoadedPlugin | None = None

    @property
    def transport(self) -> Transport | None:
        """The transport driver, or None when the networking module is off."""
        return self.transport_plugin.obj if self.transport_plugin else None

    @property
    def plugins(self) -> list[LoadedPlugin]:
        """Modules in order, then the transport."""
        return [*self.modules, *([self.transport_plugin] if self.transport_plugin else [])]

    def answers(
        self,
        hook_name: str,
        expected: type,
        what: str,
        *,
        classes: bool = False,
        **kwargs: Any,
    ) -> Iterator[tuple[LoadedPlugin, Any]]:
        """Call ``hook_name`` on every plugin in start order and check each answer.

        Hooks that return lists are flattened (one ``(plugin, item)`` per item); a plugin
        that does not implement the hook yields nothing.

        :param expected: What each item must be an instance of (with ``classes``, a
            subclass of).
        :param what: How the contract names an item in messages
            (``liqo_core.peers.PeerStatusSource``).
        :raises PluginContractError: an item is not what the contract says.
        """
        for plugin in self.plugins:
            for answer in self.pm.hook_of(plugin.plugin_name, hook_name)(**kwargs):
                for item in answer if isinstance(answer, list | tuple) else [answer]:
                    if classes:
                        valid = isinstance(item, type) and issubclass(item, expected)
                    else:
                        valid = isinstance(item, expected)
                    if not valid:
                        raise _contract_error(
                            plugin, f"returned {item!r} from {hook_name}, which is not a {what}"
                        )
                    yield plugin, item

    def module_registries(self) -> dict[str, kopf.OperatorRegistry]:
        """Build one fresh kopf registry per plugin, filled by that plugin's handlers alone.

        Keys are plugin-manager names (``networking``, ..., ``transport:wireguard``), in
        start order. A registry may be empty.
        """
        import kopf

        registries: dict[str, kopf.OperatorRegistry] = {}
        for plugin in self.plugins:
            registry = kopf.OperatorRegistry()
            try:
                self.pm.hook_of(plugin.plugin_name, "liqo_register_handlers")(
                    registry=registry, settings=self.settings, hooks=self.pm.hook
                )
            except SettingsError:
                raise
            except Exception as err:
                raise _start_error(plugin, "register its handlers", err) from err
            registries[plugin.plugin_name] = registry
        return registries

    def peer_status_sources(self) -> list[PeerStatusSource]:
        """Every enabled plugin's :func:`~liqo_core.hookspecs.liqo_peer_status_sources`."""
        from liqo_core.peers import PeerStatusSource

        return [
            source
            for _, source in self.answers(
                "liqo_peer_status_sources",
                PeerStatusSource,
                "liqo_core.peers.PeerStatusSource",
                settings=self.settings,
            )
        ]

    def replicated_resources(self) -> list[ReplicatedResource]:
        """The kinds the enabled plugins need replicated to peers, without repeats, in
        start order (:func:`~liqo_core.hookspecs.liqo_replicated_resources`)."""
        from liqo_core.replication import ReplicatedResource

        found = self.answers(
            "liqo_replicated_resources",
            ReplicatedResource,
            "liqo_core.replication.ReplicatedResource",
            settings=self.settings,
        )
        return list(dict.fromkeys(resource for _, resource in found))

    def core_registry(self) -> kopf.OperatorRegistry:
        """A fresh registry of the always-on ``core`` operator: the ForeignCluster
        controller fed by the enabled plugins' peer status sources, and the CRD
        replicator when an enabled plugin declares replicated kinds."""
        import kopf

        from liqo_core.peers.controller import register

        registry = kopf.OperatorRegistry()
        register(registry, self.settings, self.peer_status_sources())
        resources = self.replicated_resources()
        if resources:
            from liqo_core.replication import controller as replication

            replication.register(registry, self.settings, resources)
        return registry

    def module_info(self) -> dict[str, ModuleInfo]:
        """What each plugin answering ``liqo_module_info`` declares it owns, with
        ``controllers`` derived from the handlers it registers."""
        registries = self.module_registries()
        info: dict[str, ModuleInfo] = {}
        for plugin, declared in self.answers("liqo_module_info", ModuleInfo, "ModuleInfo"):
            controllers = controller_names(registries[plugin.plugin_name])
            info[plugin.plugin_name] = dataclasses.replace(declared, controllers=controllers)
        return info

    def api_models(self) -> list[type[CustomResource]]:
        """Every custom-resource model the plugins own, in start order."""
        from liqo_core.api.resource import CustomResource

        return [
            model
            for _, model in self.answers(
                "liqo_api_models", CustomResource, "liqo_core.api.CustomResource", classes=True
            )
        ]

    def identity_provider(self, name: str) -> IdentityProvider:
        """The identity provider called ``name``, as the enabled plugins answer for it.

        :raises SettingsError: no enabled plugin answers for ``name``.
        :raises PluginContractError: the answer is not an :class:`IdentityProvider`.
        """
        from liqo_core.identity import resolve_identity_provider

        return resolve_identity_provider(self.pm.hook, name, self.settings)

    def close(self) -> None:
        """Unconfigure (``liqo_unconfigure``) and unregister every plugin. Idempotent."""
        try:
            if self.pm.get_plugins():
                self.pm.hook.liqo_unconfigure(settings=self.settings)
        finally:
            for name, plugin in list(self.pm.list_name_plugin()):
                with suppress(ValueError):
                    self.pm.unregister(plugin=plugin, name=name)
            self.modules = []
            self.transport_plugin = None

    def __enter__(self) -> LiqoRuntime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def controller_names(registry: kopf.OperatorRegistry) -> tuple[str, ...]:
    """The controllers of ``registry``: the ids of its resource handlers and webhooks,
    each cut at its first ``-`` (``resourceslice_remote-tenant`` is a handler of
    ``resourceslice_remote``); start-up and clean-up activities are not controllers.
    Toolkit controllers hosted in the operator
    (:func:`~liqo_core.controllers.host_controllers`) count by their names."""
    from liqo_core.controllers import hosted_controller_names

    names: dict[str, None] = dict.fromkeys(hosted_controller_names(registry))
    for kind in ("_watching", "_spawning", "_changing", "_webhooks", "_indexing"):
        handlers = getattr(registry, kind, None)
        for handler in handlers.get_all_handlers() if handlers is not None else ():
            names.setdefault(str(handler.id).split("-", 1)[0], None)
    return tuple(sorted(names))


def _start_error(plugin: LoadedPlugin, action: str, err: BaseException) -> PluginStartError:
    return PluginStartError(
        plugin.kind,
        plugin.name,
        plugin.distribution,
        f"{plugin.kind} {plugin.name!r} from distribution {plugin.distribution!r} failed to "
        f"{action}: {type(err).__name__}: {_one_line(err)}",
    )


def load_runtime(settings: LiqoSettings, *, hookspecs: Iterable[ModuleType] = ()) -> LiqoRuntime:
    """Load, check, construct, register and configure the plugins ``settings`` enable.

    Modules come from group ``liqo.modules`` in the order of ``settings.modules`` (any
    subset, including none); the transport named by ``settings.networking.transport``
    comes from ``liqo.network.transports``, only when the networking module is enabled.

    :param hookspecs: Extra spec modules of the hosting process (see
        :class:`LiqoPluginManager`).
    :raises PluginLoadError: a plugin is missing, broken, ambiguous or failed to start;
        nothing stays registered.
    :raises SettingsError: a plugin rejected its options.
    """
    runtime = LiqoRuntime(settings, LiqoPluginManager(hookspecs))
    try:
        module_exts = _load_modules(settings)
        validate_sections(settings, [ext.name for ext in module_exts])
        transport_ext = (
            _load_transport(settings) if settings.module_enabled(NETWORKING_MODULE) else None
        )
        for ext in module_exts:
            runtime.modules.append(_construct(ext, "module", ext.name, settings))
        if transport_ext is not None:
            runtime.transport_plugin = _construct(
                transport_ext, "transport", f"transport:{transport_ext.name}", settings
            )
        for plugin in runtime.plugins:
            _register(runtime.pm, plugin)
        _check_pending(runtime)
        if runtime.transport_plugin is not None:
            try:
                runtime.transport_plugin.obj.initialize()
            except SettingsError:
                raise
            except Exception as err:
                raise _start_error(runtime.transport_plugin, "initialize", err) from err
        _configure(runtime)
    except BaseException:
        try:
            runtime.close()
        except Exception:  # keep the original error; this one is secondary
            LOG.warning("unconfiguring after a failed start failed too", exc_info=True)
        raise
    LOG.info(
        "loaded modules [%s], transport %s",
        ", ".join(plugin.name for plugin in runtime.modules),
        runtime.transport_plugin.name if runtime.transport_plugin else "none",
    )
    return runtime


def _load_modules(settings: LiqoSettings) -> list[Extension[Any]]:
    _check_unique(MODULES_GROUP, settings.modules)
    manager = _ModuleManager(
        MODULES_GROUP,
        names=list(settings.modules),
        name_order=True,
        invoke_on_load=False,
        on_load_failure_callback=_on_load_failure,
        on_missing_entrypoints_callback=_on_missing(MODULES_GROUP),
    )
    return list(manager.extensions)


def _load_transport(settings: LiqoSettings) -> Extension[Any]:
    name = settings.networking.transport
    _check_unique(TRANSPORTS_GROUP, [name])
    try:
        manager = _TransportManager(
            TRANSPORTS_GROUP,
            name=name,
            invoke_on_load=False,
            on_load_failure_callback=_on_load_failure,
        )
    except NoMatches:  # DriverManager does not forward on_missing_entrypoints_callback
        _on_missing(TRANSPORTS_GROUP)([name])
        raise
    return manager.extensions[0]


def _check_transport_class(ext: Extension[Any], distribution: str) -> None:
    cls = ext.plugin

    def broken(problem: str) -> PluginContractError:
        return PluginContractError(
            "transport",
            ext.name,
            distribution,
            f"transport {ext.name!r} from distribution {distribution!r} {problem}: fix or "
            "upgrade the distribution, or choose another transport",
        )

    if not (isinstance(cls, type) and issubclass(cls, Transport)):
        raise broken(f"is not a liqo_core.Transport subclass ({ext.entry_point.value})")
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise broken(f"does not implement {', '.join(missing)}")
    if getattr(cls, "name", None) != ext.name:
        raise broken(f"declares name {getattr(cls, 'name', None)!r}, not {ext.name!r}")


def _construct(
    ext: Extension[Any], kind: PluginKind, plugin_name: str, settings: LiqoSettings
) -> LoadedPlugin:
    distribution, version = distribution_of(ext.entry_point)
    if kind == "transport":
        _check_transport_class(ext, distribution)
    if not callable(ext.plugin):
        raise PluginContractError(
            kind,
            ext.name,
            distribution,
            f"{kind} {ext.name!r} from distribution {distribution!r} is not a class or "
            f"factory ({ext.entry_point.value}): fix the entry point, or {_remedy(kind)}",
        )
    loaded = LoadedPlugin(kind, ext.name, plugin_name, distribution, version, None)
    try:
        obj = ext.plugin(settings=settings)
    except SettingsError:
        raise
    except Exception as err:
        raise _start_error(loaded, "start", err) from err
    ext.obj = obj
    return LoadedPlugin(kind, ext.name, plugin_name, distribution, version, obj)


def _register(pm: LiqoPluginManager, plugin: LoadedPlugin) -> None:
    try:
        pm.register(plugin.obj, name=plugin.plugin_name)
    except pluggy.PluginValidationError as err:
        raise _contract_error(plugin, _one_line(err)) from err
    except ValueError as err:  # name or object already registered
        raise _contract_error(plugin, _one_line(err)) from err
    if plugin.kind == "module" and not pm.get_hookcallers(plugin.obj):
        raise _contract_error(plugin, "implements no liqo_* hook (mark them with @hookimpl)")


def _contract_error(plugin: LoadedPlugin, problem: str) -> PluginContractError:
    return PluginContractError(
        plugin.kind,
        plugin.name,
        plugin.distribution,
        f"{plugin.kind} {plugin.name!r} from distribution {plugin.distribution!r} {problem}: "
        f"fix or upgrade the distribution, or {_remedy(plugin.kind)}",
    )


def _check_pending(runtime: LiqoRuntime) -> None:
    try:
        runtime.pm.check_pending()
    except pluggy.PluginValidationError as err:
        plugin = next(p for p in runtime.plugins if p.obj is err.plugin)
        raise _contract_error(plugin, _one_line(err)) from err


def _configure(runtime: LiqoRuntime) -> None:
    hook = runtime.pm.hook.liqo_configure
    try:
        hook.call_historic(kwargs={"settings": runtime.settings})
    except SettingsError:
        raise
    except Exception as err:
        culprit = _raising_plugin(runtime, hook.get_hookimpls(), err)
        if culprit is None:
            raise
        raise _start_error(culprit, "configure", err) from err


def _raising_plugin(
    runtime: LiqoRuntime, impls: Iterable[pluggy.HookImpl], err: BaseException
) -> LoadedPlugin | None:
    """Find which plugin's implementation ``err`` was raised in, from its traceback."""
    codes = {impl.function.__code__: impl.plugin for impl in impls}
    for frame_code in _traceback_codes(err):
        if frame_code in codes:
            return next(p for p in runtime.plugins if p.obj is codes[frame_code])
    return None


def _traceback_codes(err: BaseException) -> Iterator[Any]:
    tb = err.__traceback__
    while tb is not None:
        yield tb.tb_frame.f_code
        tb = tb.tb_next
