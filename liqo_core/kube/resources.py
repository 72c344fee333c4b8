"""Typed access to Liqo's custom resources: the :mod:`liqo_core.api` models in and out.

A thin layer over :class:`~liqo_core.kube.rest.Kube`: paths come from the model's
``crd`` (group, version, plural, scope); answers are validated into model instances.

::

    tenants = ResourceClient(kube, Tenant)
    tenant = await tenants.get("consumer-1", namespace="liqo-tenant-x")
    await tenants.patch_status(tenant, {"tenantNamespace": "liqo-tenant-x"})
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from liqo_core.api.base import ApiModel
from liqo_core.api.resource import CustomResource
from liqo_core.kube.rest import MERGE_PATCH, JSONObject, Kube

T = TypeVar("T", bound=CustomResource)

APPLY_PATCH = "application/apply-patch+yaml"


class ResourceClient(Generic[T]):
    """Get, list, create, update, patch, apply and delete one kind of custom resource.

    ``namespace`` is the default namespace of a namespaced kind (each call may name
    another); cluster-scoped kinds ignore namespaces.
    """

    def __init__(self, kube: Kube, model: type[T], namespace: str | None = None) -> None:
        self.kube = kube
        self.model = model
        self.namespace = namespace

    @property
    def namespaced(self) -> bool:
        """Whether the kind lives in namespaces."""
        return self.model.crd.scope == "Namespaced"

    def path(self, name: str | None = None, *, namespace: str | None = None) -> str:
        """The REST path of the collection (every namespace when none is known), or of one
        object."""
        info = self.model.crd
        base = f"/apis/{info.group}/{info.version}"
        namespace = namespace or self.namespace
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        elif self.namespaced and name is not None:
            raise ValueError(f"{info.kind} {name!r}: a namespace is needed")
        base += f"/{info.plural}"
        return f"{base}/{quote(name, safe='')}" if name is not None else base

    def _object_path(self, obj: T | str, namespace: str | None, subresource: str = "") -> str:
        if isinstance(obj, str):
            path = self.path(obj, namespace=namespace)
        else:
            meta = obj.metadata
            if not meta.name:
                raise ValueError(f"{self.model.crd.kind}: the object has no name")
            path = self.path(meta.name, namespace=namespace or meta.namespace)
        return f"{path}/{subresource}" if subresource else path

    def _model(self, data: Mapping[str, Any]) -> T:
        return self.model.from_dict(data)

    async def get(self, name: str, *, namespace: str | None = None) -> T | None:
        """The object, or ``None`` if there is none."""
        data = await self.kube.get(self.path(name, namespace=namespace))
        return None if data is None else self._model(data)

    async def list(
        self,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[T]:
        """The objects of one namespace (or all of them), optionally selected."""
        query = {
            key: value
            for key, value in (("labelSelector", label_selector), ("fieldSelector", field_selector))
            if value
        }
        data = await self.kube.request("GET", self.path(namespace=namespace), query=query)
        return [self._model(item) for item in data.get("items") or []]

    async def create(self, obj: T, *, namespace: str | None = None) -> T:
        """Create ``obj``; returns it as stored.

        :raises KubeError: 409 if it exists already, 422 if the server refuses it.
        """
        target = namespace or obj.metadata.namespace
        data = await self.kube.request("POST", self.path(namespace=target), obj.to_dict())
        return self._model(data)

    async def update(self, obj: T, *, namespace: str | None = None) -> T:
        """Replace ``obj`` whole (a ``resourceVersion`` in it makes this a compare-and-swap:
        409 if the object changed meanwhile)."""
        data = await self.kube.request("PUT", self._object_path(obj, namespace), obj.to_dict())
        return self._model(data)

    async def patch(
        self,
        obj: T | str,
        patch: Mapping[str, Any],
        *,
        namespace: str | None = None,
        subresource: str = "",
    ) -> T:
        """JSON merge patch of ``obj`` (or of the object of that name)."""
        path = self._object_path(obj, namespace, subresource)
        data = await self.kube.request("PATCH", path, dict(patch), content_type=MERGE_PATCH)
        return self._model(data)

    async def patch_status(
        self,
        obj: T | str,
        status: ApiModel | Mapping[str, Any],
        *,
        namespace: str | None = None,
    ) -> T:
        """Merge ``status`` into the object's ``status`` subresource."""
        body = status.to_dict() if isinstance(status, ApiModel) else dict(status)
        return await self.patch(obj, {"status": body}, namespace=namespace, subresource="status")

    async def apply(
        self, obj: T, *, field_manager: str, force: bool = True, namespace: str | None = None
    ) -> T:
        """Server-side apply of ``obj`` as ``field_manager`` (creates it if missing).

        With ``force`` (the default, as controllers do) fields owned by another manager are
        taken over; without it such a conflict is a 409.
        """
        query = {"fieldManager": field_manager, "force": "true" if force else "false"}
        body = obj.to_dict()
        if body.get("metadata", {}).get("namespace") is None and self.namespaced:
            body.setdefault("metadata", {})["namespace"] = namespace or self.namespace
        data = await self.kube.request(
            "PATCH", self._object_path(obj, namespace), body, query=query, content_type=APPLY_PATCH
        )
        return self._model(data)

    async def delete(
        self, obj: T | str, *, namespace: str | None = None, options: JSONObject | None = None
    ) -> bool:
        """Delete the object; ``False`` if it was gone already (or a precondition of
        ``options`` failed)."""
        return await self.kube.delete(self._object_path(obj, namespace), options)
