"""load_runtime: finding, checking, starting and stopping modules and the transport.

The first-party plugins are installed in the test environment. Other plugins are real
distributions written per test into a directory put on ``sys.path`` (a ``.dist-info``
with ``entry_points.txt`` next to the code), so discovery goes through
``importlib.metadata`` exactly as for an installed wheel.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import kopf
import pytest

from liqo_core import (
    LiqoSettings,
    ModuleInfo,
    PluginConflictError,
    PluginContractError,
    PluginImportError,
    PluginStartError,
    SettingsError,
    UnknownPluginError,
    discover_plugins,
    load_runtime,
)
from liqo_core._runtime.plugins import LiqoPluginManager

_serial = itertools.count()

RECORDER = """
from liqo_core import ModuleInfo, hookimpl

EVENTS = []


class Recorder:
    def __init__(self, settings):
        self.settings = settings
        self.registries = []
        EVENTS.append(("init", NAME))

    @hookimpl
    def liqo_configure(self, settings):
        EVENTS.append(("configure", NAME))

    @hookimpl
    def liqo_unconfigure(self, settings):
        EVENTS.append(("unconfigure", NAME))

    @hookimpl
    def liqo_register_handlers(self, registry, settings):
        self.registries.append(registry)

        @kopf.on.create("v1", "configmaps", registry=registry)
        def handle(**_):
            pass

    @hookimpl
    def liqo_module_info(self):
        return ModuleInfo(description=NAME, api_groups=(NAME + ".test",))
"""

FAKE_TRANSPORT = """
from liqo_core import KeyPair, Transport, TransportStatus, ConnectionState

EVENTS = []


class Fake(Transport):
    name = NAME

    def __init__(self, settings):
        super().__init__(settings)
        EVENTS.append(("init", NAME))

    def initialize(self):
        EVENTS.append(("initialize", NAME))
        if self.settings.networking.transport_options(NAME).get("fail"):
            raise OSError("no device")

    def mtu_overhead(self, ip_version):
        return 10

    def generate_keys(self):
        return KeyPair(b"p", b"q")

    def validate_public_key(self, key):
        return None

    async def ensure_server(self, ctx):
        return None

    async def ensure_client(self, ctx):
        return None

    async def teardown(self, ctx):
        return None

    async def status(self, ctx):
        return TransportStatus(ConnectionState.CONNECTED)
"""

InstallFn = Callable[..., str]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InstallFn]:
    """Install a distribution on a fresh path entry: ``install(dist, group, {name: code})``.

    Each entry point gets its own package ``<pkg>_<name>`` whose ``Plugin`` (or the
    attribute given as ``name=("code", "Attr")``) is the target. Returns the dist name.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    packages: list[str] = []

    def _install(dist: str, group: str, plugins: dict[str, tuple[str, str]]) -> str:
        lines = [f"[{group}]"]
        for name, (code, attr) in plugins.items():
            package = f"liqo_unit_{next(_serial)}_{name}"
            packages.append(package)
            (site / package).mkdir()
            header = f"import kopf\nNAME = {name!r}\n"
            (site / package / "__init__.py").write_text(header + textwrap.dedent(code))
            lines.append(f"{name} = {package}:{attr}")
        info = site / f"{dist.replace('-', '_')}-0.7.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.7\n")
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        return dist

    yield _install
    for package in packages:
        sys.modules.pop(package, None)


def events(package_attr: object) -> list[tuple[str, str]]:
    return list(sys.modules[type(package_attr).__module__].EVENTS)  # type: ignore[attr-defined]


def settings(**values: object) -> LiqoSettings:
    return LiqoSettings(**values)  # type: ignore[arg-type]


# --- first-party plugins -------------------------------------------------------------


def test_default_settings_load_the_three_modules_in_order_and_wireguard() -> None:
    with load_runtime(settings()) as runtime:
        assert [p.name for p in runtime.modules] == ["networking", "authentication", "offloading"]
        assert [p.distribution for p in runtime.modules] == [
            "liqo-network",
            "liqo-auth",
            "liqo-offloading",
        ]
        assert runtime.transport is not None
        assert runtime.transport.name == "wireguard"
        assert runtime.transport_plugin is not None
        assert runtime.transport_plugin.distribution == "liqo-transport-wireguard"
        assert runtime.pm.has_plugin("networking")
        assert runtime.pm.has_plugin("transport:wireguard")
        info = runtime.module_info()
        assert info["networking"].api_groups == ("networking.liqo.io", "ipam.liqo.io")
        assert "Tenant" in info["authentication"].kinds
        assert info["offloading"].values_key == "offloading"
        kinds = {model.crd.kind for model in runtime.api_models()}
        assert {"WgGatewayServer", "WgGatewayClientTemplate"} <= kinds
    assert runtime.pm.get_plugins() == set()


def test_module_order_follows_settings() -> None:
    with load_runtime(settings(modules=["offloading", "networking"])) as runtime:
        assert [p.name for p in runtime.modules] == ["offloading", "networking"]


def test_no_modules_is_valid_and_loads_no_transport() -> None:
    with load_runtime(settings(modules=[], networking={"transport": "absent"})) as runtime:
        assert runtime.modules == []
        assert runtime.transport is None
        assert runtime.module_registries() == {}


def test_transport_is_loaded_only_with_the_networking_module() -> None:
    with load_runtime(settings(modules=["authentication"])) as runtime:
        assert runtime.transport is None
        assert [p.name for p in runtime.plugins] == ["authentication"]


def test_each_plugin_gets_its_own_fresh_registry(install: InstallFn) -> None:
    install("liqo-unit-recorders", "liqo.modules", {"alpha": (RECORDER, "Recorder")})
    install("liqo-unit-more", "liqo.modules", {"beta": (RECORDER, "Recorder")})
    with load_runtime(settings(modules=["alpha", "networking", "beta"])) as runtime:
        registries = runtime.module_registries()
        assert list(registries) == ["alpha", "networking", "beta", "transport:wireguard"]
        alpha, beta = runtime.modules[0].obj, runtime.modules[2].obj
        assert alpha.registries == [registries["alpha"]]
        assert beta.registries == [registries["beta"]]
        assert len({id(r) for r in registries.values()}) == 4
        assert kopf.get_default_registry() not in registries.values()
        again = runtime.module_registries()
        assert again["alpha"] is not registries["alpha"]


def test_lifecycle_events_in_order(install: InstallFn) -> None:
    install("liqo-unit-recorders", "liqo.modules", {"first": (RECORDER, "Recorder")})
    install("liqo-unit-transport", "liqo.network.transports", {"faux": (FAKE_TRANSPORT, "Fake")})
    runtime = load_runtime(
        settings(modules=["first", "networking"], networking={"transport": "faux"})
    )
    module, transport = runtime.modules[0].obj, runtime.transport
    assert runtime.transport_plugin is not None
    assert runtime.transport_plugin.distribution == "liqo-unit-transport"
    assert events(transport) == [("init", "faux"), ("initialize", "faux")]
    assert events(module) == [("init", "first"), ("configure", "first")]
    runtime.close()
    runtime.close()
    assert events(module) == [("init", "first"), ("configure", "first"), ("unconfigure", "first")]
    assert runtime.pm.get_plugins() == set()


def test_discover_lists_installed_plugins_with_distribution_and_state(install: InstallFn) -> None:
    install("liqo-unit-transport", "liqo.network.transports", {"faux": (FAKE_TRANSPORT, "Fake")})
    found = {(i.kind, i.name): i for i in discover_plugins(settings(modules=["offloading"]))}
    faux = found[("transport", "faux")]
    assert (faux.distribution, faux.version, faux.enabled) == ("liqo-unit-transport", "0.7", False)
    assert found[("module", "offloading")].enabled
    assert not found[("module", "networking")].enabled
    assert not found[("transport", "wireguard")].enabled
    assert found[("module", "networking")].target == "liqo_network.plugin:NetworkingModule"


# --- failures ------------------------------------------------------------------------


def test_unknown_module_lists_the_installed_ones() -> None:
    with pytest.raises(UnknownPluginError) as caught:
        load_runtime(settings(modules=["networking", "nosuch"]))
    message = str(caught.value)
    assert message.startswith("module 'nosuch' is not installed")
    assert "authentication, networking, offloading" in message
    assert "fix `modules`" in message


def test_unknown_transport_lists_the_installed_ones() -> None:
    with pytest.raises(UnknownPluginError, match=r"transport 'ipsec' is not installed.*wireguard"):
        load_runtime(settings(networking={"transport": "ipsec"}))


def test_import_failure_names_the_distribution(install: InstallFn) -> None:
    install("liqo-unit-broken", "liqo.modules", {"broken": ("import nowhere_to_be_found\n", "X")})
    with pytest.raises(PluginImportError) as caught:
        load_runtime(settings(modules=["broken"]))
    message = str(caught.value)
    assert "module 'broken' from distribution 'liqo-unit-broken' failed to import" in message
    assert "nowhere_to_be_found" in message
    assert "\n" not in message
    assert caught.value.distribution == "liqo-unit-broken"


@pytest.mark.parametrize(
    ("code", "attr", "problem"),
    [
        ("class NotOne:\n    name = NAME\n", "NotOne", "is not a liqo_core.Transport subclass"),
        (
            "from liqo_core import Transport\nclass Half(Transport):\n    name = NAME\n",
            "Half",
            "does not implement ensure_client, ensure_server, generate_keys",
        ),
        (FAKE_TRANSPORT.replace("name = NAME", 'name = "other"'), "Fake", "declares name 'other'"),
    ],
)
def test_transport_contract_is_checked_before_construction(
    install: InstallFn, code: str, attr: str, problem: str
) -> None:
    install("liqo-unit-bad-transport", "liqo.network.transports", {"bad": (code, attr)})
    with pytest.raises(PluginContractError) as caught:
        load_runtime(settings(networking={"transport": "bad"}))
    assert f"transport 'bad' from distribution 'liqo-unit-bad-transport' {problem}" in str(
        caught.value
    )


def test_module_without_hooks_breaks_the_contract(install: InstallFn) -> None:
    code = "class Empty:\n    def __init__(self, settings):\n        pass\n"
    install("liqo-unit-empty", "liqo.modules", {"empty": (code, "Empty")})
    with pytest.raises(PluginContractError, match=r"'empty' .* implements no liqo_\* hook"):
        load_runtime(settings(modules=["networking", "empty"]))


def test_misspelled_hook_breaks_the_contract(install: InstallFn) -> None:
    code = RECORDER.replace("def liqo_module_info", "def liqo_modul_info")
    install("liqo-unit-typo", "liqo.modules", {"typo": (code, "Recorder")})
    with pytest.raises(PluginContractError, match=r"module 'typo' .*liqo_modul_info"):
        load_runtime(settings(modules=["typo"]))


def test_hook_with_unknown_argument_breaks_the_contract(install: InstallFn) -> None:
    code = RECORDER.replace("def liqo_module_info(self)", "def liqo_module_info(self, colour)")
    install("liqo-unit-args", "liqo.modules", {"args": (code, "Recorder")})
    with pytest.raises(PluginContractError, match=r"module 'args' .*colour"):
        load_runtime(settings(modules=["args"]))


def test_same_transport_name_from_two_distributions(install: InstallFn) -> None:
    install(
        "liqo-unit-impostor", "liqo.network.transports", {"wireguard": (FAKE_TRANSPORT, "Fake")}
    )
    with pytest.raises(PluginConflictError) as caught:
        load_runtime(settings())
    assert str(caught.value) == (
        "transport 'wireguard' is provided by several distributions "
        "('liqo-transport-wireguard', 'liqo-unit-impostor'): uninstall all but one"
    )


def test_same_module_name_from_two_distributions(install: InstallFn) -> None:
    install("liqo-unit-impostor", "liqo.modules", {"offloading": (RECORDER, "Recorder")})
    with pytest.raises(PluginConflictError, match="'liqo-offloading', 'liqo-unit-impostor'"):
        load_runtime(settings())  # the two entry points are not adjacent in the list


def test_failing_constructor_is_a_start_error(install: InstallFn) -> None:
    code = "class Boom:\n    def __init__(self, settings):\n        raise KeyError('x')\n"
    install("liqo-unit-boom", "liqo.modules", {"boom": (code, "Boom")})
    with pytest.raises(PluginStartError, match=r"module 'boom' .* failed to start: KeyError"):
        load_runtime(settings(modules=["boom"]))


def test_settings_errors_from_plugins_pass_through() -> None:
    with pytest.raises(SettingsError, match=r"networking.transports.wireguard.implementation"):
        load_runtime(settings(networking={"transports": {"wireguard": {"implementation": "x"}}}))


def test_failed_configure_names_the_plugin_and_rolls_back(install: InstallFn) -> None:
    failing = RECORDER.replace(
        '        EVENTS.append(("configure", NAME))',
        '        EVENTS.append(("configure", NAME))\n        raise RuntimeError("frobnicator")',
    )
    install("liqo-unit-good", "liqo.modules", {"good": (RECORDER, "Recorder")})
    install("liqo-unit-bad", "liqo.modules", {"bad": (failing, "Recorder")})
    with pytest.raises(PluginStartError) as caught:
        load_runtime(settings(modules=["good", "bad"]))
    assert str(caught.value) == (
        "module 'bad' from distribution 'liqo-unit-bad' failed to configure: "
        "RuntimeError: frobnicator"
    )
    good = sys.modules[next(m for m in sys.modules if m.endswith("_good"))]
    assert good.EVENTS[-1] == ("unconfigure", "good")  # type: ignore[attr-defined]


def test_failed_transport_initialize_stops_before_configure(install: InstallFn) -> None:
    install("liqo-unit-recorders", "liqo.modules", {"watcher": (RECORDER, "Recorder")})
    install("liqo-unit-transport", "liqo.network.transports", {"faux": (FAKE_TRANSPORT, "Fake")})
    with pytest.raises(
        PluginStartError, match=r"transport 'faux' .* failed to initialize: OSError"
    ):
        load_runtime(
            settings(
                modules=["watcher", "networking"],
                networking={"transport": "faux", "transports": {"faux": {"fail": True}}},
            )
        )
    watcher = sys.modules[next(m for m in sys.modules if m.endswith("_watcher"))]
    assert watcher.EVENTS == [("init", "watcher"), ("unconfigure", "watcher")]  # type: ignore[attr-defined]


def test_failing_handler_registration_names_the_plugin(install: InstallFn) -> None:
    code = RECORDER.replace("self.registries.append(registry)", "raise ValueError('bad handler')")
    install("liqo-unit-handlers", "liqo.modules", {"handlers": (code, "Recorder")})
    with (
        load_runtime(settings(modules=["handlers"])) as runtime,
        pytest.raises(PluginStartError, match=r"'handlers' .* register its handlers"),
    ):
        runtime.module_registries()


def test_plugin_manager_subset_reaches_one_plugin(install: InstallFn) -> None:
    with load_runtime(settings()) as runtime:
        answers = runtime.pm.hook_of("authentication", "liqo_module_info")()
        assert [info.values_key for info in answers] == ["authentication"]
        assert isinstance(answers[0], ModuleInfo)


def test_plugin_manager_knows_every_spec() -> None:
    pm = LiqoPluginManager()
    assert pm.project_name == "liqo"
    names = {name for name in dir(pm.hook) if name.startswith("liqo_")}
    assert names == {
        "liqo_configure",
        "liqo_unconfigure",
        "liqo_register_handlers",
        "liqo_cli_commands",
        "liqo_api_models",
        "liqo_module_info",
        "liqo_identity_provider",
        "liqo_peer_status_sources",
        "liqo_peering_steps",
        "liqo_replicated_resources",
    }
    assert pm.hook.liqo_configure.spec is not None
    assert pm.hook.liqo_configure.spec.opts["historic"]
    assert pm.hook.liqo_identity_provider.spec is not None
    assert pm.hook.liqo_identity_provider.spec.opts["firstresult"]


def test_rollback_failure_does_not_hide_the_start_error(install: InstallFn) -> None:
    code = RECORDER.replace(
        '        EVENTS.append(("configure", NAME))',
        '        raise RuntimeError("configure broke")',
    ).replace(
        '        EVENTS.append(("unconfigure", NAME))',
        '        raise RuntimeError("unconfigure broke too")',
    )
    install("liqo-unit-fragile", "liqo.modules", {"fragile": (code, "Recorder")})
    with pytest.raises(PluginStartError, match="configure broke"):
        load_runtime(settings(modules=["fragile"]))
