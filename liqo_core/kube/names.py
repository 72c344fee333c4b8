"""Kubernetes name rules (RFC 1123 labels and subdomains, RFC 1035 labels), with the
messages kube-apiserver gives, so that every check of the tree says the same thing.

``*_problems`` return the list of broken rules (empty: valid), as apimachinery's
``IsDNS1123Label`` and friends; ``check_*`` raise :class:`InvalidNameError` (a
``ValueError``, fit for pydantic validators) naming the value and the rules.
"""

from __future__ import annotations

import re

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
DNS1035_LABEL_MAX = 63

DNS1123_LABEL_FORMAT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FORMAT = rf"{DNS1123_LABEL_FORMAT}(\.{DNS1123_LABEL_FORMAT})*"
DNS1035_LABEL_FORMAT = "[a-z]([-a-z0-9]*[a-z0-9])?"

_LABEL = re.compile(DNS1123_LABEL_FORMAT)
_SUBDOMAIN = re.compile(DNS1123_SUBDOMAIN_FORMAT)
_DNS1035 = re.compile(DNS1035_LABEL_FORMAT)

DNS1123_LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    f"regex used for validation is '{DNS1123_LABEL_FORMAT}')"
)
DNS1123_SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    f"regex used for validation is '{DNS1123_SUBDOMAIN_FORMAT}')"
)
DNS1035_LABEL_RULE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    f"'abc-123', regex used for validation is '{DNS1035_LABEL_FORMAT}')"
)


class InvalidNameError(ValueError):
    """A name that breaks a naming rule; the message names the value and the rules."""


def max_length_problem(limit: int) -> str:
    """The message of a too-long value (apimachinery's ``MaxLenError``)."""
    return f"must be no more than {limit} characters"


def dns1123_label_problems(value: str) -> list[str]:
    """Why ``value`` is not an RFC 1123 label (at most 63 characters; empty: it is one)."""
    problems = [max_length_problem(DNS1123_LABEL_MAX)] if len(value) > DNS1123_LABEL_MAX else []
    if not _LABEL.fullmatch(value):
        problems.append(DNS1123_LABEL_RULE)
    return problems


def dns1123_subdomain_problems(value: str) -> list[str]:
    """Why ``value`` is not an RFC 1123 subdomain (at most 253 characters)."""
    problems = (
        [max_length_problem(DNS1123_SUBDOMAIN_MAX)] if len(value) > DNS1123_SUBDOMAIN_MAX else []
    )
    if not _SUBDOMAIN.fullmatch(value):
        problems.append(DNS1123_SUBDOMAIN_RULE)
    return problems


def dns1035_label_problems(value: str) -> list[str]:
    """Why ``value`` is not an RFC 1035 label (Service names: starts with a letter)."""
    problems = [max_length_problem(DNS1035_LABEL_MAX)] if len(value) > DNS1035_LABEL_MAX else []
    if not _DNS1035.fullmatch(value):
        problems.append(DNS1035_LABEL_RULE)
    return problems


def is_dns1123_label(value: str) -> bool:
    """Whether ``value`` is an RFC 1123 label."""
    return not dns1123_label_problems(value)


def is_dns1123_subdomain(value: str) -> bool:
    """Whether ``value`` is an RFC 1123 subdomain."""
    return not dns1123_subdomain_problems(value)


def check_dns1123_label(value: str) -> str:
    """``value`` if it is an RFC 1123 label.

    :raises InvalidNameError: ``'<value>' is not a valid DNS-1123 label: <rules>``.
    """
    return _checked(value, "DNS-1123 label", dns1123_label_problems(value))


def check_dns1123_subdomain(value: str) -> str:
    """``value`` if it is an RFC 1123 subdomain.

    :raises InvalidNameError: ``'<value>' is not a valid DNS-1123 subdomain: <rules>``.
    """
    return _checked(value, "DNS-1123 subdomain", dns1123_subdomain_problems(value))


def _checked(value: str, what: str, problems: list[str]) -> str:
    if problems:
        raise InvalidNameError(f"{value!r} is not a valid {what}: {'; '.join(problems)}")
    return value
