"""DNS-1123 (and 1035) names, with kube-apiserver's messages."""

from __future__ import annotations

import pytest

from liqo_core.kube.names import (
    DNS1035_LABEL_RULE,
    DNS1123_LABEL_RULE,
    DNS1123_SUBDOMAIN_RULE,
    InvalidNameError,
    check_dns1123_label,
    check_dns1123_subdomain,
    dns1035_label_problems,
    dns1123_label_problems,
    dns1123_subdomain_problems,
    is_dns1123_label,
    is_dns1123_subdomain,
)

TOO_LONG_63 = "must be no more than 63 characters"
TOO_LONG_253 = "must be no more than 253 characters"


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        ("a", []),
        ("my-name", []),
        ("123-abc", []),
        ("0", []),
        ("a" * 63, []),
        ("a" * 64, [TOO_LONG_63]),
        ("", [DNS1123_LABEL_RULE]),
        ("-a", [DNS1123_LABEL_RULE]),
        ("a-", [DNS1123_LABEL_RULE]),
        ("A", [DNS1123_LABEL_RULE]),
        ("a.b", [DNS1123_LABEL_RULE]),
        ("a_b", [DNS1123_LABEL_RULE]),
        ("a\n", [DNS1123_LABEL_RULE]),
        ("A" * 64, [TOO_LONG_63, DNS1123_LABEL_RULE]),
    ],
)
def test_dns1123_labels(value: str, problems: list[str]) -> None:
    assert dns1123_label_problems(value) == problems
    assert is_dns1123_label(value) is (not problems)


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        ("example.com", []),
        ("a", []),
        ("66cf253f.ctrlmgr.liqo.io", []),
        ("a-b.c-d", []),
        (".".join(["a" * 63] * 4)[:253], []),
        ("a" * 254, [TOO_LONG_253]),
        ("", [DNS1123_SUBDOMAIN_RULE]),
        ("a..b", [DNS1123_SUBDOMAIN_RULE]),
        (".a", [DNS1123_SUBDOMAIN_RULE]),
        ("a.", [DNS1123_SUBDOMAIN_RULE]),
        ("a.-b", [DNS1123_SUBDOMAIN_RULE]),
        ("Example.com", [DNS1123_SUBDOMAIN_RULE]),
    ],
)
def test_dns1123_subdomains(value: str, problems: list[str]) -> None:
    assert dns1123_subdomain_problems(value) == problems
    assert is_dns1123_subdomain(value) is (not problems)


def test_dns1035_labels_start_with_a_letter() -> None:
    assert dns1035_label_problems("my-svc") == []
    assert dns1035_label_problems("1svc") == [DNS1035_LABEL_RULE]
    assert dns1035_label_problems("a" * 64) == [TOO_LONG_63]


def test_rule_messages_are_kube_apiservers() -> None:
    assert DNS1123_LABEL_RULE == (
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
        "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
        "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    )
    assert DNS1123_SUBDOMAIN_RULE.endswith(
        "regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )


def test_checks_raise_naming_the_value_and_the_rule() -> None:
    assert check_dns1123_label("ok") == "ok"
    assert check_dns1123_subdomain("ok.example") == "ok.example"
    with pytest.raises(
        InvalidNameError, match=r"^'Bad' is not a valid DNS-1123 label: a lowercase"
    ):
        check_dns1123_label("Bad")
    with pytest.raises(ValueError, match=r"'a\.\.b' is not a valid DNS-1123 subdomain: .*RFC 1123"):
        check_dns1123_subdomain("a..b")
