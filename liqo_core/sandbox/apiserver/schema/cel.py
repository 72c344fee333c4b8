"""CEL validation rules (``x-kubernetes-validations``) compiled once and run with cel-python.

Besides CEL's standard macros and functions (``has``, ``size``, ``all``, ``exists``,
``exists_one``, ``map``, ``filter``, ``in``, ``startsWith``, ``endsWith``, ``contains``,
``matches``), the Kubernetes extension functions CRDs commonly use are provided: the
strings library (``lowerAscii``, ``upperAscii``, ``trim``, ``split``, ``join``,
``replace``, ``indexOf``, ``lastIndexOf``, ``substring``), ``isURL``, ``isIP``, ``ip``,
``isCIDR``, ``cidr``, ``containsIP``, ``containsCIDR``, ``prefixLength``, ``family``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

from liqo_core.sandbox.apiserver.schema.errors import SchemaError

__all__ = ["CELRule", "RuleCompileError", "compile_rule"]

_ENV = celpy.Environment()
_OLD_SELF = re.compile(r"\boldSelf\b")


class RuleCompileError(SchemaError):
    """A rule that does not compile (the CRD itself would be rejected)."""


def _s(value: Any) -> str:
    return str(value)


def _is_url(value: Any) -> celtypes.BoolType:
    parsed = urlparse(_s(value))
    return celtypes.BoolType(bool(parsed.scheme) and (bool(parsed.netloc) or bool(parsed.path)))


def _is_ip(value: Any, *family: Any) -> celtypes.BoolType:
    try:
        addr = ipaddress.ip_address(_s(value))
    except ValueError:
        return celtypes.BoolType(False)
    return celtypes.BoolType(not family or addr.version == int(family[0]))


def _is_cidr(value: Any) -> celtypes.BoolType:
    try:
        ipaddress.ip_network(_s(value), strict=False)
    except ValueError:
        return celtypes.BoolType(False)
    return celtypes.BoolType("/" in _s(value))


def _ip(value: Any) -> celtypes.StringType:
    return celtypes.StringType(str(ipaddress.ip_address(_s(value))))


def _cidr(value: Any) -> celtypes.StringType:
    if not _is_cidr(value):
        raise ValueError(f"network address parse error during conversion from string: {value}")
    return celtypes.StringType(_s(value))


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(_s(value), strict=False)


def _contains_ip(cidr: Any, addr: Any) -> celtypes.BoolType:
    return celtypes.BoolType(ipaddress.ip_address(_s(addr)) in _network(cidr))


def _contains_cidr(cidr: Any, other: Any) -> celtypes.BoolType:
    outer, inner = _network(cidr), _network(other)
    ok = outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]
    return celtypes.BoolType(ok)


def _prefix_length(cidr: Any) -> celtypes.IntType:
    return celtypes.IntType(_network(cidr).prefixlen)


def _family(addr: Any) -> celtypes.IntType:
    text = _s(addr).split("/")[0]
    return celtypes.IntType(ipaddress.ip_address(text).version)


def _split(text: Any, sep: Any, *limit: Any) -> celtypes.ListType:
    count = int(limit[0]) if limit else -1
    if count == 0:
        return celtypes.ListType([])
    if not _s(sep):
        chars = list(_s(text))
        parts = chars if count < 0 else [*chars[: count - 1], "".join(chars[count - 1 :])]
    else:
        parts = _s(text).split(_s(sep), count - 1 if count > 0 else -1)
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def _join(items: Any, *sep: Any) -> celtypes.StringType:
    return celtypes.StringType((_s(sep[0]) if sep else "").join(_s(i) for i in items))


def _substring(text: Any, start: Any, *end: Any) -> celtypes.StringType:
    return celtypes.StringType(_s(text)[int(start) : int(end[0]) if end else None])


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "isURL": _is_url,
    "isIP": _is_ip,
    "ip": _ip,
    "isCIDR": _is_cidr,
    "cidr": _cidr,
    "containsIP": _contains_ip,
    "containsCIDR": _contains_cidr,
    "prefixLength": _prefix_length,
    "family": _family,
    "lowerAscii": lambda s: celtypes.StringType(_s(s).lower()),
    "upperAscii": lambda s: celtypes.StringType(_s(s).upper()),
    "trim": lambda s: celtypes.StringType(_s(s).strip()),
    "split": _split,
    "join": _join,
    "replace": lambda s, a, b: celtypes.StringType(_s(s).replace(_s(a), _s(b))),
    "indexOf": lambda s, sub: celtypes.IntType(_s(s).find(_s(sub))),
    "lastIndexOf": lambda s, sub: celtypes.IntType(_s(s).rfind(_s(sub))),
    "substring": _substring,
}


def _error_text(exc: Any) -> str:
    args = getattr(exc, "args", ())
    head = args[0] if args else exc
    text = str(head)
    return text if len(text) < 200 else text[:200] + "..."


@dataclass(frozen=True)
class CELRule:
    """One compiled ``x-kubernetes-validations`` entry."""

    rule: str
    program: celpy.Runner
    message: str
    message_program: celpy.Runner | None
    reason: str
    field_path: str
    transition: bool

    def evaluate(self, value: Any, old: Any) -> tuple[bool, str]:
        """Run the rule on ``value`` (``old`` for transition rules): ``(passed, message)``."""
        activation: dict[str, Any] = {"self": json_to_cel(value)}
        if self.transition:
            activation["oldSelf"] = json_to_cel(old)
        try:
            result = self.program.evaluate(activation)
        except Exception as exc:  # cel-python raises evaluation errors of many types
            return False, f"{_error_text(exc)} evaluating rule: {self.rule}"
        if isinstance(result, CELEvalError):
            return False, f"{_error_text(result)} evaluating rule: {self.rule}"
        if not isinstance(result, celtypes.BoolType):
            return False, f"rule did not evaluate to a bool: {self.rule}"
        if result:
            return True, ""
        return False, self._message(activation)

    def _message(self, activation: dict[str, Any]) -> str:
        if self.message_program is not None:
            try:
                text = self.message_program.evaluate(activation)
            except Exception:  # fall back to the static message, as Kubernetes does
                text = None
            if isinstance(text, str) and text.strip():
                return str(text)
        return self.message or f"failed rule: {self.rule}"


def _program(text: str) -> celpy.Runner:
    try:
        return _ENV.program(_ENV.compile(text), functions=_FUNCTIONS)
    except Exception as exc:
        raise RuleCompileError(f"compilation failed: {_error_text(exc)}: {text}") from exc


def compile_rule(spec: dict[str, Any]) -> CELRule:
    """Compile one ``{rule, message, messageExpression, reason, fieldPath}`` entry."""
    rule = spec.get("rule")
    if not isinstance(rule, str) or not rule.strip():
        raise RuleCompileError("x-kubernetes-validations rule must be a non-empty string")
    message_expr = spec.get("messageExpression")
    return CELRule(
        rule=rule,
        program=_program(rule),
        message=str(spec.get("message") or ""),
        message_program=_program(message_expr) if message_expr else None,
        reason=str(spec.get("reason") or "FieldValueInvalid"),
        field_path=str(spec.get("fieldPath") or ""),
        transition=bool(_OLD_SELF.search(rule)),
    )
