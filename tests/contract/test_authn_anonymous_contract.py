"""Requests without credentials: anonymous, allowed only on the public endpoints.

kube-apiserver runs with ``--anonymous-auth=true`` by default and binds
``system:public-info-viewer`` to ``system:unauthenticated``.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest
from test_authn_helpers import cluster_entry

pytestmark = pytest.mark.contract


def _get(kube_cluster: Any, path: str, token: str | None = None) -> tuple[int, str]:
    entry = cluster_entry(kube_cluster)
    context = ssl.create_default_context(
        cadata=base64.b64decode(entry["certificate-authority-data"]).decode()
    )
    request = urllib.request.Request(entry["server"] + path)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.mark.parametrize("path", ["/readyz", "/livez", "/healthz", "/version"])
def test_public_endpoints_answer_anonymous_requests(kube_cluster: Any, path: str) -> None:
    status, _body = _get(kube_cluster, path)
    assert status == 200


def test_anonymous_requests_are_forbidden_elsewhere(kube_cluster: Any) -> None:
    status, body = _get(kube_cluster, "/api/v1/namespaces")
    assert status == 403
    answer = json.loads(body)
    assert answer["reason"] == "Forbidden"
    assert answer["message"] == (
        'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" '
        'in API group "" at the cluster scope'
    )


def test_a_bad_bearer_token_is_unauthorized_even_on_public_endpoints(kube_cluster: Any) -> None:
    status, body = _get(kube_cluster, "/readyz", token="not-a-token")
    assert status == 401
    assert json.loads(body)["reason"] == "Unauthorized"
