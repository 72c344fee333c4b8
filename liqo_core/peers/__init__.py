"""Peers: the ForeignCluster read model and the contract modules fill it through.

Modules import the contract from here (:class:`PeerStatusSource` and friends); the
controller (:mod:`liqo_core.peers.controller`) runs in the controller-manager's always-on
``core`` operator.
"""

from __future__ import annotations

from liqo_core.peers.contract import (
    MODULE_NAMES,
    ModuleName,
    ModulePeerStatus,
    PeerCondition,
    PeerDetail,
    PeerStatusSource,
    WatchedResource,
    gather_reports,
    labelled_peer,
)

__all__ = [
    "MODULE_NAMES",
    "ModuleName",
    "ModulePeerStatus",
    "PeerCondition",
    "PeerDetail",
    "PeerStatusSource",
    "WatchedResource",
    "gather_reports",
    "labelled_peer",
]
