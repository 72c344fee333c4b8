"""ResourceQuota arithmetic and messages."""

from __future__ import annotations

from fractions import Fraction

import pytest

from liqo_core.sandbox.apiserver.quota import (
    check_pod,
    format_quantity,
    namespace_usage,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", Fraction(1, 2)), ("2", 2), ("1Gi", 2**30), ("1k", 1000), ("1.5", Fraction(3, 2))],
)
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value


def test_format_quantity():
    assert format_quantity(Fraction(3, 2), "requests.cpu") == "1500m"
    assert format_quantity(Fraction(2), "cpu") == "2"
    assert format_quantity(Fraction(2 * 2**30), "requests.memory") == "2Gi"


def _pod(cpu=None, phase="Pending"):
    res = {"requests": {"cpu": cpu}} if cpu else {}
    return {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i", "resources": res}]},
        "status": {"phase": phase},
    }


def test_exceeding_a_quota_names_requested_used_and_limit():
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"requests.cpu": "1"}}}
    used = namespace_usage([_pod("600m"), _pod("900m", phase="Succeeded")])
    assert check_pod(_pod("300m"), [quota], used) is None
    message = check_pod(_pod("500m"), [quota], used)
    assert message == (
        "exceeded quota: q, requested: requests.cpu=500m, used: requests.cpu=600m, "
        "limited: requests.cpu=1"
    )


def test_quota_on_requests_requires_pods_to_declare_them():
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"requests.cpu": "1"}}}
    assert check_pod(_pod(), [quota], {}) == "failed quota: q: must specify requests.cpu"


def test_pod_count_quota():
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}}
    used = namespace_usage([_pod()])
    assert check_pod(_pod(), [quota], used).startswith("exceeded quota: q")
