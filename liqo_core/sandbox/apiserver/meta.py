"""Object metadata helpers: timestamps, generated names, name validation."""

from __future__ import annotations

import datetime as dt
import secrets

from liqo_core.kube import names

_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
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
    if dns1035:
        return names.dns1035_label_problems(name)
    if label:
        return names.dns1123_label_problems(name)
    return names.dns1123_subdomain_problems(name)


def path_segment_problems(name: str) -> list[str]:
    """Names that cannot appear in a URL path (rules for RBAC kinds and custom resources)."""
    if name in (".", ".."):
        return [f'may not be "{name}"']
    return [f"may not contain '{c}'" for c in _PATH_SEGMENT_FORBIDDEN if c in name]
