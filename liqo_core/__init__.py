"""Liqo in Python: the core runtime hosting the networking, authentication, offloading modules.

Public API for plugin authors and tools (everything else is private or lives in
:mod:`liqo_core.api`, :mod:`liqo_core.kube` and :mod:`liqo_core.testing`):

- hooks: :data:`hookimpl` to mark implementations, :class:`ModuleInfo`;
- transports: :class:`Transport` and the types of its contract;
- settings: :class:`LiqoSettings`, :func:`load_settings`;
- runtime: :func:`load_runtime`, :class:`LiqoRuntime`, and the errors it raises.
"""

from liqo_core._runtime.errors import (
    LiqoError,
    PluginConflictError,
    PluginContractError,
    PluginImportError,
    PluginLoadError,
    PluginStartError,
    SettingsError,
    UnknownPluginError,
)
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
from liqo_core._runtime.settings import LiqoSettings, load_settings
from liqo_core.hookspecs import ModuleInfo, hookimpl, hookspec
from liqo_core.transport import (
    ConnectionState,
    Endpoint,
    IPVersion,
    KeyPair,
    Transport,
    TransportContext,
    TransportStatus,
)

__all__ = [
    "MODULES_GROUP",
    "TRANSPORTS_GROUP",
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
