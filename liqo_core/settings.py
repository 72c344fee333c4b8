"""Process settings: what to run and how, from a YAML file, the environment and flags.

Sources, highest priority first: keyword arguments (CLI flags), environment variables
(``LIQO_`` prefix, ``__`` between nested names, e.g.
``LIQO_CONTROLLER_MANAGER__HEALTH_PORT=9000``), the YAML config file, defaults. The file
is ``config_file`` (argument), else ``$LIQO_CONFIG_FILE``, else :data:`DEFAULT_CONFIG_FILE`
if it exists. File keys are camelCase (``clusterID``, ``controllerManager``); Python
attributes are snake_case. See docs/architecture.md for the file's shape.

The core's settings hold only what the core reads (cluster, namespace, modules, the
transport choice, the controller-manager process). Every other top-level key is a
*section* owned by a plugin: a :class:`SettingsSection` model declared in entry-point
group ``liqo.settings`` under the section's key. The runtime validates the sections of
the enabled plugins at load (:func:`validate_sections`), and code reads them typed with
:meth:`LiqoSettings.section`.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from liqo_core.errors import SettingsError
from liqo_core.kube.names import check_dns1123_label, check_dns1123_subdomain

#: Config file read when neither an argument nor ``$LIQO_CONFIG_FILE`` names one.
DEFAULT_CONFIG_FILE = Path("/etc/liqo/config.yaml")

#: Name of the controller-manager's always-on operator; no module may take it.
RESERVED_MODULE_NAME = "core"
_PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _plugin_name(value: str) -> str:
    if not _PLUGIN_NAME.match(value):
        raise ValueError(f"{value!r} is not a plugin name (lowercase word, e.g. 'wireguard')")
    return value


def _seconds(value: Any) -> Any:
    """Accept Go-style durations (``15s``, ``1m30s``, ``500ms``) as well as numbers."""
    if not isinstance(value, str) or not value or value.replace(".", "", 1).isdigit():
        return value
    parts = _DURATION_PART.findall(value)
    if "".join(number + unit for number, unit in parts) != value:
        raise ValueError(f"{value!r} is not a duration such as '15s', '2m' or '500ms'")
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def _name_list(value: Any) -> Any:
    """Accept a list, a JSON list or a comma-separated string (from the environment)."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        return json.loads(value)
    return [item.strip() for item in value.split(",") if item.strip()]


DNS1123Label = Annotated[str, AfterValidator(check_dns1123_label)]
DNS1123Subdomain = Annotated[str, AfterValidator(check_dns1123_subdomain)]
PluginName = Annotated[str, BeforeValidator(_plugin_name)]
Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]
Port = Annotated[int, Field(ge=1, le=65535)]


class _Group(BaseModel):
    """A settings group: camelCase in files, snake_case in Python, unknown keys rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
    )


class NetworkingSettings(_Group):
    """Networking module: which transport carries inter-cluster tunnels."""

    transport: PluginName = "wireguard"
    #: Options of each transport, keyed by transport name; the transport validates its own.
    transports: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def transport_options(self, name: str) -> dict[str, Any]:
        """Return the options given for transport ``name`` (empty if none)."""
        return dict(self.transports.get(name, {}))


class LeaderElectionSettings(_Group):
    """Leader election of the controller-manager (a coordination.k8s.io Lease)."""

    enabled: bool = True
    lease_name: DNS1123Subdomain = "66cf253f.ctrlmgr.liqo.io"
    lease_duration: Seconds = 15.0
    renew_deadline: Seconds = 10.0
    retry_period: Seconds = 2.0


class ComponentSettings(_Group):
    """What every component role's process scaffolding reads: probes, metrics, election.

    A role's settings group subclasses it (``controllerManager`` for the
    controller-manager; a plugin's role declares a :class:`SettingsSection` that also
    subclasses it) and may change the defaults.
    """

    leader_election: LeaderElectionSettings = Field(default_factory=LeaderElectionSettings)
    health_port: Port = 8081
    metrics_port: Port = 8082


class ControllerManagerSettings(ComponentSettings):
    """The controller-manager process."""


class WebhookSettings(_Group):
    """A module's admission webhooks (upstream's ``liqo-webhook``: port 9443, failure
    policy Fail), served over HTTPS by the module's kopf operator in the
    controller-manager (see :mod:`liqo_core.webhooks`); a module's section holds one.

    kopf keeps Validating/MutatingWebhookConfiguration :attr:`configuration` pointing at
    this server: through Service :attr:`service` (Liqo namespace) when set, else at URL
    ``https://<host>:<port>``. The serving certificate is :attr:`cert_file` /
    :attr:`key_file` when given (with :attr:`ca_file` as the CA handed to the API server),
    else a self-signed one made at start for the Service's DNS names or ``host``.
    """

    enabled: bool = False
    #: Address the HTTPS server listens on.
    address: str = "0.0.0.0"
    port: Port = 9443
    #: Name of the two webhook configurations (webhook names are ``<rule>.<name>``).
    configuration: DNS1123Subdomain = "liqo-webhook"
    #: Service (in the Liqo namespace) in front of the server, and its port.
    service: DNS1123Label | None = None
    service_port: Port = 443
    #: Host name or IP of the URL the API server calls when there is no Service.
    host: str | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None

    @model_validator(mode="after")
    def _certificate_pair(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("webhook.certFile and webhook.keyFile go together")
        if self.ca_file is not None and self.cert_file is None:
            raise ValueError("webhook.caFile needs webhook.certFile and webhook.keyFile")
        return self


class SettingsSection(_Group):
    """A plugin's own settings: the top-level key :attr:`key` of the settings file.

    Subclass it, set ``key`` (a camelCase file key, usually the module's name), and
    declare the class in entry-point group ``liqo.settings`` under that same key::

        [project.entry-points."liqo.settings"]
        authentication = "liqo_auth.settings:AuthenticationSettings"

    Environment variables reach it as ``LIQO_<KEY>__<FIELD>`` (e.g.
    ``LIQO_AUTHENTICATION__IDENTITY_PROVIDER``).
    """

    key: ClassVar[str]


S = TypeVar("S", bound=SettingsSection)

#: Entry-point group of plugins' settings sections (name: the section's key).
SETTINGS_GROUP = "liqo.settings"


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the YAML config file named by the higher-priority sources (or the default)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        named = self.current_state.get("config_file")
        path = Path(named) if named else DEFAULT_CONFIG_FILE
        if not path.is_file():
            if named:
                raise SettingsError(f"config file {path} does not exist")
            return {}
        try:
            data = YamlConfigSettingsSource(self.settings_cls, yaml_file=path)()
        except (OSError, yaml.YAMLError) as err:
            detail = str(err).replace("\n", " ")
            raise SettingsError(f"cannot read config file {path}: {detail}") from err
        except TypeError as err:
            raise SettingsError(f"config file {path} is not a YAML mapping") from err
        return _by_field_name(self.settings_cls, data)


class _ByFieldName(PydanticBaseSettingsSource):
    """Wraps a source so its keys are field names at every level, like the file's.

    Flags, environment and file may spell a key as alias (``clusterID``) or name
    (``cluster_id``); sources are merged key by key, so they must agree.
    """

    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self._inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _by_field_name(self.settings_cls, self._inner())


def _by_field_name(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """Re-key ``data`` (aliases or names, any case) by ``model``'s field names, recursively.

    Keys that match no field are kept, so validation reports them.
    """
    names: dict[str, str] = {}
    for name, info in model.model_fields.items():
        for key in (name, info.alias or name):
            names[key] = name
            names[key.lower()] = name
    result: dict[str, Any] = {}
    for key, value in data.items():
        name = names.get(key, names.get(key.lower(), key))
        annotation = model.model_fields[name].annotation if name in model.model_fields else None
        is_group = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if is_group and isinstance(value, dict):
            result[name] = _by_field_name(annotation, value)  # type: ignore[arg-type]
        else:
            result[name] = value
    return result


class LiqoSettings(BaseSettings):
    """Settings of every Liqo process (controller-manager, gateway, liqoctl, ...)."""

    model_config = SettingsConfigDict(
        env_prefix="LIQO_",
        env_prefix_target="all",
        env_nested_delimiter="__",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        # Keys that are not core fields are plugins' sections, validated by their owners.
        extra="allow",
        frozen=True,
    )

    #: YAML file the other values were read from (not a key of the file itself).
    config_file: Path | None = Field(default=None, exclude=True)
    #: This cluster's id (ConfigMap ``liqo-clusterid-configmap``); the CLI may omit it.
    cluster_id: DNS1123Label | None = Field(default=None, alias="clusterID")
    #: Namespace Liqo is installed in.
    namespace: DNS1123Label = "liqo"
    #: Enabled modules, in start order; any subset of the installed ones, including none.
    modules: Annotated[list[PluginName], NoDecode, BeforeValidator(_name_list)] = Field(
        default_factory=lambda: ["networking", "authentication", "offloading"]
    )
    #: Which transport the runtime loads for the networking module.
    networking: NetworkingSettings = Field(default_factory=NetworkingSettings)
    controller_manager: ControllerManagerSettings = Field(default_factory=ControllerManagerSettings)

    _sections: dict[str, SettingsSection] = PrivateAttr(default_factory=dict)

    @field_validator("modules")
    @classmethod
    def _unique_modules(cls, value: list[str]) -> list[str]:
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise ValueError(f"modules listed more than once: {', '.join(duplicates)}")
        if RESERVED_MODULE_NAME in value:
            raise ValueError(
                f"{RESERVED_MODULE_NAME!r} is the controller-manager's always-on operator, "
                "not a module: remove it from the list"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags, then environment, then the YAML file."""
        return (
            _ByFieldName(init_settings),
            _ByFieldName(env_settings),
            _SectionEnvSource(settings_cls),
            _YamlFileSource(settings_cls),
        )

    def module_enabled(self, name: str) -> bool:
        """Return whether module ``name`` is enabled."""
        return name in self.modules

    def section_data(self, key: str) -> dict[str, Any]:
        """The raw (unvalidated) data given for section ``key`` (empty if none)."""
        extra = self.model_extra or {}
        value = extra.get(key)
        if value is None:
            value = next((v for k, v in extra.items() if k.lower() == key.lower()), None)
        return dict(value) if isinstance(value, dict) else {}

    def section(self, model: type[S]) -> S:
        """The plugin section ``model`` (its defaults where none was given), validated once.

        :raises SettingsError: the section is invalid (one line naming the field).
        """
        cached = self._sections.get(model.key)
        if isinstance(cached, model):
            return cached
        extra = self.model_extra or {}
        if model.key in extra and not isinstance(extra[model.key], dict):
            raise SettingsError(f"invalid setting {model.key}: must be a mapping")
        try:
            value = model.model_validate(_by_field_name(model, self.section_data(model.key)))
        except ValidationError as err:
            raise SettingsError(describe_validation_error(err, model, model.key)) from None
        self._sections[model.key] = value
        return value

    def section_keys(self) -> list[str]:
        """The top-level keys given that are not core settings (plugins' sections)."""
        return sorted(self.model_extra or {})


@cache
def section_entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """The installed settings sections by key (entry-point group ``liqo.settings``)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=SETTINGS_GROUP)}


class _SectionEnvSource(PydanticBaseSettingsSource):
    """``LIQO_<SECTION>__<FIELD>[__<FIELD>...]`` for the installed sections' keys.

    Values that look like JSON objects or lists are decoded; the rest stay strings for
    the section's model to convert.
    """

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        keys = {_env_name(key): key for key in section_entry_points()}
        found: dict[str, Any] = {}
        for variable, value in os.environ.items():
            head, _, rest = variable.partition("__")
            if not rest or not head.startswith("LIQO_"):
                continue
            key = keys.get(head.removeprefix("LIQO_"))
            if key is None:
                continue
            node = found.setdefault(key, {})
            *parents, leaf = rest.lower().split("__")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = _env_value(value)
        return found


def _env_name(key: str) -> str:
    """``fooBar`` -> ``FOO_BAR`` (a camelCase key as an environment variable segment)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).upper()


def _env_value(value: str) -> Any:
    if value.lstrip().startswith(("{", "[")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load_section_model(key: str) -> type[SettingsSection] | None:
    """Import the model of section ``key``, or None when no installed plugin declares it.

    :raises SettingsError: the entry point does not load, or is not a
        :class:`SettingsSection` whose ``key`` is ``key``.
    """
    ep = section_entry_points().get(key)
    if ep is None:
        return None
    where = f"settings section {key!r} ({ep.value})"
    try:
        model = ep.load()
    except Exception as err:
        raise SettingsError(f"{where} failed to import: {type(err).__name__}: {err}") from err
    if not (isinstance(model, type) and issubclass(model, SettingsSection)):
        raise SettingsError(f"{where} is not a liqo_core.settings.SettingsSection")
    if getattr(model, "key", None) != key:
        raise SettingsError(f"{where} declares key {getattr(model, 'key', None)!r}, not {key!r}")
    if key in LiqoSettings.model_fields or key in _CORE_KEYS:
        raise SettingsError(f"{where} takes a key of the core settings: rename it")
    return model


_CORE_KEYS = {info.alias for info in LiqoSettings.model_fields.values() if info.alias}


def validate_sections(settings: LiqoSettings, owners: list[str]) -> None:
    """Validate the sections of plugins ``owners`` and refuse keys no installed plugin owns.

    Called by the runtime at load, so that a bad value stops the process at start with
    one line naming the field. A section of an installed but disabled plugin is left
    unvalidated (the chart may render it while the module is off).

    :raises SettingsError: a section is invalid, or a key names no installed section.
    """
    installed = section_entry_points()
    for key in settings.section_keys():
        if key not in installed:
            raise SettingsError(
                f"unknown setting {key}: no installed plugin declares a settings section "
                f"{key!r} (installed sections: {', '.join(sorted(installed)) or 'none'})"
            )
    for key in owners:
        model = load_section_model(key)
        if model is not None:
            settings.section(model)


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> LiqoSettings:
    """Build :class:`LiqoSettings`, turning any problem into a one-line :class:`SettingsError`.

    Plugins' sections given are validated too, and a top-level key that no installed
    plugin declares is refused.

    :param config_file: YAML file to read; defaults to ``$LIQO_CONFIG_FILE``, then
        :data:`DEFAULT_CONFIG_FILE` if present.
    :param overrides: Values that win over every other source (snake_case names).
    """
    if config_file is not None:
        overrides["config_file"] = Path(config_file)
    try:
        settings = LiqoSettings(**overrides)
    except ValidationError as err:
        raise SettingsError(describe_validation_error(err)) from None
    validate_sections(settings, settings.section_keys())
    return settings


def describe_validation_error(
    err: ValidationError, model: type[BaseModel] | None = None, key: str | None = None
) -> str:
    """Return one line naming the first invalid field and why, e.g. for the CLI.

    :param model: The model that failed (default: :class:`LiqoSettings`).
    :param key: The section's top-level key, when ``model`` is a plugin's section.
    """
    first = err.errors()[0]
    field = _setting_name(first["loc"], model or LiqoSettings, key)
    message = first["msg"].removeprefix("Value error, ")
    more = err.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"invalid setting {field}: {message}{suffix}"


def _setting_name(loc: tuple[int | str, ...], root: type[BaseModel], key: str | None = None) -> str:
    """Name a field as in the config file, with its environment variable."""
    model: type[BaseModel] | None = root
    file_keys: list[str] = [key] if key else []
    env_parts: list[str] = [_env_name(key).lower()] if key else []
    unknown = False
    for part in loc:
        fields = model.model_fields if model is not None else {}
        name = next((n for n, i in fields.items() if part in (n, i.alias)), str(part))
        info = fields.get(name)
        if info is None:
            if model is not None:  # not a field at all: no variable can set it
                unknown = True
            file_keys.append(str(part))  # else a list index or dict key inside a field
            model = None
            continue
        file_keys.append(info.alias or name)
        env_parts.append(name)
        annotation = info.annotation
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    if not file_keys:
        return "settings"
    if key and len(file_keys) == 1:
        return key
    if unknown:
        return ".".join(file_keys)
    env = "LIQO_" + "__".join(env_parts).upper()
    return f"{'.'.join(file_keys)} ({env})"
