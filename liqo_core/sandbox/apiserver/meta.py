"""Object metadata helpers: timestamps, generated names, name validation."""

from __future__ import annotations

import datetime as dt
import re
import secrets

_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_PATH_SEGMENT_FORBIDDEN = ("/", "%")


def now() -> str:
    """Current time as Kubernetes writes it (RFC 3339, seconds, UTC)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    """Parse an RFC 3339 timestamp."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def generate_name(prefix: str) -> str:
    """``generateName`` + 5 random characters, as the API server does."""
    return prefix + "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))


def name_problems(name: str, label: bool, dns1035: bool = False) -> list[str]:
    """Messages explaining why ``name`` is not a valid object name (empty if valid)."""
    if dns1035 and not _DNS1035.match(name):
        return [
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
            "start with an alphabetic character, and end with an alphanumeric character "
            "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')"
        ]
    if label:
        if len(name) > 63:
            return ["must be no more than 63 characters"]
        if not _LABEL.match(name):
            return [
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric character "
                "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ]
        return []
    if len(name) > 253:
        return ["must be no more than 253 characters"]
    if not _SUBDOMAIN.match(name):
        return [
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ]
    return []


def path_segment_problems(name: str) -> list[str]:
    """Names that cannot appear in a URL path (rules for RBAC kinds and custom resources)."""
    if name in (".", ".."):
        return [f'may not be "{name}"']
    return [f"may not contain '{c}'" for c in _PATH_SEGMENT_FORBIDDEN if c in name]
