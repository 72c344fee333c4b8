"""``liqoctl info``: field selection and the per-peer views built from ForeignClusters."""

from __future__ import annotations

import json

import pytest

from liqo_core.cli.commands.info import emit, peer_data, peering_summary, pick
from liqo_core.cli.context import CommandError
from liqo_core.cli.output import OutputFormat
from liqo_core.peers import ModulePeerStatus, PeerDetail

FC = {
    "metadata": {"name": "p"},
    "spec": {"clusterID": "p"},
    "status": {
        "role": "Provider",
        "apiServerUrl": "https://p:6443",
        "modules": {
            "authentication": {
                "enabled": True,
                "conditions": [
                    {"type": "AuthIdentityControlPlaneStatus", "status": "NotReady",
                     "reason": "IdentityNotReady"},
                ],
            },
            "networking": {"enabled": False},
        },
        "conditions": [
            {"type": "APIServerStatus", "status": "Established", "reason": "APIServerReady"}
        ],
    },
}  # fmt: skip


def test_pick_walks_dicts_and_lists() -> None:
    data = {"a": {"b": [{"c": 1}]}}
    assert pick(data, "a.b.0.c") == 1
    with pytest.raises(CommandError, match=r"no field 'a\.x'"):
        pick(data, "a.x")


def test_emit_prints_scalars_plainly_and_structures_in_a_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert emit({"a": {"b": "x"}}, None, "a.b")
    assert capsys.readouterr().out == "x\n"
    assert emit({"a": {"b": [1]}}, OutputFormat.JSON, "a")
    assert json.loads(capsys.readouterr().out) == {"b": [1]}
    assert not emit({"a": 1}, None, None)


def test_peering_summary_lists_what_is_not_ready() -> None:
    summary = peering_summary(FC)
    assert summary == {
        "clusterID": "p",
        "role": "Provider",
        "modules": ["authentication"],
        "apiServer": "Established",
        "problems": ["AuthIdentityControlPlaneStatus: NotReady"],
    }


def test_peer_data_adds_the_modules_details() -> None:
    report = ModulePeerStatus(
        in_use=True, details=[PeerDetail("waiting", "waiting for kubeconfig")]
    )
    data = peer_data("p", FC, ["authentication"], {"p": {"authentication": report}})
    auth = data["modules"]["authentication"]
    assert auth["installed"] and auth["enabled"]
    assert auth["details"] == [{"state": "waiting", "text": "waiting for kubeconfig"}]
    assert data["modules"]["networking"]["installed"] is False
    assert data["apiServer"]["status"] == "Established"
    unavailable = peer_data("p", None, [], "module details unavailable: x")
    assert unavailable["note"] == "module details unavailable: x"
    assert unavailable["foreignCluster"] is False
