"""Validation of built-in kinds: the checks clients most often trip over upstream.

Each check returns ``(field, reason, message)`` causes like Kubernetes' field errors;
the engine answers them as 422 Invalid. Coverage is deliberately partial (see
docs/testing.md); what is checked is checked with upstream's wording.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from . import errors
from .types import JSON

Cause = tuple[str, str, str]
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


def _required(fld: str) -> Cause:
    return (fld, "FieldValueRequired", f"{fld}: Required value")


def _config_keys(obj: JSON, fields: tuple[str, ...]) -> list[Cause]:
    causes: list[Cause] = []
    for fld in fields:
        for key in obj.get(fld) or {}:
            if not _CONFIG_KEY.match(key) or len(key) > 253:
                causes.append(
                    (
                        f"{fld}[{key}]",
                        "FieldValueInvalid",
                        f'{fld}[{key}]: Invalid value: "{key}": a valid config key must consist '
                        "of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
                        "'KEY_NAME',  or 'key-name', regex used for validation is "
                        "'[-._a-zA-Z0-9]+')",
                    )
                )
    return causes


def _configmap(obj: JSON, old: JSON | None) -> list[Cause]:
    return _config_keys(obj, ("data", "binaryData"))


def _secret(obj: JSON, old: JSON | None) -> list[Cause]:
    causes = _config_keys(obj, ("data",))
    if old is not None and obj.get("type") != old.get("type"):
        causes.append(
            (
                "type",
                "FieldValueInvalid",
                f'type: Invalid value: "{obj.get("type")}": field is immutable',
            )
        )
    return causes


def _containers(spec: JSON, prefix: str) -> list[Cause]:
    containers = spec.get("containers")
    if not containers:
        return [_required(f"{prefix}.containers")]
    causes: list[Cause] = []
    for i, c in enumerate(containers):
        if not c.get("name"):
            causes.append(_required(f"{prefix}.containers[{i}].name"))
        if not c.get("image"):
            causes.append(_required(f"{prefix}.containers[{i}].image"))
    return causes


def _pod(obj: JSON, old: JSON | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes = _containers(spec, "spec")
    if old is not None and not causes:
        old_spec = old.get("spec") or {}

        def comparable(s: JSON) -> JSON:
            out = {k: v for k, v in s.items() if k not in _POD_MUTABLE}
            for key in ("containers", "initContainers"):
                if key in out:
                    out[key] = [{k: v for k, v in c.items() if k != "image"} for c in out[key]]
            return out

        if comparable(spec) != comparable(old_spec):
            causes.append(
                (
                    "spec",
                    "FieldValueForbidden",
                    "spec: Forbidden: pod updates may not change fields other than "
                    "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
                    "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
                    "set to 1 if it was previously negative)",
                )
            )
    return causes


def _workload(obj: JSON, old: JSON | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    template = spec.get("template") or {}
    causes: list[Cause] = []
    if not selector:
        causes.append(_required("spec.selector"))
    else:
        labels = (template.get("metadata") or {}).get("labels") or {}
        wanted = selector.get("matchLabels") or {}
        if any(labels.get(k) != v for k, v in wanted.items()):
            causes.append(
                (
                    "spec.template.metadata.labels",
                    "FieldValueInvalid",
                    f"spec.template.metadata.labels: Invalid value: {_go_map(labels)}: "
                    "`selector` does not match template `labels`",
                )
            )
    causes += _containers(template.get("spec") or {}, "spec.template.spec")
    if old is not None and selector and selector != (old.get("spec") or {}).get("selector"):
        causes.append(
            (
                "spec.selector",
                "FieldValueInvalid",
                f"spec.selector: Invalid value: {_go_selector(selector)}: field is immutable",
            )
        )
    return causes


def _go_map(labels: dict[str, Any]) -> str:
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"


def _go_selector(selector: JSON) -> str:
    return f"v1.LabelSelector{{MatchLabels:{_go_map(selector.get('matchLabels') or {})}}}"


def _service(obj: JSON, old: JSON | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    causes: list[Cause] = []
    if kind != "ExternalName" and spec.get("clusterIP") != "None" and not spec.get("ports"):
        causes.append(_required("spec.ports"))
    for i, port in enumerate(spec.get("ports") or []):
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            causes.append(
                (
                    f"spec.ports[{i}].port",
                    "FieldValueInvalid",
                    f"spec.ports[{i}].port: Invalid value: {number}: must be between 1 and "
                    "65535, inclusive",
                )
            )
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if (
            old_ip
            and spec.get("clusterIP") != old_ip
            and kind == (old.get("spec") or {}).get("type")
        ):
            causes.append(
                (
                    "spec.clusterIPs[0]",
                    "FieldValueInvalid",
                    f'spec.clusterIPs[0]: Invalid value: "{spec.get("clusterIP")}": may not '
                    "change once set",
                )
            )
    return causes


VALIDATORS: dict[tuple[str, str], Callable[[JSON, JSON | None], list[Cause]]] = {
    ("", "configmaps"): _configmap,
    ("", "secrets"): _secret,
    ("", "pods"): _pod,
    ("", "services"): _service,
    ("apps", "deployments"): _workload,
    ("apps", "replicasets"): _workload,
    ("apps", "daemonsets"): _workload,
    ("apps", "statefulsets"): _workload,
}


def normalize_secret(obj: JSON) -> None:
    """Fold ``stringData`` into ``data`` and check ``data`` is base64 (400 otherwise).

    As Go's base64 decoder, line breaks inside a value (a YAML block scalar) are skipped;
    the value is stored in its canonical encoding, as kube-apiserver returns it.
    """
    data = obj.get("data") or {}
    canonical: JSON = {}
    for key, value in data.items():
        try:
            text = str(value).replace("\r", "").replace("\n", "")
            canonical[key] = base64.b64encode(base64.b64decode(text, validate=True)).decode()
        except (binascii.Error, ValueError) as exc:
            raise errors.bad_request(
                f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data '
                f"at input byte for key {key!r}"
            ) from exc
    if canonical != data:
        data = obj["data"] = canonical
    string_data = obj.pop("stringData", None)
    if string_data:
        data = dict(data)
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data
