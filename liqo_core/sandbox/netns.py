"""Network namespaces, the low level: names, the ``ip`` command, listing and deleting.

Names (``<prefix>`` is ``lsb-<sandbox id>``, the id being 6 hex digits derived from the
sandbox directory): ``<prefix>-<node name>`` for a node (:mod:`topology`) and
``<prefix>-<pod uid>`` for a pod (:mod:`cni`). ``down`` deletes every namespace whose name
starts with the prefix.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

NETNS_DIR = Path("/var/run/netns")


class NetnsError(RuntimeError):
    """An ``ip`` command (or another network setup step) failed."""


def sandbox_prefix(sandbox_dir: str | os.PathLike[str]) -> str:
    """``lsb-<6 hex>``: the netns name prefix of the sandbox living in ``sandbox_dir``."""
    digest = hashlib.sha1(str(Path(sandbox_dir).resolve()).encode()).hexdigest()[:6]
    return f"lsb-{digest}"


def pod_netns_name(prefix: str, pod_uid: str) -> str:
    """The namespace of the pod with UID ``pod_uid``."""
    return f"{prefix}-{pod_uid}"


async def ip(*args: str, check: bool = True, stdin: str | None = None) -> str:
    """Run ``ip <args>`` (``stdin`` for ``-batch -``); raise :class:`NetnsError` on
    failure when ``check``."""
    try:
        process = await asyncio.create_subprocess_exec(
            "ip",
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise NetnsError(f"cannot run ip (install iproute2): {exc}") from exc
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    if check and process.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


def list_netns(prefix: str) -> list[str]:
    """Existing namespaces whose name starts with ``prefix``."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix + "-"))


async def delete_all(prefix: str) -> list[str]:
    """Delete every namespace of the sandbox; returns their names."""
    names = list_netns(prefix)
    for name in names:
        await ip("netns", "delete", name, check=False)
    return names
