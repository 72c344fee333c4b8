"""HTTP behaviour of the server that the contract tests can't pin down cheaply."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from liqo_core.sandbox.apiserver.server import APIServer
from liqo_core.sandbox.apiserver.types import UserInfo

ADMIN = UserInfo("admin", ("system:masters",))


class AllowAll:
    """Test-only security: everyone is the admin, unless the test says otherwise."""

    def __init__(self):
        self.user = ADMIN
        self.denied: set[str] = set()

    class _NoAdmission:
        async def mutate(self, attrs, obj, old):
            return obj

        async def validate(self, attrs, obj, old):
            return None

    admission = _NoAdmission()

    def authenticate(self, headers, peer_cert_der):
        return None if headers.get("Authorization") == "Bearer bad" else self.user

    def authorize(self, attrs):
        if attrs.verb in self.denied:
            return False, f'forbidden: User "{attrs.user.name}" cannot {attrs.verb}'
        return True, ""

    def subresource_handlers(self):
        return {}

    def virtual_resources(self):
        return {}

    def controllers(self):
        return []

    async def bootstrap(self):
        return None


@pytest.fixture
async def http():
    server = APIServer()
    security = AllowAll()
    server.set_security(security)
    server.bookmark_interval = 0.2
    await server.start()
    client = TestClient(TestServer(server.app()))
    await client.start_server()
    client.security = security
    yield client
    await client.close()
    await server.stop()


async def test_unauthenticated_is_401_status(http):
    resp = await http.get("/api/v1/namespaces", headers={"Authorization": "Bearer bad"})
    assert resp.status == 401
    assert (await resp.json())["reason"] == "Unauthorized"


async def test_denied_is_403_with_authorizer_message(http):
    http.security.denied.add("list")
    resp = await http.get("/api/v1/namespaces/default/configmaps")
    body = await resp.json()
    assert resp.status == 403
    assert body["message"].startswith("forbidden: User")
    assert body["details"] == {"name": "", "group": "", "kind": "configmaps"}


async def test_discovery_documents(http):
    core = await (await http.get("/api/v1")).json()
    pods = next(r for r in core["resources"] if r["name"] == "pods")
    assert pods["shortNames"] == ["po"] and pods["namespaced"] is True
    assert any(r["name"] == "pods/status" for r in core["resources"])
    groups = await (await http.get("/apis")).json()
    apps = next(g for g in groups["groups"] if g["name"] == "apps")
    assert apps["preferredVersion"]["version"] == "v1"
    version = await (await http.get("/version")).json()
    assert version["major"] == "1"


async def test_openapi_v3_patch_operations_declare_field_validation(http):
    root = await (await http.get("/openapi/v3")).json()
    url = root["paths"]["api/v1"]["serverRelativeURL"]
    doc = await (await http.get(url)).json()
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "ConfigMap"
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]


async def test_unknown_path_is_404_status(http):
    resp = await http.get("/apis/nope.example.com/v1/things")
    assert resp.status == 404
    assert (await resp.json())["kind"] == "Status"


async def test_table_for_pods(http):
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    await http.post("/api/v1/namespaces/default/pods", json=pod)
    resp = await http.get(
        "/api/v1/namespaces/default/pods",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    )
    table = await resp.json()
    shown = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert shown == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert table["rows"][0]["cells"][:3] == ["p", "0/1", "Pending"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_watch_streams_events_and_bookmarks_line_by_line(http):
    listed = await (await http.get("/api/v1/namespaces/default/configmaps")).json()
    rv = listed["metadata"]["resourceVersion"]
    resp = await http.get(
        "/api/v1/namespaces/default/configmaps",
        params={
            "watch": "true",
            "resourceVersion": rv,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "5",
        },
    )
    await http.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "w"}})
    first = orjson.loads(await asyncio.wait_for(resp.content.readline(), 5))
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "w")
    second = orjson.loads(await asyncio.wait_for(resp.content.readline(), 5))
    assert second["type"] == "BOOKMARK"
    assert int(second["object"]["metadata"]["resourceVersion"]) >= int(
        first["object"]["metadata"]["resourceVersion"]
    )
    resp.close()


async def test_protobuf_configmap_create_is_decoded(http):
    def field(num, payload):
        return bytes([num << 3 | 2, len(payload)]) + payload

    meta = field(1, b"pb")
    entry = field(1, b"k") + field(2, b"v")
    raw = field(1, meta) + field(2, entry)
    type_meta = field(1, b"v1") + field(2, b"ConfigMap")
    body = b"k8s\x00" + field(1, type_meta) + field(2, raw)
    resp = await http.post(
        "/api/v1/namespaces/default/configmaps",
        data=body,
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
    )
    created = await resp.json()
    assert resp.status == 201
    assert (created["metadata"]["name"], created["data"]) == ("pb", {"k": "v"})


async def test_protobuf_of_a_kind_without_protobuf_form_is_415(http):
    def field(num, payload):
        return bytes([num << 3 | 2, len(payload)]) + payload

    body = b"k8s\x00" + field(1, field(1, b"example.com/v1") + field(2, b"Widget")) + field(2, b"")
    resp = await http.post(
        "/apis/apps/v1/namespaces/default/deployments",
        data=body,
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
    )
    assert resp.status == 415


async def test_malformed_limit_is_400(http):
    resp = await http.get("/api/v1/namespaces/default/configmaps", params={"limit": "ten"})
    assert resp.status == 400


async def test_virtual_review_kinds_are_discoverable_and_create_only():
    server = APIServer()
    security = AllowAll()

    async def review(call, api):
        return dict(call.body or {}, status={"allowed": True})

    security.virtual_resources = lambda: {
        ("authorization.k8s.io", "selfsubjectaccessreviews"): review
    }
    server.set_security(security)
    await server.start()
    client = TestClient(TestServer(server.app()))
    await client.start_server()
    try:
        doc = await (await client.get("/apis/authorization.k8s.io/v1")).json()
        entry = next(r for r in doc["resources"] if r["name"] == "selfsubjectaccessreviews")
        assert entry["verbs"] == ["create"]
        path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        resp = await client.post(path, json={"spec": {}})
        assert resp.status == 201
        assert (await resp.json())["status"] == {"allowed": True}
        assert (await client.get(path)).status == 405
    finally:
        await client.close()
        await server.stop()


async def test_cluster_ips_come_from_the_configured_service_cidr():
    import ipaddress

    server = APIServer(service_cidr="10.201.0.0/16")
    server.set_security(AllowAll())
    await server.start()
    client = TestClient(TestServer(server.app()))
    await client.start_server()
    try:
        svc = await (await client.get("/api/v1/namespaces/default/services/kubernetes")).json()
        assert svc["spec"]["clusterIP"] == "10.201.0.1"
        body = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
        resp = await client.post("/api/v1/namespaces/default/services", json=body)
        created = await resp.json()
        assert ipaddress.ip_address(created["spec"]["clusterIP"]) in ipaddress.ip_network(
            "10.201.0.0/16"
        )
    finally:
        await client.close()
        await server.stop()
