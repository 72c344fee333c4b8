"""Errors the runtime raises for bad settings or plugins; each message is one line.

The CLI and the component entry point print ``Error: <message>`` and exit non-zero for
any :class:`LiqoError`, so messages say what is wrong and what to do.
"""

from __future__ import annotations


class LiqoError(Exception):
    """Base of the errors a user can fix; ``str(err)`` is a one-line message."""


class SettingsError(LiqoError):
    """Settings are missing, unreadable or invalid (the message names the field)."""


class PluginLoadError(LiqoError):
    """A module or transport could not be loaded.

    :param kind: ``module`` or ``transport``.
    :param name: Entry-point name of the plugin.
    :param distribution: Distribution that provides it (``unknown`` if none).
    :param message: The complete one-line message.
    """

    def __init__(self, kind: str, name: str, distribution: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name
        self.distribution = distribution


class UnknownPluginError(PluginLoadError):
    """Settings name a module or transport that no installed distribution provides."""


class PluginImportError(PluginLoadError):
    """The plugin's code failed to import."""


class PluginContractError(PluginLoadError):
    """The plugin does not meet its contract (no hooks, not a Transport, ...)."""


class PluginConflictError(PluginLoadError):
    """Two distributions provide a plugin of the same kind under the same name."""


class PluginStartError(PluginLoadError):
    """The plugin raised while being constructed, initialized or configured."""
