"""Types shared by the pieces of the Kubernetes API emulator.

The emulator is split into a request pipeline (``server``), an object store (``store``),
pure libraries (``selectors``, ``patch``, ``schema``) and a security layer (``security``:
PKI, authentication, RBAC, CSR signing, TokenRequest, access reviews, admission webhooks).
They meet only through the names defined here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

JSON = dict[str, Any]


@dataclass(frozen=True)
class UserInfo:
    """An authenticated caller, as Kubernetes' ``user.Info``."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestAttributes:
    """What RBAC decides on (Kubernetes' ``authorizer.Attributes``)."""

    user: UserInfo
    #: get list watch create update patch delete deletecollection; the lower-cased HTTP verb
    #: for non-resource requests.
    verb: str
    resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass(frozen=True)
class ResourceType:
    """One served resource (built-in or from a CRD)."""

    group: str
    version: str
    resource: str  # plural, lower case
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    subresources: tuple[str, ...] = ()  # e.g. ("status",), ("status", "approval")
    list_kind: str = ""

    @property
    def api_version(self) -> str:
        """``group/version``, or just ``version`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version


class APIError(Exception):
    """An error answered as a Kubernetes ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: JSON | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> JSON:
        """The ``Status`` body Kubernetes would send, in its field order (omitempty fields)."""
        body: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        if self.message:
            body["message"] = self.message
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        if self.code:
            body["code"] = self.code
        return body


@dataclass(frozen=True)
class WatchEvent:
    """One event of a watch stream (``type`` is ADDED, MODIFIED, DELETED or BOOKMARK)."""

    type: str
    object: JSON


class InternalAPI(Protocol):
    """System-privileged access to the store for in-process controllers of the emulator.

    In-process controllers (garbage collector, namespace lifecycle, CSR signer, token
    controller) play the parts of kube-controller-manager; they bypass authentication,
    RBAC and admission, but not validation, resourceVersion or generation bookkeeping.
    """

    def resource_type(self, group: str, resource: str) -> ResourceType | None: ...

    def get(self, group: str, resource: str, namespace: str, name: str) -> JSON | None: ...

    def list(self, group: str, resource: str, namespace: str | None = None) -> list[JSON]: ...

    async def create(self, group: str, resource: str, obj: JSON) -> JSON: ...

    async def update(self, group: str, resource: str, obj: JSON, subresource: str = "") -> JSON: ...

    async def delete(self, group: str, resource: str, namespace: str, name: str) -> None: ...

    def watch(self, group: str, resource: str) -> AsyncIterator[WatchEvent]: ...


@dataclass(frozen=True)
class SubresourceCall:
    """A request to a subresource handled outside the generic store path."""

    attrs: RequestAttributes
    method: str  # HTTP method
    body: JSON | None
    query: Mapping[str, str]


SubresourceHandler = Callable[[SubresourceCall, InternalAPI], Awaitable[JSON]]
"""Answers e.g. POST serviceaccounts/<n>/token or PUT certificatesigningrequests/<n>/approval."""


@dataclass(frozen=True)
class AdmissionAttributes:
    """What an admission webhook is told about one request."""

    user: UserInfo
    operation: str  # CREATE UPDATE DELETE CONNECT
    resource: ResourceType
    subresource: str
    namespace: str
    name: str
    dry_run: bool
    warnings: list[str] = field(default_factory=list, compare=False)
    """Where webhooks' ``warnings`` go (the request's ``Warning`` headers)."""


class AdmissionDenied(APIError):
    """A webhook (or failurePolicy Fail on an unreachable webhook) refused the request."""
