"""Sockets opened in another network namespace, from a process that stays where it is.

A socket belongs to the network namespace of the thread that created it, for its whole
life. :class:`NetnsSockets` keeps one worker thread that enters the namespace named by a
``/run/netns/<name>`` file (``setns(2)`` through libc: Python 3.11 has no ``os.setns``;
it changes only the calling thread), creates the socket there and steps back into the
process's own namespace. The socket can then be used from any thread or event loop.

The emulator uses it to dial admission webhooks from a node's network, as kube-apiserver
does from its control-plane node (:mod:`.security.admission`); the sandbox uses it to
listen inside node namespaces. Needs ``CAP_SYS_ADMIN`` (root).
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from socket import socket as Socket
from typing import Any

CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


class NetnsSockets:
    """Creates sockets in the network namespace at ``path`` (opened afresh for each
    socket, so a namespace deleted and created again under the same name is followed)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._home: int | None = None
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="netns")

    def _create(self, family: int, kind: int, proto: int) -> Socket:
        if self._home is None:
            self._home = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
        try:
            target = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise OSError(err.errno, f"network namespace {self.path}: {err.strerror}") from None
        try:
            _setns(target)
            try:
                return socket.socket(family, kind, proto)
            finally:
                _setns(self._home)
        finally:
            os.close(target)

    def socket(
        self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM, proto: int = 0
    ) -> Socket:
        """A new socket in the namespace (blocks briefly on the worker thread)."""
        with self._lock:
            return self._executor.submit(self._create, family, kind, proto).result()

    def socket_factory(self, addr_info: Any) -> Socket:
        """aiohttp's ``TCPConnector(socket_factory=...)``: ``(family, type, proto, ...)``."""
        family, kind, proto = addr_info[0], addr_info[1], addr_info[2]
        sock = self.socket(family, kind, proto)
        sock.setblocking(False)
        return sock

    def listen(self, host: str, port: int, backlog: int = 128) -> Socket:
        """A TCP socket listening on ``host:port`` in the namespace."""
        sock = self.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(backlog)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        """Stop the worker thread."""
        self._executor.shutdown(wait=False)
        if self._home is not None:
            # The descriptor was opened by the worker; any thread may close it.
            os.close(self._home)
            self._home = None
