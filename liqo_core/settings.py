"""Process settings: what to run and how, from a YAML file, the environment and flags.

Sources, highest priority first: keyword arguments (CLI flags), environment variables
(``LIQO_`` prefix, ``__`` between nested names, e.g.
``LIQO_CONTROLLER_MANAGER__HEALTH_PORT=9000``), the YAML config file, defaults. The file
is ``config_file`` (argument), else ``$LIQO_CONFIG_FILE``, else :data:`DEFAULT_CONFIG_FILE`
if it exists. File keys are camelCase (``clusterID``, ``controllerManager``); Python
attributes are snake_case. See docs/architecture.md for the file's shape.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
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

#: Config file read when neither an argument nor ``$LIQO_CONFIG_FILE`` names one.
DEFAULT_CONFIG_FILE = Path("/etc/liqo/config.yaml")

#: Name of the controller-manager's always-on operator; no module may take it.
RESERVED_MODULE_NAME = "core"
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _dns1123_label(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


def _dns1123_subdomain(value: str) -> str:
    if len(value) > 253 or not all(_DNS1123_LABEL.match(part) for part in value.split(".")):
        raise ValueError(
            f"{value!r} is not a DNS-1123 subdomain (dot-separated DNS-1123 labels, "
            "at most 253 characters)"
        )
    return value


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


DNS1123Label = Annotated[str, AfterValidator(_dns1123_label)]
DNS1123Subdomain = Annotated[str, AfterValidator(_dns1123_subdomain)]
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


class AuthenticationSettings(_Group):
    """Authentication module (upstream Helm ``authentication.*``)."""

    tls_compatibility_mode: bool = False
    default_resource_slice_class_enabled: bool = True
    #: Which identity provider issues consumers' credentials: ``kubernetes-csr`` (the
    #: Kubernetes CSR API, the default), ``serviceaccount-token`` (ServiceAccount tokens,
    #: for API servers that sign no client certificates, as on EKS), or the name a
    #: third-party plugin answers to in ``liqo_identity_provider``.
    identity_provider: PluginName = "kubernetes-csr"
    #: Lifetime asked for consumers' credentials (CSR ``expirationSeconds``, token
    #: ``expirationSeconds``); empty means the signer's default. Credentials are renewed
    #: at 2/3 of their lifetime. Real signers refuse less than 600 seconds.
    credential_lifetime: Seconds | None = None


def _default_node_resources() -> dict[str, str]:
    return {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "20Gi"}


class OffloadingSettings(_Group):
    """Offloading module (upstream Helm ``offloading.*``)."""

    default_node_resources: dict[str, str] = Field(default_factory=_default_node_resources)

    @field_validator("default_node_resources")
    @classmethod
    def _quantities(cls, value: dict[str, str]) -> dict[str, str]:
        for resource, quantity in value.items():
            if not _QUANTITY.match(quantity):
                raise ValueError(f"{resource}: {quantity!r} is not a Kubernetes quantity")
        return value


class ApiServerSettings(_Group):
    """How consumers reach this cluster's API server (upstream Helm ``apiServer.*``)."""

    #: URL given to consumers in ``authParams.apiServer``; empty means the URL the
    #: controller-manager itself uses.
    address: str | None = None
    #: CA (PEM) given to consumers in ``authParams.ca``; empty means the CA the
    #: controller-manager trusts, else ``kube-root-ca.crt``.
    ca: str | None = None


class DiscoverySettings(_Group):
    """This cluster's identity as offered to peers (upstream Helm ``discovery.config.*``)."""

    #: Labels offered to consumers (``ResourceSlice.status.nodeLabels``, virtual-node labels).
    cluster_labels: dict[str, str] = Field(default_factory=dict)


class LeaderElectionSettings(_Group):
    """Leader election of the controller-manager (a coordination.k8s.io Lease)."""

    enabled: bool = True
    lease_name: DNS1123Subdomain = "66cf253f.ctrlmgr.liqo.io"
    lease_duration: Seconds = 15.0
    renew_deadline: Seconds = 10.0
    retry_period: Seconds = 2.0


class ControllerManagerSettings(_Group):
    """The controller-manager process."""

    leader_election: LeaderElectionSettings = Field(default_factory=LeaderElectionSettings)
    health_port: Port = 8081
    metrics_port: Port = 8082
    #: ``limitsEnforcement`` stamped on the Quotas of granted ResourceSlices.
    default_limits_enforcement: Literal["None", "Soft", "Hard"] = "None"


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
        extra="forbid",
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
    networking: NetworkingSettings = Field(default_factory=NetworkingSettings)
    authentication: AuthenticationSettings = Field(default_factory=AuthenticationSettings)
    offloading: OffloadingSettings = Field(default_factory=OffloadingSettings)
    #: Options of third-party modules, keyed by module name; each module validates its own
    #: (the built-in modules have their own sections above).
    module_options: dict[PluginName, dict[str, Any]] = Field(default_factory=dict)
    api_server: ApiServerSettings = Field(default_factory=ApiServerSettings)
    discovery: DiscoverySettings = Field(default_factory=DiscoverySettings)
    controller_manager: ControllerManagerSettings = Field(default_factory=ControllerManagerSettings)

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
            _YamlFileSource(settings_cls),
        )

    def module_enabled(self, name: str) -> bool:
        """Return whether module ``name`` is enabled."""
        return name in self.modules

    def options_of(self, module: str) -> dict[str, Any]:
        """Return the ``moduleOptions`` given for third-party module ``module`` (empty if none)."""
        return dict(self.module_options.get(module, {}))


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> LiqoSettings:
    """Build :class:`LiqoSettings`, turning any problem into a one-line :class:`SettingsError`.

    :param config_file: YAML file to read; defaults to ``$LIQO_CONFIG_FILE``, then
        :data:`DEFAULT_CONFIG_FILE` if present.
    :param overrides: Values that win over every other source (snake_case names).
    """
    if config_file is not None:
        overrides["config_file"] = Path(config_file)
    try:
        return LiqoSettings(**overrides)
    except ValidationError as err:
        raise SettingsError(describe_validation_error(err)) from None


def describe_validation_error(err: ValidationError) -> str:
    """Return one line naming the first invalid field and why, e.g. for the CLI."""
    first = err.errors()[0]
    field = _setting_name(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    more = err.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"invalid setting {field}: {message}{suffix}"


def _setting_name(loc: tuple[int | str, ...]) -> str:
    """Name a field as in the config file, with its environment variable."""
    model: type[BaseModel] | None = LiqoSettings
    file_keys: list[str] = []
    env_parts: list[str] = []
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
    if unknown:
        return ".".join(file_keys)
    env = "LIQO_" + "__".join(env_parts).upper()
    return f"{'.'.join(file_keys)} ({env})"
