"""Per-module kopf settings and the login the runtime gives each module's operator."""

from __future__ import annotations

import base64
from pathlib import Path

import kopf
import pytest
import yaml
from kubernetes_asyncio.client.exceptions import ApiException

from liqo_core._runtime.operator import kopf_prefix, operator_settings
from liqo_core.kube import (
    KubeConfigError,
    KubeTarget,
    connection_info,
    describe_error,
    load_configuration,
)


def test_each_module_gets_its_own_annotations_and_finalizer():
    networking, offloading = operator_settings("networking"), operator_settings("offloading")
    assert networking.persistence.finalizer == "networking.kopf.liqo.io/finalizer"
    assert offloading.persistence.finalizer == "offloading.kopf.liqo.io/finalizer"
    progress = networking.persistence.progress_storage
    assert isinstance(progress, kopf.AnnotationsProgressStorage)
    assert progress.prefix == "networking.kopf.liqo.io"
    diffbase = offloading.persistence.diffbase_storage
    assert isinstance(diffbase, kopf.AnnotationsDiffBaseStorage)
    assert diffbase.prefix == "offloading.kopf.liqo.io"
    assert networking.process.ultimate_exiting_timeout is None


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("networking", "networking.kopf.liqo.io"),
        ("transport:wireguard", "transport-wireguard.kopf.liqo.io"),
        ("My_Module", "my-module.kopf.liqo.io"),
    ],
)
def test_prefixes_are_dns_names(name, prefix):
    assert kopf_prefix(name) == prefix


def _read(path: object) -> str:
    return Path(str(path)).read_text()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _kubeconfig(tmp_path: Path, user: dict[str, str]) -> Path:
    path = tmp_path / "kubeconfig"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c1",
                "cluster": {
                    "server": "https://127.0.0.1:6443",
                    "certificate-authority-data": _b64("CA-PEM"),
                },
            },
            {"name": "c2", "cluster": {"server": "https://10.0.0.2:443"}},
        ],
        "users": [{"name": "u1", "user": user}, {"name": "u2", "user": {"token": "t2"}}],
        "contexts": [
            {"name": "one", "context": {"cluster": "c1", "user": "u1"}},
            {"name": "two", "context": {"cluster": "c2", "user": "u2"}},
        ],
        "current-context": "one",
    }
    path.write_text(yaml.safe_dump(document))
    return path


async def test_login_with_client_certificate(tmp_path):
    user = {"client-certificate-data": _b64("CERT"), "client-key-data": _b64("KEY")}
    target = KubeTarget(kubeconfig=_kubeconfig(tmp_path, user))
    info = connection_info(await load_configuration(target), default_namespace="liqo")
    assert info.server == "https://127.0.0.1:6443"
    assert info.ca_path is not None
    assert _read(info.ca_path) == "CA-PEM"
    assert _read(info.certificate_path) == "CERT"
    assert _read(info.private_key_path) == "KEY"
    assert info.token is None
    assert info.default_namespace == "liqo"


async def test_login_with_token_and_context(tmp_path):
    path = _kubeconfig(tmp_path, {"token": "secret-1"})
    one = connection_info(await load_configuration(KubeTarget(kubeconfig=path)))
    assert (one.scheme, one.token) == ("Bearer", "secret-1")
    assert one.as_http_headers() == {"Authorization": "Bearer secret-1"}
    two = connection_info(await load_configuration(KubeTarget(kubeconfig=path, context="two")))
    assert two.server == "https://10.0.0.2:443"
    assert two.token == "t2"


async def test_missing_kubeconfig_and_unknown_context_are_one_line_errors(tmp_path):
    with pytest.raises(KubeConfigError, match="does not exist"):
        await load_configuration(KubeTarget(kubeconfig=tmp_path / "absent"))
    path = _kubeconfig(tmp_path, {"token": "x"})
    with pytest.raises(KubeConfigError) as raised:
        await load_configuration(KubeTarget(kubeconfig=path, context="three"))
    assert "\n" not in str(raised.value)
    assert "three" in str(raised.value)


async def test_kubeconfig_env_is_used_when_no_path_is_given(tmp_path, monkeypatch):
    path = _kubeconfig(tmp_path, {"token": "from-env"})
    monkeypatch.setenv("KUBECONFIG", str(path))
    info = connection_info(await load_configuration(KubeTarget()))
    assert info.token == "from-env"


def test_api_errors_are_described_on_one_line_with_the_status_message():
    error = ApiException(status=404, reason="Not Found")
    error.body = b'{"kind": "Status", "message": "namespaces \\"liqo\\" not found"}'
    assert describe_error(error) == 'HTTP 404 Not Found: namespaces "liqo" not found'
    assert describe_error(ApiException(status=409, reason="Conflict")) == "HTTP 409 Conflict"
    assert describe_error(ConnectionError("refused\nby peer")) == "ConnectionError: refused by peer"
