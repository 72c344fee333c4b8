"""User impersonation (``Impersonate-*`` headers, ``kubectl --as``), as kube-apiserver does.

Each impersonated attribute needs the ``impersonate`` verb: on ``users`` (or on the
ServiceAccount for ``system:serviceaccount:<ns>:<name>``), ``groups``, ``uids`` and
``userextras/<key>``. A refusal is a 403 naming the first attribute denied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..types import APIError, RequestAttributes, UserInfo
from .authn import AUTHENTICATED
from .rbac import forbidden_message

USER = "impersonate-user"
GROUP = "impersonate-group"
UID = "impersonate-uid"
EXTRA = "impersonate-extra-"
SA_PREFIX = "system:serviceaccount:"

Authorize = Callable[[RequestAttributes], tuple[bool, str]]


def _values(headers: Mapping[str, str], name: str) -> list[str]:
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return [str(v) for v in getall(name, [])]
    return [v for k, v in headers.items() if k.lower() == name]


def _extra_keys(headers: Mapping[str, str]) -> list[str]:
    return sorted({k.lower() for k in headers if k.lower().startswith(EXTRA)})


def wants_impersonation(headers: Mapping[str, str]) -> bool:
    """Whether the request carries any ``Impersonate-*`` header."""
    return any(k.lower().startswith("impersonate-") for k in headers)


def _check(authorize: Authorize, attrs: RequestAttributes) -> None:
    allowed, message = authorize(attrs)
    if not allowed:
        raise APIError(
            403,
            "Forbidden",
            message or forbidden_message(attrs),
            {"name": attrs.name, "kind": attrs.resource},
        )


def impersonate(headers: Mapping[str, str], caller: UserInfo, authorize: Authorize) -> UserInfo:
    """The impersonated user, after checking ``caller`` may impersonate every attribute."""
    users = _values(headers, USER)
    groups = _values(headers, GROUP)
    uids = _values(headers, UID)
    extra_keys = _extra_keys(headers)
    if not users:
        raise APIError(
            400,
            "BadRequest",
            "requested impersonation of groups, uid or extra without impersonating a user",
        )

    def attrs(resource: str, name: str, namespace: str = "", sub: str = "") -> RequestAttributes:
        group = "authentication.k8s.io" if resource in ("uids", "userextras") else ""
        return RequestAttributes(
            user=caller,
            verb="impersonate",
            resource_request=True,
            api_group=group,
            resource=resource,
            subresource=sub,
            namespace=namespace,
            name=name,
        )

    name = users[0]
    out_groups: list[str] = []
    if name.startswith(SA_PREFIX) and name.count(":") == 3:
        _, _, ns, sa = name.split(":")
        _check(authorize, attrs("serviceaccounts", sa, ns))
        out_groups += ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    else:
        _check(authorize, attrs("users", name))
    for group in groups:
        _check(authorize, attrs("groups", group))
        if group not in out_groups:
            out_groups.append(group)
    for uid in uids:
        _check(authorize, attrs("uids", uid))
    extra: dict[str, tuple[str, ...]] = {}
    for header in extra_keys:
        key = header[len(EXTRA) :]
        values = _values(headers, header)
        for value in values:
            _check(authorize, attrs("userextras", value, sub=key))
        extra[key] = tuple(values)
    if name != "system:anonymous" and "system:unauthenticated" not in out_groups:
        out_groups.append(AUTHENTICATED)
    return UserInfo(name, tuple(out_groups), uids[0] if uids else "", extra)
