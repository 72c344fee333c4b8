"""Upstream's ``--selector`` syntax (a Kubernetes label selector) as NodeSelector terms.

``liqoctl offload namespace --selector 'region in (eu,us), !staging'`` gives one term
whose requirements are ANDed; each repeated ``--selector`` is another term (ORed).
Supported: ``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``,
``key in (a,b)``, ``key notin (a,b)`` (``=`` becomes ``In``, ``!=`` ``NotIn``, as
upstream's ``ParseToLabelSelector``; ``>``/``<`` are refused there too).
"""

from __future__ import annotations

import re
from typing import Any

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_KEY = re.compile(rf"^({_PREFIX}/)?{_NAME}$")
_VALUE = re.compile(rf"^({_NAME})?$")
_TOKEN = re.compile(r"\s*(==|!=|=|!|\(|\)|,|[^\s=!(),]+)")


class SelectorError(ValueError):
    """A ``--selector`` that is not a label selector; the message says where."""


def _check_key(key: str, text: str) -> str:
    name = key.rpartition("/")[2]
    if not _KEY.match(key) or len(name) > 63 or len(key) - len(name) > 254:
        raise SelectorError(f"{text!r}: {key!r} is not a valid label key")
    return key


def _check_value(value: str, text: str) -> str:
    if len(value) > 63 or not _VALUE.match(value):
        raise SelectorError(f"{text!r}: {value!r} is not a valid label value")
    return value


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        found = _TOKEN.match(stripped, position)
        if found is None:  # pragma: no cover - every character starts some token
            raise SelectorError(f"{text!r}: unexpected {stripped[position:]!r}")
        tokens.append(found.group(1))
        position = found.end()
    return tokens


def parse_selector(text: str) -> list[dict[str, Any]]:
    """The NodeSelector requirements of one ``--selector``.

    :raises SelectorError: Not a label selector (the message quotes it).
    """
    tokens = _tokens(text)
    requirements: list[dict[str, Any]] = []
    index = 0

    def take() -> str | None:
        nonlocal index
        token = tokens[index] if index < len(tokens) else None
        index += 1
        return token

    def peek() -> str | None:
        return tokens[index] if index < len(tokens) else None

    while True:
        token = take()
        if token is None:
            raise SelectorError(f"{text!r}: expected a requirement")
        if token == "!":
            key = take()
            if key is None or key in "=!(),":
                raise SelectorError(f"{text!r}: expected a label key after '!'")
            requirements.append({"key": _check_key(key, text), "operator": "DoesNotExist"})
        elif token in ("=", "==", "!=", "(", ")", ","):
            raise SelectorError(f"{text!r}: expected a label key, found {token!r}")
        else:
            if any(op in token for op in (">", "<")):
                raise SelectorError(f"{text!r}: '>' and '<' are not supported in selectors")
            key = _check_key(token, text)
            operator = peek()
            if operator in ("=", "==", "!="):
                take()
                value = peek()
                if value in ("=", "!", "(", ")", ","):
                    raise SelectorError(f"{text!r}: expected a value after {operator!r}")
                value = take() if value is not None else ""
                requirements.append({
                    "key": key, "operator": "NotIn" if operator == "!=" else "In",
                    "values": [_check_value(value or "", text)],
                })  # fmt: skip
            elif operator is not None and operator.lower() in ("in", "notin"):
                take()
                if take() != "(":
                    raise SelectorError(f"{text!r}: expected '(' after {operator!r}")
                values: list[str] = []
                while True:
                    value = take()
                    if value is None:
                        raise SelectorError(f"{text!r}: unclosed '('")
                    if value == ")":
                        break
                    if value == ",":
                        continue
                    values.append(_check_value(value, text))
                if not values:
                    raise SelectorError(f"{text!r}: {operator!r} needs at least one value")
                op = "In" if operator.lower() == "in" else "NotIn"
                requirements.append({"key": key, "operator": op, "values": values})
            else:
                requirements.append({"key": key, "operator": "Exists"})
        separator = take()
        if separator is None:
            return requirements
        if separator != ",":
            raise SelectorError(f"{text!r}: expected ',' before {separator!r}")


def cluster_selector(selectors: list[str] | None) -> dict[str, Any]:
    """The clusterSelector of repeated ``--selector`` options (empty: every peer)."""
    terms = [{"matchExpressions": parse_selector(text)} for text in selectors or []]
    return {"nodeSelectorTerms": terms}
