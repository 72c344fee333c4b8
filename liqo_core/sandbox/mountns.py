"""A container's filesystem view: a private mount namespace with the pod's volumes at
their real ``mountPath``.

The process runner starts every container command through this module::

    python -m liqo_core.sandbox.mountns SPEC_JSON -- COMMAND [ARG...]

which, before ``exec``-ing the command:

1. unshares a mount namespace (plus a user namespace when not root) and makes every mount
   in it private, so nothing it mounts propagates to the host, and everything it mounted
   disappears with its last process;
2. joins the pod's network namespace (``netns``, a ``/run/netns`` file) and mounts a
   ``sysfs`` for it, as ``ip netns exec`` does;
3. bind-mounts every ``mounts`` entry (a directory or file of the pod directory) at its
   ``path`` (read-only when ``readOnly``). A mount point that does not exist is created
   without touching the host: its nearest existing parent directory is replaced, in the
   namespace only, by a tmpfs copy holding a bind mount of each original entry plus the
   new one (the "writable mimic" snapd uses);
4. brings back the ``keep`` paths (the Python environment: the "image") a volume hides,
   e.g. an emptyDir at ``/tmp`` over a ``PYTHONPATH`` entry below ``/tmp``;
5. changes to ``workingDir`` (created like a mount point if missing), else to ``cwd``.

A failure is reported on stderr (the container log) with exit code 127.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.metadata
import json
import os
import sys
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

EXIT_SETUP_FAILED = 127


@dataclass(frozen=True)
class Mount:
    """``source`` (a host path owned by the runner) bind-mounted at ``path``."""

    path: str
    source: str
    read_only: bool = False


@dataclass(frozen=True)
class MountSpec:
    """Everything the helper needs; travels as one JSON argument."""

    mounts: tuple[Mount, ...] = ()
    keep: tuple[str, ...] = ()
    cwd: str = "/"
    staging: str = ""
    working_dir: str | None = None
    netns: str | None = None

    def to_json(self) -> str:
        """The spec as the helper's first argument."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> MountSpec:
        """Parse :meth:`to_json`'s output."""
        raw = json.loads(text)
        raw["mounts"] = tuple(Mount(**m) for m in raw.get("mounts") or ())
        raw["keep"] = tuple(raw.get("keep") or ())
        return cls(**raw)


def command(spec: MountSpec, argv: Sequence[str]) -> list[str]:
    """The command line that runs ``argv`` inside the namespace ``spec`` describes."""
    return [sys.executable, "-m", __name__, spec.to_json(), "--", *argv]


def image_paths(env: dict[str, str]) -> tuple[str, ...]:
    """The host paths a container's software comes from: the venv, the Python installation,
    the source trees of editable installs and ``PYTHONPATH``."""
    paths = [sys.prefix, sys.base_prefix, os.path.dirname(sys.executable)]
    paths += editable_sources()
    paths += [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    return tuple(dict.fromkeys(os.path.realpath(p) for p in paths))


@functools.cache
def editable_sources() -> tuple[str, ...]:
    """Project directories of editable installs (``pip install -e``), which live outside
    the venv: their ``direct_url.json`` (PEP 610) names them."""
    found: list[str] = []
    for dist in importlib.metadata.distributions():
        text = dist.read_text("direct_url.json")
        try:
            info = json.loads(text) if text else {}
        except ValueError:
            continue
        url = str(info.get("url", ""))
        if (info.get("dir_info") or {}).get("editable") and url.startswith("file://"):
            found.append(urllib.parse.unquote(urllib.parse.urlparse(url).path))
    return tuple(found)


class SetupError(Exception):
    """The namespace could not be set up as asked."""


_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    _check(
        _libc.mount(
            source.encode() if source is not None else None,
            target.encode(),
            fstype.encode() if fstype is not None else None,
            ctypes.c_ulong(flags),
            None,
        ),
        f"mount {source or fstype} on {target}",
    )


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class _Namespace:
    """Builds the container's view inside an already unshared mount namespace."""

    def __init__(self, staging_fd: int, volumes: Iterable[str]) -> None:
        self.staging = f"/proc/self/fd/{staging_fd}"
        self.volumes = list(volumes)
        self.private: set[str] = set()
        self.copies = 0

    def is_private(self, path: str) -> bool:
        return path in self.private or any(_under(path, v) for v in self.volumes)

    def mimic(self, directory: str) -> None:
        """Replace ``directory`` by a writable tmpfs copy of itself (namespace only)."""
        self.copies += 1
        copy = f"{self.staging}/{self.copies}"
        os.mkdir(copy)
        info = os.stat(directory)
        os.chmod(copy, info.st_mode & 0o7777)
        os.chown(copy, info.st_uid, info.st_gid)
        with os.scandir(directory) as entries:
            for entry in entries:
                original, replica = entry.path, f"{copy}/{entry.name}"
                if entry.is_symlink():
                    os.symlink(os.readlink(original), replica)
                    continue
                if entry.is_dir(follow_symlinks=False):
                    os.mkdir(replica)
                else:
                    os.close(os.open(replica, os.O_CREAT | os.O_WRONLY, 0o600))
                _mount(original, replica, None, MS_BIND | MS_REC)
        if directory == "/":
            os.chroot(copy)
        else:
            _mount(copy, directory, None, MS_BIND | MS_REC)
        self.private.add(directory)

    def ensure(self, path: str, *, directory: bool) -> None:
        """Make ``path`` exist (a directory or an empty file) without touching the host."""
        if os.path.lexists(path):
            return
        parent = os.path.dirname(path)
        self.ensure(parent, directory=True)
        if not self.is_private(parent):
            self.mimic(parent)
        if directory:
            os.mkdir(path)
        else:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.private.add(path)


def _join_netns(netns: str) -> None:
    fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"join network namespace {netns}")
    finally:
        os.close(fd)
    # The host's /sys shows the host's interfaces: mount one for this network namespace.
    if _libc.umount2(b"/sys", MNT_DETACH) == 0:
        with contextlib.suppress(SetupError):
            _mount("sysfs", "/sys", "sysfs", 0)


def _unshare() -> None:
    if os.geteuid() == 0:
        _check(_libc.unshare(CLONE_NEWNS), "unshare the mount namespace")
    else:  # keep the same identity; the capabilities needed here end at exec
        uid, gid = os.geteuid(), os.getegid()
        _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare user+mount namespaces")
        with open("/proc/self/setgroups", "w") as file:
            file.write("deny")
        with open("/proc/self/uid_map", "w") as file:
            file.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as file:
            file.write(f"{gid} {gid} 1")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def _read_only(path: str) -> None:
    locked = os.statvfs(path).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | locked)


def setup(spec: MountSpec) -> None:
    """Enter and build the container's namespace (in the calling process)."""
    _unshare()
    if spec.netns:
        _join_netns(spec.netns)
    mounts = sorted(
        (Mount(os.path.realpath(m.path), m.source, m.read_only) for m in spec.mounts),
        key=lambda m: m.path.count("/"),
    )
    # Sources are opened first: a mount may hide the directory another source lives in.
    sources = [os.open(m.source, os.O_PATH | os.O_CLOEXEC) for m in mounts]
    keep = [k for k in spec.keep if os.path.exists(k)]
    kept = [os.open(k, os.O_PATH | os.O_CLOEXEC) for k in keep]
    cwd = os.open(spec.cwd, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    _mount("tmpfs", spec.staging, "tmpfs", MS_NOSUID | MS_NODEV)
    staging = os.open(spec.staging, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    view = _Namespace(staging, [])
    for mount, fd in zip(mounts, sources, strict=True):
        view.ensure(mount.path, directory=os.path.isdir(f"/proc/self/fd/{fd}"))
        _mount(f"/proc/self/fd/{fd}", mount.path, None, MS_BIND | MS_REC)
        view.volumes.append(mount.path)
    for path, fd in zip(keep, kept, strict=True):
        if any(_under(path, m.path) and path != m.path for m in mounts):
            view.ensure(path, directory=os.path.isdir(f"/proc/self/fd/{fd}"))
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
    for mount in mounts:
        if mount.read_only:
            _read_only(mount.path)
    if spec.working_dir:
        view.ensure(os.path.realpath(spec.working_dir), directory=True)
        os.chdir(spec.working_dir)
    else:
        os.fchdir(cwd)


def main(argv: Sequence[str] | None = None) -> int:
    """``mountns SPEC_JSON -- COMMAND...``: set up, then exec the command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":
        print("usage: mountns SPEC_JSON -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    spec, command_line = MountSpec.from_json(args[0]), args[2:]
    try:
        setup(spec)
    except (OSError, SetupError) as err:
        print(f"sandbox: cannot set up the container's mounts: {err}", file=sys.stderr)
        return EXIT_SETUP_FAILED
    try:
        os.execvp(command_line[0], command_line)
    except OSError as err:
        print(f"sandbox: cannot run {command_line[0]}: {err}", file=sys.stderr)
    return EXIT_SETUP_FAILED


if __name__ == "__main__":
    sys.exit(main())
