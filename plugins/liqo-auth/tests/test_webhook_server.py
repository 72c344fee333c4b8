"""The webhook server serves HTTPS with the certificate whose CA it hands to kopf."""

from __future__ import annotations

import base64
import socket
import ssl
from typing import Any

import aiohttp

from liqo_core.settings import WebhookSettings
from liqo_core.webhooks import webhook_server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _answer(request: Any, **_: Any) -> Any:
    return {"response": {"uid": request["request"]["uid"], "allowed": True}}


async def _first_config(server: Any) -> tuple[Any, Any]:
    configs = server(_answer).__aiter__()
    return configs, await configs.__anext__()


async def test_a_self_signed_server_is_trusted_with_the_ca_it_hands_out() -> None:
    port = _free_port()
    settings = WebhookSettings(enabled=True, address="127.0.0.1", host="127.0.0.1", port=port)
    configs, config = await _first_config(webhook_server(settings, "liqo"))
    try:
        assert config["url"] == f"https://127.0.0.1:{port}"
        ca = base64.b64decode(config["caBundle"]).decode()
        context = ssl.create_default_context(cadata=ca)  # verifies the host name too
        review = {"request": {"uid": "u-1"}}
        url = f"{config['url']}/tenant.validate"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=review, ssl=context) as answer,
        ):
            assert answer.status == 200
            assert (await answer.json())["response"] == {"uid": "u-1", "allowed": True}
    finally:
        await configs.aclose()


async def test_behind_a_service_kopf_is_given_the_service() -> None:
    settings = WebhookSettings(
        enabled=True, address="127.0.0.1", port=_free_port(), service="liqo-webhook"
    )
    configs, config = await _first_config(webhook_server(settings, "liqo"))
    try:
        assert config["service"] == {"namespace": "liqo", "name": "liqo-webhook", "port": 443}
        assert "url" not in config
        assert base64.b64decode(config["caBundle"]).startswith(b"-----BEGIN CERTIFICATE-----")
    finally:
        await configs.aclose()
