"""What a process-runner container sees: its environment, files and command line.

Filesystem contract: the pod's volumes are written below the pod directory (ConfigMap and
Secret keys as files, emptyDir as a directory shared by the pod's containers), and every
``volumeMount`` is bind-mounted at its real ``mountPath`` (``subPath`` as the single
entry) in the container's private mount namespace (:mod:`mountns`), as is the service
account's token, CA and namespace at ``/var/run/secrets/kubernetes.io/serviceaccount``.
Paths in command, args and env therefore need no translation.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from liqo_core.sandbox.mountns import Mount

JSON = dict[str, Any]
Getter = Callable[[str, str, str], Awaitable[JSON | None]]

SA_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ConfigError(Exception):
    """The container cannot be configured (missing ConfigMap key, ...), as
    CreateContainerConfigError."""


def expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: defined variables are replaced, ``$$`` escapes,
    undefined references stay as written."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(substitute, value)


def field_value(pod: JSON, path: str) -> str:
    """A downward-API ``fieldRef`` value."""
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
    }
    if path in simple:
        return str(simple[path] or "")
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise ConfigError(f"unsupported fieldRef {path!r}")


async def _key_ref(get: Getter, kind: str, namespace: str, ref: JSON) -> str | None:
    obj = await get(kind, namespace, ref.get("name", ""))
    optional = bool(ref.get("optional"))
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{kind} "{ref.get("name")}" not found')
    data = obj.get("data") or {}
    key = ref.get("key", "")
    if key not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {key} in {kind} {namespace}/{ref.get('name')}")
    value = str(data[key])
    return base64.b64decode(value).decode() if kind == "Secret" else value


async def container_env(pod: JSON, container: JSON, get: Getter) -> dict[str, str]:
    """The container's variables from ``envFrom`` then ``env`` (later wins, ``$(VAR)``
    expanded against earlier ones)."""
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, ref_key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(ref_key)
            if not ref:
                continue
            obj = await get(kind, namespace, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind} "{ref.get("name")}" not found')
            for key, value in (obj.get("data") or {}).items():
                text = base64.b64decode(value).decode() if kind == "Secret" else str(value)
                env[prefix + key] = text
    for var in container.get("env") or []:
        name = var["name"]
        source = var.get("valueFrom")
        if source is None:
            env[name] = expand(str(var.get("value", "")), env)
        elif "fieldRef" in source:
            env[name] = field_value(pod, source["fieldRef"].get("fieldPath", ""))
        elif "configMapKeyRef" in source:
            value = await _key_ref(get, "ConfigMap", namespace, source["configMapKeyRef"])
            if value is not None:
                env[name] = value
        elif "secretKeyRef" in source:
            value = await _key_ref(get, "Secret", namespace, source["secretKeyRef"])
            if value is not None:
                env[name] = value
        else:
            raise ConfigError(f"unsupported valueFrom for {name}")
    return env


async def materialise_volumes(pod: JSON, pod_dir: Path, get: Getter) -> dict[str, Path]:
    """Write the pod's ConfigMap, Secret and emptyDir volumes below ``pod_dir/volumes``."""
    namespace = pod["metadata"]["namespace"]
    result: dict[str, Path] = {}
    for volume in pod.get("spec", {}).get("volumes") or []:
        target = pod_dir / "volumes" / volume["name"]
        if "emptyDir" in volume:
            target.mkdir(parents=True, exist_ok=True)
        elif "configMap" in volume or "secret" in volume:
            kind = "ConfigMap" if "configMap" in volume else "Secret"
            source = volume.get("configMap") or volume.get("secret") or {}
            name = source.get("name") or source.get("secretName") or ""
            obj = await get(kind, namespace, name)
            if obj is None:
                if source.get("optional"):
                    target.mkdir(parents=True, exist_ok=True)
                    result[volume["name"]] = target
                    continue
                raise ConfigError(f'{kind.lower()} "{name}" not found')
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            data: dict[str, bytes] = {}
            for key, value in (obj.get("data") or {}).items():
                data[key] = base64.b64decode(value) if kind == "Secret" else str(value).encode()
            for key, value in (obj.get("binaryData") or {}).items():
                data[key] = base64.b64decode(value)
            items = source.get("items")
            selected = (
                {item["path"]: data[item["key"]] for item in items if item["key"] in data}
                if items
                else data
            )
            for rel, content in selected.items():
                path = target / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
        else:
            continue
        result[volume["name"]] = target
    return result


def volume_mounts(pod: JSON, container: JSON, volumes: Mapping[str, Path]) -> list[Mount]:
    """The container's ``volumeMounts`` as bind mounts of the materialised ``volumes``
    (``subPath`` selects an entry; ConfigMap and Secret volumes are read-only, as the
    kubelet mounts them)."""
    api_data = {
        v["name"]
        for v in pod.get("spec", {}).get("volumes") or []
        if "configMap" in v or "secret" in v
    }
    mounts: list[Mount] = []
    for mount in container.get("volumeMounts") or []:
        source = volumes.get(mount["name"])
        if source is None:
            continue
        if mount.get("subPath"):
            source = source / mount["subPath"]
        read_only = bool(mount.get("readOnly")) or mount["name"] in api_data
        mounts.append(Mount(mount["mountPath"].rstrip("/") or "/", str(source), read_only))
    return mounts


def write_service_account(directory: Path, token: str, ca_pem: bytes, namespace: str) -> Mount:
    """Write token, ca.crt and namespace into ``directory``; returns its mount at
    :data:`SA_PATH`, where in-cluster clients look for them."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(token)
    (directory / "ca.crt").write_bytes(ca_pem)
    (directory / "namespace").write_text(namespace)
    os.chmod(directory / "token", 0o600)
    return Mount(SA_PATH, str(directory), read_only=True)


RESOLV_CONF = "/etc/resolv.conf"


def resolv_conf(
    pod: JSON, nameserver: str | None, domain: str = "cluster.local", host: str = RESOLV_CONF
) -> str | None:
    """The pod's ``/etc/resolv.conf`` as the kubelet writes it, or None to keep the host's.

    ``dnsPolicy``: ``ClusterFirst`` (the default) points at the cluster DNS ``nameserver``
    with the search path ``<ns>.svc.<domain> svc.<domain> <domain>`` and ``ndots:5``, except
    for ``hostNetwork`` pods, which keep the node's (as ``Default``) unless the policy is
    ``ClusterFirstWithHostNet``; ``None`` uses ``dnsConfig`` alone. ``dnsConfig``'s
    nameservers, searches and options are added in every case.
    """
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    config = spec.get("dnsConfig") or {}
    cluster = nameserver is not None and (
        policy == "ClusterFirstWithHostNet"
        or (policy == "ClusterFirst" and not spec.get("hostNetwork"))
    )
    if not cluster and policy != "None" and not config:
        return None
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if cluster:
        namespace = pod["metadata"]["namespace"]
        servers = [str(nameserver)]
        searches = [f"{namespace}.svc.{domain}", f"svc.{domain}", domain]
        options = ["ndots:5"]
    elif policy != "None":
        try:
            text = Path(host).read_text()
        except OSError:
            text = ""
        for line in text.splitlines():
            words = line.split()
            if words and words[0] == "nameserver":
                servers += words[1:2]
            elif words and words[0] in ("search", "domain"):
                searches += words[1:]
            elif words and words[0] == "options":
                options += words[1:]
    servers += [str(s) for s in config.get("nameservers") or []]
    searches += [str(s) for s in config.get("searches") or []]
    for option in config.get("options") or []:
        name = option.get("name", "")
        value = option.get("value")
        options = [o for o in options if o.split(":", 1)[0] != name]
        options.append(f"{name}:{value}" if value is not None else name)
    lines = [f"nameserver {s}" for s in dict.fromkeys(servers)]
    if searches:
        lines.append("search " + " ".join(dict.fromkeys(searches)))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"
