"""Label and field selectors with Kubernetes' grammar and semantics.

Label selectors follow ``k8s.io/apimachinery/pkg/labels``: ``a=b``, ``a==b``, ``a!=b``,
``a in (x,y)``, ``a notin (x)``, ``a`` (exists), ``!a`` (does not exist), ``a>1`` and
``a<1`` (integer comparisons), comma-separated terms ANDed together. Field selectors follow
``k8s.io/apimachinery/pkg/fields``: ``path=value``, ``path==value``, ``path!=value`` with
``\\``, ``\\,`` and ``\\=`` escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from liqo_core.kube import names

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "SelectorError",
    "label_selector_from_api",
    "parse_field_selector",
    "parse_label_selector",
    "validate_label_key",
    "validate_label_value",
]


class SelectorError(ValueError):
    """A selector that Kubernetes would reject (answered as 400 BadRequest)."""


_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
    "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def _key_problems(key: str) -> list[str]:
    problems: list[str] = []
    prefix, sep, name = key.rpartition("/")
    if sep and not prefix:
        problems.append("prefix part must be non-empty")
    elif sep:
        problems += [f"prefix part {p}" for p in names.dns1123_subdomain_problems(prefix)]
    if "/" in prefix:
        problems.append(
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character with an optional DNS subdomain "
            "prefix and '/' (e.g. 'example.com/MyName')"
        )
    if not name:
        problems.append("name part must be non-empty")
    else:
        if len(name) > 63:
            problems.append("name part must be no more than 63 characters")
        if not _NAME_RE.match(name):
            problems.append(_NAME_MSG)
    return problems


def validate_label_key(key: str) -> None:
    """Raise :class:`SelectorError` unless ``key`` is a valid qualified label key."""
    problems = _key_problems(key)
    if problems:
        raise SelectorError(f"key: Invalid value: {_quote(key)}: {'; '.join(problems)}")


def validate_label_value(value: str) -> None:
    """Raise :class:`SelectorError` unless ``value`` is a valid label value."""
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if value and not _NAME_RE.match(value):
        problems.append(_VALUE_MSG)
    if problems:
        raise SelectorError(f"values[0]: Invalid value: {_quote(value)}: {'; '.join(problems)}")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_SET_OPS = frozenset({"in", "notin"})
_OPS = frozenset({"=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"})


@dataclass(frozen=True)
class Requirement:
    """One label requirement; ``op`` is ``=``, ``!=``, ``in``, ``notin``, ``exists``, ``!``
    (does not exist), ``gt`` or ``lt``."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement."""
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "==", "in"):
            return present and labels[self.key] in self.values
        if self.op in ("!=", "notin"):
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        try:
            have = int(labels[self.key])
        except ValueError:
            return False
        want = int(self.values[0])
        return have > want if self.op == "gt" else have < want

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return "!" + self.key
        if self.op in _SET_OPS:
            return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
        sym = {"gt": ">", "lt": "<", "==": "=="}.get(self.op, self.op)
        return f"{self.key}{sym}{self.values[0]}"


def _requirement(key: str, op: str, values: Iterable[str]) -> Requirement:
    vals = tuple(dict.fromkeys(values))
    validate_label_key(key)
    if op in _SET_OPS and not vals:
        raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
    if op in ("=", "==", "!=") and len(vals) != 1:
        raise SelectorError("exact-match compatibility requires one single value")
    if op in ("exists", "!") and vals:
        raise SelectorError("values set must be empty for exists and does not exist")
    if op in ("gt", "lt"):
        if len(vals) != 1:
            raise SelectorError("for 'Gt', 'Lt' operators, exactly one value is required")
        if not re.fullmatch(r"-?[0-9]+", vals[0]):
            raise SelectorError(
                f"for 'Gt', 'Lt' operators, the value must be an integer: {_quote(vals[0])}"
            )
    else:
        for value in vals:
            validate_label_value(value)
    return Requirement(key, op, vals)


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of label requirements.

    ``nothing`` marks the selector a nil ``metav1.LabelSelector`` converts to: it matches
    no object at all, whereas a selector without requirements matches every object.
    """

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector has no requirements and so matches everything."""
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object carrying ``labels`` is selected."""
        if self.nothing:
            return False
        have = labels or {}
        return all(req.matches(have) for req in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(req) for req in self.requirements)


# --- label selector parser -------------------------------------------------------------

_SPECIAL = frozenset("=!(),<> \t\n\r")
_TOKEN_RE = re.compile(r"\s*(==|!=|=|!|\(|\)|,|<|>|[^=!(),<>\s]+)")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:  # only trailing whitespace remains
            break
        out.append(match.group(1))
        pos = match.end()
    return out


def _is_ident(token: str | None) -> bool:
    # "in" and "notin" are keywords wherever they appear, as in Kubernetes' lexer
    return token is not None and token[0] not in _SPECIAL and token not in _SET_OPS


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> str | None:
        tok = self.peek()
        self.pos += 1
        return tok

    def fail(self, found: str | None, expected: str) -> SelectorError:
        shown = "end of string" if found is None else f"'{found}'"
        return SelectorError(
            f"unable to parse requirement: found {shown}, expected: {expected} "
            f"(selector {self.text!r})"
        )

    def parse(self) -> LabelSelector:
        reqs: list[Requirement] = []
        if self.peek() is None:
            return LabelSelector()
        while True:
            reqs.append(self.requirement())
            tok = self.take()
            if tok is None:
                break
            if tok != ",":
                raise self.fail(tok, "',' or end of string")
            if self.peek() is None:
                raise self.fail(None, "identifier after ','")
        reqs.sort(key=lambda r: r.key)
        return LabelSelector(tuple(reqs))

    def requirement(self) -> Requirement:
        tok = self.take()
        if tok == "!":
            key = self.take()
            if not _is_ident(key):
                raise self.fail(key, "identifier after '!'")
            assert key is not None
            nxt = self.peek()
            if nxt not in (None, ","):
                raise self.fail(nxt, "',' or end of string after '!key'")
            return _requirement(key, "!", ())
        if not _is_ident(tok):
            raise self.fail(tok, "'!' or identifier")
        assert tok is not None
        nxt = self.peek()
        if nxt in (None, ","):
            return _requirement(tok, "exists", ())
        self.take()
        if nxt in ("=", "==", "!="):
            value = self.peek()
            if value in (None, ","):
                return _requirement(tok, nxt, ("",))
            if not _is_ident(value):
                raise self.fail(value, "identifier or end of string as value")
            self.take()
            assert value is not None
            return _requirement(tok, nxt, (value,))
        if nxt in (">", "<"):
            value = self.take()
            if not _is_ident(value):
                raise self.fail(value, "integer value")
            assert value is not None
            return _requirement(tok, "gt" if nxt == ">" else "lt", (value,))
        if nxt in _SET_OPS:
            return _requirement(tok, nxt, self.value_set())
        raise self.fail(nxt, "'=', '==', '!=', 'in', 'notin', '>' or '<'")

    def value_set(self) -> list[str]:
        tok = self.take()
        if tok != "(":
            raise self.fail(tok, "'('")
        values: list[str] = []
        tok = self.take()
        if tok == ")":
            return values
        while True:
            if _is_ident(tok):
                assert tok is not None
                values.append(tok)
                tok = self.take()
            else:  # an empty value, as in "(a,)"
                values.append("")
            if tok == ")":
                return values
            if tok != ",":
                raise self.fail(tok, "',' or ')'")
            tok = self.take()


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the ``labelSelector`` query parameter; raise :class:`SelectorError` if invalid."""
    return _LabelParser(text).parse()


def label_selector_from_api(sel: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a ``metav1.LabelSelector`` as ``LabelSelectorAsSelector`` does.

    ``None`` (a nil selector) matches nothing; ``{}`` (an empty selector) matches
    everything. Callers whose API defaults a nil selector to ``{}`` (admission webhooks'
    ``namespaceSelector``/``objectSelector``) should pass ``sel or {}``.
    """
    if sel is None:
        return LabelSelector(nothing=True)
    if not isinstance(sel, Mapping):
        raise SelectorError("selector: Invalid value: must be an object")
    labels = sel.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        raise SelectorError("matchLabels: Invalid value: must be an object")
    reqs: list[Requirement] = []
    for key, value in labels.items():
        if not isinstance(value, str):
            raise SelectorError(f"matchLabels[{key}]: Invalid value: must be a string")
        reqs.append(_requirement(str(key), "=", (value,)))
    exprs = sel.get("matchExpressions") or []
    if not isinstance(exprs, list):
        raise SelectorError("matchExpressions: Invalid value: must be a list")
    for i, expr in enumerate(exprs):
        reqs.append(_api_expression(i, expr))
    reqs.sort(key=lambda r: r.key)
    return LabelSelector(tuple(reqs))


def _api_expression(i: int, expr: Any) -> Requirement:
    if not isinstance(expr, Mapping):
        raise SelectorError(f"matchExpressions[{i}]: Invalid value: must be an object")
    api_ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    operator = expr.get("operator", "")
    op = api_ops.get(operator) if isinstance(operator, str) else None
    if op is None:
        raise SelectorError(
            f"matchExpressions[{i}].operator: Unsupported value: "
            f'{_quote(str(operator))}: supported values: "In", "NotIn", "Exists", "DoesNotExist"'
        )
    values = expr.get("values") or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise SelectorError(f"matchExpressions[{i}].values: Invalid value: must be strings")
    if op in ("exists", "!") and values:
        raise SelectorError(
            f"matchExpressions[{i}].values: Forbidden: may not be specified when "
            "`operator` is 'Exists' or 'DoesNotExist'"
        )
    key = expr.get("key", "")
    return _requirement(key if isinstance(key, str) else str(key), op, values)


# --- field selectors -------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    """One field term: ``field`` compared with ``value`` by ``op`` (``=``, ``==``, ``!=``)."""

    field: str
    op: str
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` satisfies this term (absent fields read as ``""``)."""
        equal = _field_value(obj, self.field) == self.value
        return not equal if self.op == "!=" else equal


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of field terms."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def fields(self) -> set[str]:
        """The field paths this selector reads (for the server's per-resource allow list)."""
        return {req.field for req in self.requirements}

    @property
    def empty(self) -> bool:
        """True when the selector has no terms."""
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` satisfies every term."""
        return all(req.matches(obj) for req in self.requirements)

    def __str__(self) -> str:
        return ",".join(f"{r.field}{r.op}{_escape(r.value)}" for r in self.requirements)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return ""
        cur = cur[part]
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start = 0
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _unescape(value: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise SelectorError(
                    f"invalid field selector value {value!r}: invalid escape sequence '\\{ch}'"
                )
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise SelectorError(f"invalid field selector value {value!r}: unescaped {ch!r}")
        else:
            out.append(ch)
    if escaped:
        raise SelectorError(f"invalid field selector value {value!r}: unterminated escape")
    return "".join(out)


def _split_term(term: str) -> FieldRequirement:
    escaped = False
    for i, ch in enumerate(term):
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                field = term[:i]
                if not field:
                    raise SelectorError(f"invalid selector: {term!r}; field name is empty")
                return FieldRequirement(field, op, _unescape(term[i + len(op) :]))
    raise SelectorError(f"invalid selector: {term!r}; can't understand {term!r}")


def parse_field_selector(text: str) -> FieldSelector:
    """Parse the ``fieldSelector`` query parameter; raise :class:`SelectorError` if invalid.

    As in Kubernetes, empty terms are skipped and whitespace is kept: ``"a=b, c=d"``
    selects on a field named ``" c"``, which the server then refuses as unsupported.
    """
    reqs = [_split_term(term) for term in _split_terms(text) if term]
    return FieldSelector(tuple(reqs))
