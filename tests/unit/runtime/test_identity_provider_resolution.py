"""Which identity provider ``authentication.identityProvider`` resolves to.

The authentication module answers for its two built-in names; a test-only distribution
(``tests/fixtures/dists/liqo-test-identity-provider``, installed for real with
``pip install --target``) answers for its own name and, with ``tryfirst``, replaces
``kubernetes-csr``.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from liqo_auth.providers.kubernetes_csr import KubernetesCSRProvider
from liqo_auth.providers.serviceaccount_token import ServiceAccountTokenProvider
from liqo_auth.settings import auth_settings

from liqo_core import LiqoSettings, SettingsError, load_runtime
from liqo_core.identity import IdentityProvider

DIST = Path(__file__).parents[2] / "fixtures" / "dists" / "liqo-test-identity-provider"
PACKAGE = "liqo_test_identity_provider"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The test distribution, installed once in a directory of its own."""
    root = tmp_path_factory.mktemp("identity-dist")
    source = root / "src"
    shutil.copytree(DIST, source)  # build outside the repository
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    yield target


@pytest.fixture
def installed(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Put the installed distribution on ``sys.path`` for one test."""
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield
    sys.modules.pop(PACKAGE, None)


def resolve(*modules: str, **authentication: object) -> IdentityProvider:
    settings = LiqoSettings(modules=list(modules), authentication=authentication)
    with load_runtime(settings) as runtime:
        return runtime.identity_provider(auth_settings(settings).identity_provider)


def test_the_authentication_module_refuses_an_unknown_provider_at_registration() -> None:
    settings = LiqoSettings(
        modules=["authentication"], authentication={"identityProvider": "no-such-provider"}
    )
    with load_runtime(settings) as runtime, pytest.raises(SettingsError) as raised:
        runtime.module_registries()
    assert "authentication.identityProvider" in str(raised.value)
    assert "'no-such-provider'" in str(raised.value)


def test_kubernetes_csr_is_the_default() -> None:
    provider = resolve("authentication")
    assert type(provider) is KubernetesCSRProvider


def test_serviceaccount_token_gets_the_credential_lifetime() -> None:
    provider = resolve(
        "authentication", identityProvider="serviceaccount-token", credentialLifetime=900
    )
    assert isinstance(provider, ServiceAccountTokenProvider)
    assert provider.expiration_seconds == 900


def test_unknown_name_is_a_one_line_settings_error() -> None:
    with pytest.raises(SettingsError) as raised:
        resolve("authentication", identityProvider="no-such-provider")
    message = str(raised.value)
    assert "\n" not in message
    assert "authentication.identityProvider" in message
    assert "'no-such-provider'" in message


@pytest.mark.usefixtures("installed")
def test_a_third_party_provider_answers_for_its_own_name() -> None:
    provider = resolve("authentication", "test-identity", identityProvider="static-test")
    assert type(provider).__module__ == PACKAGE
    assert provider.name == "static-test"
    # It does not take over the built-in names.
    assert type(resolve("authentication", "test-identity")) is KubernetesCSRProvider
    sa = resolve("test-identity", "authentication", identityProvider="serviceaccount-token")
    assert type(sa) is ServiceAccountTokenProvider


@pytest.mark.usefixtures("installed")
def test_a_third_party_name_needs_its_module_enabled() -> None:
    with pytest.raises(SettingsError, match="'static-test'"):
        resolve("authentication", identityProvider="static-test")


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize(
    "modules",
    [("authentication", "test-identity-override"), ("test-identity-override", "authentication")],
)
def test_a_tryfirst_provider_replaces_a_built_in_one(modules: tuple[str, ...]) -> None:
    provider = resolve(*modules)
    assert type(provider).__name__ == "ReplacingCSRProvider"
    assert type(provider).__module__ == PACKAGE
    # Only for the name it answers to.
    assert type(resolve(*modules, identityProvider="serviceaccount-token")) is (
        ServiceAccountTokenProvider
    )
