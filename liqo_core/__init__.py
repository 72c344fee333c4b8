"""Liqo in Python: the core runtime hosting the networking, authentication, offloading modules.

Public API for plugin authors and tools (everything else is private or lives in
:mod:`liqo_core.api`, :mod:`liqo_core.kube` and :mod:`liqo_core.testing`):

- hooks: :data:`hookimpl` to mark implementations, :class:`ModuleInfo`;
- transports: :class:`Transport` and the types of its contract;
- settings: :class:`LiqoSettings`, :func:`load_settings`;
- runtime: :func:`load_runtime`, :class:`LiqoRuntime`, and the errors it raises;
- component roles (``liqo <role>``): :class:`Component`, :class:`ComponentContext`,
  :class:`StopRequest`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from liqo_core._lazy import lazy_getattr

if TYPE_CHECKING:
    from liqo_core._runtime.component import Component, ComponentContext, StopRequest
    from liqo_core._runtime.plugins import (
        MODULES_GROUP,
        TRANSPORTS_GROUP,
        LiqoPluginManager,
        LiqoRuntime,
        LoadedPlugin,
        PluginInfo,
        discover_plugins,
        load_runtime,
    )
    from liqo_core.errors import (
        LiqoError,
        PluginConflictError,
        PluginContractError,
        PluginImportError,
        PluginLoadError,
        PluginStartError,
        SettingsError,
        UnknownPluginError,
    )
    from liqo_core.hookspecs import ModuleInfo, hookimpl, hookspec
    from liqo_core.settings import LiqoSettings, load_settings
    from liqo_core.transport import (
        ConnectionState,
        Endpoint,
        IPVersion,
        KeyPair,
        Transport,
        TransportContext,
        TransportStatus,
    )

# Loaded on first use: importing liqo_core must stay cheap (the API emulator, liqoctl
# and every component import it; pydantic-settings and stevedore cost ~0.4 s).
_EXPORTS = {
    "Component": "liqo_core._runtime.component",
    "ComponentContext": "liqo_core._runtime.component",
    "StopRequest": "liqo_core._runtime.component",
    "LiqoError": "liqo_core.errors",
    "PluginConflictError": "liqo_core.errors",
    "PluginContractError": "liqo_core.errors",
    "PluginImportError": "liqo_core.errors",
    "PluginLoadError": "liqo_core.errors",
    "PluginStartError": "liqo_core.errors",
    "SettingsError": "liqo_core.errors",
    "UnknownPluginError": "liqo_core.errors",
    "MODULES_GROUP": "liqo_core._runtime.plugins",
    "TRANSPORTS_GROUP": "liqo_core._runtime.plugins",
    "LiqoPluginManager": "liqo_core._runtime.plugins",
    "LiqoRuntime": "liqo_core._runtime.plugins",
    "LoadedPlugin": "liqo_core._runtime.plugins",
    "PluginInfo": "liqo_core._runtime.plugins",
    "discover_plugins": "liqo_core._runtime.plugins",
    "load_runtime": "liqo_core._runtime.plugins",
    "LiqoSettings": "liqo_core.settings",
    "load_settings": "liqo_core.settings",
    "ModuleInfo": "liqo_core.hookspecs",
    "hookimpl": "liqo_core.hookspecs",
    "hookspec": "liqo_core.hookspecs",
    "ConnectionState": "liqo_core.transport",
    "Endpoint": "liqo_core.transport",
    "IPVersion": "liqo_core.transport",
    "KeyPair": "liqo_core.transport",
    "Transport": "liqo_core.transport",
    "TransportContext": "liqo_core.transport",
    "TransportStatus": "liqo_core.transport",
}


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


__all__ = [
    "MODULES_GROUP",
    "TRANSPORTS_GROUP",
    "Component",
    "ComponentContext",
    "ConnectionState",
    "Endpoint",
    "IPVersion",
    "KeyPair",
    "LiqoError",
    "LiqoPluginManager",
    "LiqoRuntime",
    "LiqoSettings",
    "LoadedPlugin",
    "ModuleInfo",
    "PluginConflictError",
    "PluginContractError",
    "PluginImportError",
    "PluginInfo",
    "PluginLoadError",
    "PluginStartError",
    "SettingsError",
    "StopRequest",
    "Transport",
    "TransportContext",
    "TransportStatus",
    "UnknownPluginError",
    "discover_plugins",
    "hookimpl",
    "hookspec",
    "load_runtime",
    "load_settings",
]
