"""Structural schema handling for custom resources: pruning, defaulting and validation.

A :class:`CRDValidator` is built once per served CRD version from its
``openAPIV3Schema``: construction compiles the schema tree (regular expressions, CEL
programs, list-map keys) so that every request only walks the object.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from liqo_core.sandbox.apiserver.schema.errors import NO_VALUE, FieldError, render_value
from liqo_core.sandbox.apiserver.schema.formats import check_format
from liqo_core.sandbox.apiserver.schema.nodes import Node, compile_schema, merge_shape

__all__ = ["CRDValidator"]

_ROOT_KEEP = ("apiVersion", "kind", "metadata")
_REASON_TYPES = {
    "FieldValueInvalid": "Invalid value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_type(value: Any, wanted: str) -> bool:
    actual = _type_name(value)
    return actual == wanted or (wanted == "number" and actual == "integer")


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class CRDValidator:
    """Prunes, defaults and validates objects of one CRD version.

    Build it once per version from ``spec.versions[].schema.openAPIV3Schema`` and reuse it:
    regular expressions and CEL rules are compiled here (an invalid rule raises
    :class:`~liqo_core.sandbox.apiserver.schema.errors.SchemaError`, a ``ValueError``;
    an uncompilable CEL rule raises its subclass ``RuleCompileError``).
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.root = compile_schema(schema)
        self.merge_shape = merge_shape(self.root)
        """List rules for server-side apply (``x-kubernetes-list-type``/``-map-keys``)."""

    # --- pruning ---------------------------------------------------------------------

    def prune(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``obj`` without fields the schema does not declare.

        Fields under ``x-kubernetes-preserve-unknown-fields: true`` survive, as do
        ``apiVersion``, ``kind`` and ``metadata`` at the root and in embedded resources.
        A ``null`` on a field that is not ``nullable`` is dropped too, as Kubernetes does
        before defaulting.
        """
        out = self._prune(self.root, obj, root=True)
        assert isinstance(out, dict)
        return out

    def _prune(self, node: Node, value: Any, root: bool = False) -> Any:
        if isinstance(value, list):
            if node.items is None:
                return copy.deepcopy(value)
            return [self._prune(node.items, v) for v in value]
        if not isinstance(value, dict):
            return copy.deepcopy(value)
        if isinstance(node.additional, Node):
            values = node.additional
            return {
                k: self._prune(values, v)
                for k, v in value.items()
                if v is not None or values.nullable
            }
        out: dict[str, Any] = {}
        for key, child in value.items():
            if key in node.properties and not (root and key == "metadata"):
                if child is None and not node.properties[key].nullable:
                    continue  # non-nullable nulls are dropped (then defaulted if they can be)
                out[key] = self._prune(node.properties[key], child)
            elif (
                node.preserve_unknown
                or node.additional is True
                or ((root or node.embedded) and key in _ROOT_KEEP)
            ):
                out[key] = copy.deepcopy(child)
        return out

    # --- defaulting ------------------------------------------------------------------

    def apply_defaults(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``obj`` with schema defaults filled in where fields are absent.

        Defaults apply at every depth, including inside array items and map values and
        inside defaulted values themselves; a ``null`` on a non-nullable field with a
        default counts as absent.
        """
        out = self._default(self.root, copy.deepcopy(obj), root=True)
        assert isinstance(out, dict)
        return out

    def _default(self, node: Node, value: Any, root: bool = False) -> Any:
        if isinstance(value, list) and node.items is not None:
            return [self._default(node.items, v) for v in value]
        if not isinstance(value, dict):
            return value
        for key, child in node.properties.items():
            if root and key == "metadata":
                continue
            absent = key not in value or (value[key] is None and not child.nullable)
            if absent and child.default is not NO_VALUE:
                value[key] = copy.deepcopy(child.default)
            if key in value:
                value[key] = self._default(child, value[key])
        if isinstance(node.additional, Node):
            for key in value:
                if key not in node.properties:
                    value[key] = self._default(node.additional, value[key])
        return value

    # --- validation ------------------------------------------------------------------

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[FieldError]:
        """Every schema and CEL violation of ``obj``.

        On update (``old`` given) transition rules run where the old value exists, and
        values left unchanged are not re-validated (Kubernetes' validation ratcheting,
        on by default since 1.30), so a schema tightened later does not block updates
        of other fields.
        """
        errors: list[FieldError] = []
        self._check(self.root, obj, NO_VALUE if old is None else old, "", errors=errors, root=True)
        return errors

    def _check(
        self,
        node: Node,
        value: Any,
        old: Any,
        path: str,
        *,
        errors: list[FieldError],
        root: bool = False,
        cel: bool = True,
    ) -> None:
        if old is not NO_VALUE and value == old:
            return  # validation ratcheting: an unchanged value stays acceptable
        if value is None:
            if not node.nullable and (node.type or node.int_or_string):
                wanted = node.type or "string"
                msg = f'{path or "body"} in body must be of type {wanted}: "null"'
                errors.append(FieldError(path, msg, value="null"))
            return
        if not self._check_type(node, value, path, errors):
            return
        self._check_value(node, value, path, errors)
        if isinstance(value, dict):
            self._check_object(node, value, old, path, errors=errors, root=root, cel=cel)
        elif isinstance(value, list):
            self._check_array(node, value, old, path, errors=errors, cel=cel)
        self._check_combinators(node, value, path, errors)
        if cel:
            self._check_rules(node, value, old, path, errors)

    def _check_type(self, node: Node, value: Any, path: str, errors: list[FieldError]) -> bool:
        if node.int_or_string:
            ok = isinstance(value, str) or _type_name(value) == "integer"
            wanted = "integer or string"
        elif node.type:
            ok = _is_type(value, node.type)
            wanted = node.type
        else:
            return True
        if not ok:
            actual = _type_name(value)
            msg = f"{path or 'body'} in body must be of type {wanted}: {render_value(actual)}"
            errors.append(FieldError(path, msg, value=actual))
        return ok

    def _check_value(self, node: Node, value: Any, path: str, errors: list[FieldError]) -> None:
        where = f"{path or 'body'} in body"
        if node.enum is not None and value not in node.enum:
            allowed = ", ".join(render_value(v) for v in node.enum)
            errors.append(
                FieldError(path, f"supported values: {allowed}", "Unsupported value", value)
            )
        if node.format and not check_format(node.format, value):
            msg = f"{where} must be of type {node.format}: {render_value(value)}"
            errors.append(FieldError(path, msg, value=value))
        lim = node.limits
        if isinstance(value, str):
            if node.pattern is not None and not node.pattern.search(value):
                msg = f"{where} should match '{node.pattern.pattern}'"
                errors.append(FieldError(path, msg, value=value))
            if "maxLength" in lim and len(value) > lim["maxLength"]:
                msg = f"may not be more than {lim['maxLength']} bytes"
                errors.append(FieldError(path, msg, "Too long", value))
            if "minLength" in lim and len(value) < lim["minLength"]:
                msg = f"{where} should be at least {lim['minLength']} chars long"
                errors.append(FieldError(path, msg, value=value))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._check_number(value, lim, path, where, errors)

    @staticmethod
    def _check_number(
        value: float, lim: dict[str, Any], path: str, where: str, errors: list[FieldError]
    ) -> None:
        if "minimum" in lim:
            excl = bool(lim.get("exclusiveMinimum"))
            if value < lim["minimum"] or (excl and value == lim["minimum"]):
                rel = "greater than" if excl else "greater than or equal to"
                errors.append(
                    FieldError(path, f"{where} should be {rel} {lim['minimum']}", value=value)
                )
        if "maximum" in lim:
            excl = bool(lim.get("exclusiveMaximum"))
            if value > lim["maximum"] or (excl and value == lim["maximum"]):
                rel = "less than" if excl else "less than or equal to"
                errors.append(
                    FieldError(path, f"{where} should be {rel} {lim['maximum']}", value=value)
                )
        step = lim.get("multipleOf")
        if step and (value / step) != int(value / step):
            errors.append(FieldError(path, f"{where} should be a multiple of {step}", value=value))

    def _check_object(
        self,
        node: Node,
        value: dict[str, Any],
        old: Any,
        path: str,
        *,
        errors: list[FieldError],
        root: bool,
        cel: bool,
    ) -> None:
        where = f"{path or 'body'} in body"
        lim = node.limits
        if "maxProperties" in lim and len(value) > lim["maxProperties"]:
            msg = f"must have at most {lim['maxProperties']} items"
            errors.append(FieldError(path, msg, "Too many", len(value)))
        if "minProperties" in lim and len(value) < lim["minProperties"]:
            msg = f"{where} should have at least {lim['minProperties']} properties"
            errors.append(FieldError(path, msg, value=len(value)))
        for name in node.required:
            if name not in value:
                errors.append(FieldError(_child(path, name), "", "Required value"))
        old_map = old if isinstance(old, dict) else {}
        for key, child_value in value.items():
            if root and key in _ROOT_KEEP and key != "metadata":
                continue
            child = node.properties.get(key)
            if child is None and isinstance(node.additional, Node):
                child = node.additional
                child_path = f"{path}[{key}]" if path else key
            else:
                child_path = _child(path, key)
            if child is None:
                if node.additional is False and node.properties:
                    errors.append(FieldError(child_path, "", "Forbidden"))
                continue
            if root and key == "metadata":
                child = Node(
                    type="object",
                    properties={
                        k: v for k, v in child.properties.items() if k in ("name", "generateName")
                    },
                    preserve_unknown=True,
                )
            self._check(
                child, child_value, old_map.get(key, NO_VALUE), child_path, errors=errors, cel=cel
            )

    def _check_array(
        self,
        node: Node,
        value: list[Any],
        old: Any,
        path: str,
        *,
        errors: list[FieldError],
        cel: bool,
    ) -> None:
        where = f"{path or 'body'} in body"
        lim = node.limits
        if "maxItems" in lim and len(value) > lim["maxItems"]:
            msg = f"must have at most {lim['maxItems']} items"
            errors.append(FieldError(path, msg, "Too many", len(value)))
        if "minItems" in lim and len(value) < lim["minItems"]:
            msg = f"{where} should have at least {lim['minItems']} items"
            errors.append(FieldError(path, msg, value=len(value)))
        if lim.get("uniqueItems"):
            dumped = [json.dumps(v, sort_keys=True) for v in value]
            if len(set(dumped)) != len(dumped):
                errors.append(
                    FieldError(path, f"{where} shouldn't contain duplicates", value=value)
                )
        old_items = self._correlate(node, old)
        seen: set[str] = set()
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            ident = self._identity(node, item)
            if ident is not None:
                if ident in seen:
                    shown = json.loads(ident) if node.list_type == "map" else item
                    errors.append(FieldError(item_path, "", "Duplicate value", shown))
                seen.add(ident)
            old_item = (
                old_items.get(ident, NO_VALUE)
                if ident is not None and node.list_type == "map"
                else NO_VALUE
            )
            if node.items is not None:
                self._check(node.items, item, old_item, item_path, errors=errors, cel=cel)

    @staticmethod
    def _identity(node: Node, item: Any) -> str | None:
        if node.list_type == "set":
            return json.dumps(item, sort_keys=True)
        if node.list_type == "map" and isinstance(item, dict):
            key = {k: item.get(k) for k in node.map_keys}
            return json.dumps(key, sort_keys=True)
        return None

    def _correlate(self, node: Node, old: Any) -> dict[str, Any]:
        if node.list_type != "map" or not isinstance(old, list):
            return {}
        out: dict[str, Any] = {}
        for item in old:
            ident = self._identity(node, item)
            if ident is not None:
                out[ident] = item
        return out

    def _check_combinators(
        self, node: Node, value: Any, path: str, errors: list[FieldError]
    ) -> None:
        def passes(sub: Node) -> list[FieldError]:
            found: list[FieldError] = []
            self._check(sub, value, NO_VALUE, path, errors=found, cel=False)
            return found

        for sub in node.all_of:
            errors.extend(passes(sub))
        if node.one_of and sum(1 for s in node.one_of if not passes(s)) != 1:
            msg = f"{path or 'body'} in body must validate one and only one schema (oneOf)"
            errors.append(FieldError(path, msg, value=value))
        if node.any_of and not any(not passes(s) for s in node.any_of):
            msg = f"{path or 'body'} in body must validate at least one schema (anyOf)"
            errors.append(FieldError(path, msg, value=value))
        if node.not_ is not None and not passes(node.not_):
            msg = f"{path or 'body'} in body must not validate the schema (not)"
            errors.append(FieldError(path, msg, value=value))

    @staticmethod
    def _check_rules(node: Node, value: Any, old: Any, path: str, errors: list[FieldError]) -> None:
        for rule in node.rules:
            if rule.transition and old is NO_VALUE:
                continue
            ok, message = rule.evaluate(value, old)
            if ok:
                continue
            where = path
            if rule.field_path:
                suffix = rule.field_path.lstrip(".")
                sep = "" if rule.field_path.startswith("[") or not path else "."
                where = f"{path}{sep}{suffix}" if path else suffix
            err_type = _REASON_TYPES.get(rule.reason, "Invalid value")
            shown = node.type or _type_name(value)
            errors.append(FieldError(where, message, err_type, shown))
