"""Liqo's version, rendered one way wherever it is shown.

The Python distributions carry a PEP 440 version (``1.0.0.dev0``); the Helm chart, image
tags and the ``app.kubernetes.io/version`` label carry the SemVer form Helm requires
(``1.0.0-dev``). Everything that shows a Liqo version to a user (``liqoctl version``, the
components' build-info metric) shows :func:`liqo_version`, the SemVer form, so the client
and an installed Liqo of the same build print the same string.
"""

from __future__ import annotations

import re
from importlib import metadata

DISTRIBUTION = "liqo-core"

_PEP440 = re.compile(
    r"^(?P<release>\d+(?:\.\d+)*)"
    r"(?:(?P<pre>a|b|rc)(?P<pre_n>\d+))?"
    r"(?:\.post(?P<post>\d+))?"
    r"(?:\.dev(?P<dev>\d+))?"
    r"(?:\+(?P<local>[a-z0-9.]+))?$"
)
_PRE = {"a": "alpha", "b": "beta", "rc": "rc"}


def package_version() -> str:
    """The installed liqo-core distribution's PEP 440 version (``unknown`` if absent)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def semver(pep440: str) -> str:
    """``pep440`` in SemVer 2 form: ``1.0.0.dev0`` -> ``1.0.0-dev``, ``1.2.0rc1`` ->
    ``1.2.0-rc.1``, ``1.0.0.dev3`` -> ``1.0.0-dev.3``, ``1.0.0.post1`` -> ``1.0.0+post.1``.

    Anything that is not a PEP 440 public version is returned unchanged.
    """
    match = _PEP440.match(pep440)
    if match is None:
        return pep440
    parts = match["release"].split(".")
    release = ".".join([*parts, "0", "0"][: max(3, len(parts))])
    pre: list[str] = []
    if match["pre"]:
        pre.append(f"{_PRE[match['pre']]}.{match['pre_n']}")
    if match["dev"] is not None:
        pre.append("dev" if match["dev"] == "0" else f"dev.{match['dev']}")
    build: list[str] = []
    if match["post"] is not None:
        build.append(f"post.{match['post']}")
    if match["local"]:
        build.append(match["local"])
    out = release
    if pre:
        out += "-" + ".".join(pre)
    if build:
        out += "+" + ".".join(build)
    return out


def liqo_version() -> str:
    """The version every Liqo surface shows: the installed distribution's, as SemVer."""
    return semver(package_version())
