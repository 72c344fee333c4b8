"""The ``virtualnode`` controller (consumer): a virtual kubelet for each VirtualNode.

For a VirtualNode (finalizer ``virtualnode-controller.liqo.io/finalizer``) it keeps:
ServiceAccount ``<vn>``, ClusterRoleBinding ``liqo-node-<vn>`` to
``liqo-virtual-kubelet-local``, Deployment ``vk-<vn>`` forged from the VkOptionsTemplate
(:mod:`~liqo_offloading.virtualnode.forge`), and the peer's NamespaceMap (one per peer,
shared by all its VirtualNodes). With ``createNode: false`` the Node is cordoned,
drained and deleted while the virtual kubelet stays. Conditions ``VirtualKubelet`` and
``Node`` go to the status subresource, with the effective switches.

Deletion, step by step (each step re-entered after a restart until done): cordon and
drain the Node, delete the Deployment, wait for the virtual kubelet pods to be gone,
delete the ClusterRoleBinding, ServiceAccount and Node, delete the NamespaceMap when no
other VirtualNode of the peer remains, remove the finalizer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from liqo_core import LiqoSettings
from liqo_core.api.consts import (
    OFFLOADING_COMPONENT_LABEL,
    REMOTE_CLUSTER_ID_LABEL,
    REPLICATION_DESTINATION_LABEL,
    REPLICATION_REQUESTED_LABEL,
    TENANT_NAMESPACE_LABEL,
    TYPE_LABEL,
    TYPE_VIRTUAL_NODE,
    VIRTUAL_KUBELET_COMPONENT,
)
from liqo_core.controllers import ControllerContext
from liqo_core.kube import Controller, Informer, Informers, Kube, KubeError, object_key
from liqo_offloading.settings import offloading_settings
from liqo_offloading.virtualnode import conditions, drain, forge, rules
from liqo_offloading.virtualnode.conditions import KUBELET, NODE, State
from liqo_offloading.virtualnode.kube import apply, merge_diff, record_event
from liqo_offloading.virtualnode.names import (
    CLUSTER_ROLE_BINDINGS,
    DEPLOYMENTS,
    FIELD_MANAGER,
    FINALIZER,
    K8S_APP_INSTANCE_LABEL,
    K8S_APP_MANAGED_BY_LABEL,
    NAMESPACE_MAPS,
    NAMESPACES,
    NODES,
    PODS,
    TEMPLATE_HASH_ANNOTATION,
    VIRTUAL_NODES,
    VK_OPTIONS_TEMPLATES,
    VK_SELECTOR,
    cluster_role_binding_name,
    deployment_name,
    instance_label,
    named,
    namespaced,
)

JSONObject = dict[str, Any]
log = logging.getLogger(__name__)

BY_CLUSTER = "virtualnode/cluster-id"
BY_TEMPLATE = "virtualnode/template"
BY_NAME = "virtualnode/name"
BY_INSTANCE = "virtualnode/instance"
BY_DESTINATION = "virtualnode/remote-id"
BY_BINDING_OWNER = "virtualnode/binding-owner"

#: Seconds between looks while pods drain or virtual kubelet pods terminate (their
#: informer events usually come first).
POLL = 2.0


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


class Gone(Exception):
    """The VirtualNode being reconciled was deleted meanwhile."""


class VirtualNodeController:
    """The reconciler, over the shared informers of its operator."""

    def __init__(self, kube: Kube, informers: Informers, settings: LiqoSettings) -> None:
        section = offloading_settings(settings)
        self.kube = kube
        self.defaults = rules.Defaults(
            liqo_namespace=settings.namespace,
            template=section.default_vk_options_template,
            create_node=section.create_node,
            disable_network_check=section.disable_network_check,
        )
        self.site = forge.Site(settings.cluster_id or "", settings.namespace)
        self.workers = section.workers
        get = informers.get
        self.virtual_nodes: Informer = get(VIRTUAL_NODES)
        self.templates: Informer = get(VK_OPTIONS_TEMPLATES)
        self.deployments: Informer = get(DEPLOYMENTS, label_selector=VK_SELECTOR)
        self.kubelet_pods: Informer = get(PODS, label_selector=VK_SELECTOR)
        self.nodes: Informer = get(NODES, label_selector=f"{TYPE_LABEL}={TYPE_VIRTUAL_NODE}")
        self.maps: Informer = get(
            NAMESPACE_MAPS, label_selector=f"{REPLICATION_REQUESTED_LABEL}=true"
        )
        component = f"{OFFLOADING_COMPONENT_LABEL}={VIRTUAL_KUBELET_COMPONENT}"
        self.accounts: Informer = get("/api/v1/serviceaccounts", label_selector=component)
        self.bindings: Informer = get(
            CLUSTER_ROLE_BINDINGS, label_selector=f"{K8S_APP_MANAGED_BY_LABEL}=liqo"
        )
        self._index()

    # --- informers and keys -------------------------------------------------------------

    def _index(self) -> None:
        defaults = self.defaults
        self.virtual_nodes.add_index(BY_CLUSTER, _cluster_of)
        self.virtual_nodes.add_index(
            BY_TEMPLATE, lambda vn: ["/".join(rules.template_ref(rules.spec_of(vn), defaults))]
        )
        self.virtual_nodes.add_index(BY_NAME, lambda vn: [vn["metadata"]["name"]])
        self.virtual_nodes.add_index(BY_INSTANCE, lambda vn: [_instance_of(vn)])
        self.kubelet_pods.add_index(BY_INSTANCE, _instance_values)
        self.maps.add_index(BY_DESTINATION, _destination_of)
        self.bindings.add_index(BY_BINDING_OWNER, _annotation_owner)

    def controller(self) -> Controller:
        """The toolkit controller, watching everything the reconcile reads."""
        vns = self.virtual_nodes.cache
        controller = Controller("virtualnode", self.reconcile, workers=self.workers)
        controller.watch(self.virtual_nodes)
        controller.watch(self.templates, lambda t: vns.index_keys(BY_TEMPLATE, object_key(t)))
        controller.watch(self.deployments, _owner_key)
        controller.watch(self.accounts, _owner_key)
        controller.watch(self.bindings, _annotation_owner)
        controller.watch(
            self.kubelet_pods,
            lambda pod: [k for v in _instance_values(pod) for k in vns.index_keys(BY_INSTANCE, v)],
        )
        controller.watch(self.nodes, lambda node: vns.index_keys(BY_NAME, node["metadata"]["name"]))
        controller.watch(
            self.maps,
            lambda nm: vns.index_keys(BY_CLUSTER, _labels(nm).get(REMOTE_CLUSTER_ID_LABEL, "")),
        )
        return controller

    # --- the reconcile --------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        """Converge VirtualNode ``key``."""
        try:
            return await self._reconcile(key)
        except Gone:
            return None  # deleted meanwhile: its DELETED event brings the key back

    async def _reconcile(self, key: str) -> float | None:
        vn = self.virtual_nodes.cache.get(key)
        if vn is None:
            await self._forget(key)
            return None
        finalizers = list(vn["metadata"].get("finalizers") or [])
        if _deleting(vn):
            return await self._delete(vn) if FINALIZER in finalizers else None
        if FINALIZER not in finalizers:
            vn = await self._patch_vn(vn, {"metadata": {"finalizers": [*finalizers, FINALIZER]}})
        spec = rules.spec_of(vn)
        ref = rules.template_ref(spec, self.defaults)
        template = self.templates.cache.get("/".join(ref))
        template_spec = rules.spec_of(template)
        behaviour = forge.Behaviour(
            create_node=rules.create_node(spec, template_spec, self.defaults),
            disable_network_check=rules.disable_network_check(spec, template_spec, self.defaults),
            offloading_patch=rules.offloading_patch(spec.get("offloadingPatch"), template_spec),
        )
        await self._ensure_account(vn)
        await self._ensure_binding(vn)
        kubelet: State | None = None
        if template is None:
            kubelet = State(
                conditions.CREATING, "VkOptionsTemplateNotFound", rules.template_missing(vn, ref)
            )
        else:
            try:
                desired = forge.deployment(vn, template_spec, self.site, behaviour)
            except forge.ForgeError as err:
                kubelet = State(
                    conditions.CREATING,
                    "InvalidVkOptionsTemplate",
                    f"VkOptionsTemplate {'/'.join(ref)}: {err}",
                )
            else:
                await self._ensure_deployment(vn, desired)
        again: float | None = None
        node = self._node(vn)
        node_state = conditions.node_state(node, behaviour.create_node)
        if not behaviour.create_node and node is not None:
            node_state, again = await self._remove_node(node)
        again = _sooner(again, await self._ensure_namespace_map(vn))
        if kubelet is None:
            kubelet = conditions.kubelet_state(self._deployment(vn))
        await self._write_status(vn, {KUBELET: kubelet, NODE: node_state}, behaviour)
        if template is None:
            again = _sooner(again, 60.0)  # the template's informer event usually comes first
        return again

    async def _patch_vn(
        self, vn: JSONObject, patch: JSONObject, status: bool = False
    ) -> JSONObject:
        """Patch ``vn`` (its metadata only if unchanged since read: a 409 is retried).

        :raises Gone: the VirtualNode does not exist any more.
        """
        meta = vn["metadata"]
        path = namespaced(VIRTUAL_NODES, meta["namespace"], meta["name"])
        if status:
            path, body = f"{path}/status", patch
        else:
            version = {"resourceVersion": meta["resourceVersion"]}
            body = {**patch, "metadata": {**patch.get("metadata", {}), **version}}
        try:
            return await self.kube.merge_patch(path, body)
        except KubeError as err:
            if err.status == 404:
                raise Gone from None
            raise

    async def _write_status(
        self, vn: JSONObject, states: Mapping[str, State], behaviour: forge.Behaviour | None
    ) -> JSONObject:
        """Write the conditions in ``states`` (and the effective switches); return ``vn``
        as it is now."""
        status = dict(vn.get("status") or {})
        current: Sequence[JSONObject] = status.get("conditions") or []
        stamp = conditions.now()
        updated = list(current)
        for kind, state in states.items():
            updated = conditions.with_condition(updated, kind, state, stamp)
        desired: JSONObject = {"conditions": updated}
        if behaviour is not None:
            desired |= {
                "effectiveCreateNode": behaviour.create_node,
                "effectiveDisableNetworkCheck": behaviour.disable_network_check,
                "effectiveOffloadingPatch": behaviour.offloading_patch or None,
            }
        patch = merge_diff(status, desired)
        if patch:
            return await self._patch_vn(vn, {"status": patch}, status=True)
        return vn

    # --- owned objects ------------------------------------------------------------------

    async def _ensure_account(self, vn: JSONObject) -> None:
        meta = vn["metadata"]
        if self.accounts.cache.get(object_key(vn)) is not None:
            return
        body = forge.service_account(vn)
        path = namespaced("/api/v1/serviceaccounts", meta["namespace"])
        if await self.kube.create(path, body) is None:  # there, unlabelled: adopt it
            labels = body["metadata"]["labels"]
            await self.kube.merge_patch(f"{path}/{meta['name']}", {"metadata": {"labels": labels}})

    async def _ensure_binding(self, vn: JSONObject) -> None:
        desired = forge.cluster_role_binding(vn)
        name = desired["metadata"]["name"]
        live = self.bindings.cache.get(name)
        if live is not None:
            if live.get("roleRef") != desired["roleRef"]:  # immutable: replace the binding
                await self.kube.delete(named(CLUSTER_ROLE_BINDINGS, name))
                return
            if not _differs(live, desired, ("labels", "annotations"), ("subjects",)):
                return
        await apply(self.kube, named(CLUSTER_ROLE_BINDINGS, name), desired, FIELD_MANAGER)

    def _deployment(self, vn: JSONObject) -> JSONObject | None:
        return self.deployments.cache.get(
            f"{vn['metadata']['namespace']}/{deployment_name(vn['metadata']['name'])}"
        )

    async def _ensure_deployment(self, vn: JSONObject, desired: JSONObject) -> None:
        meta = desired["metadata"]
        live = self._deployment(vn)
        wanted = meta["annotations"][TEMPLATE_HASH_ANNOTATION]
        if live is not None:
            if (live["metadata"].get("annotations") or {}).get(TEMPLATE_HASH_ANNOTATION) == wanted:
                return
            selector = (live.get("spec") or {}).get("selector")
            if selector != desired["spec"]["selector"]:  # immutable: replace the Deployment
                await self.kube.delete(namespaced(DEPLOYMENTS, meta["namespace"], meta["name"]))
                return
        await apply(
            self.kube,
            namespaced(DEPLOYMENTS, meta["namespace"], meta["name"]),
            desired,
            FIELD_MANAGER,
        )
        if live is None:
            message = (
                f"virtual kubelet {meta['name']} launched for cluster {vn['spec']['clusterID']}"
            )
            log.info("VirtualNode %s: %s", object_key(vn), message)
            await record_event(self.kube, vn, "VirtualNode", "VkCreated", message, warning=False)
        else:
            log.info("VirtualNode %s: virtual kubelet %s updated", object_key(vn), meta["name"])

    def _node(self, vn: JSONObject) -> JSONObject | None:
        """The virtual Node of ``vn``: named like it, labelled with its cluster."""
        node = self.nodes.cache.get(vn["metadata"]["name"])
        cluster = rules.spec_of(vn).get("clusterID")
        if node is None or _labels(node).get(REMOTE_CLUSTER_ID_LABEL) != cluster:
            return None
        return node

    async def _remove_node(self, node: JSONObject) -> tuple[State, float | None]:
        """Cordon, drain, then delete ``node``; the Node condition meanwhile."""
        if _deleting(node):
            return State(conditions.DELETING, "NodeDeleting", "the Node is being deleted"), POLL
        await drain.cordon(self.kube, node)
        remaining = await drain.drain(self.kube, node["metadata"]["name"])
        if remaining:
            message = f"waiting for {remaining} pod(s) to leave the Node"
            return State(conditions.DRAINING, "NodeDraining", message), POLL
        await self.kube.delete(named(NODES, node["metadata"]["name"]))
        log.info("Node %s deleted", node["metadata"]["name"])
        return State(conditions.DELETING, "NodeDeleting", "the Node is being deleted"), None

    # --- the peer's NamespaceMap ---------------------------------------------------------

    def _maps_of(self, cluster: str) -> list[JSONObject]:
        return [
            nm
            for nm in self.maps.cache.by_index(BY_DESTINATION, cluster)
            if _labels(nm).get(REMOTE_CLUSTER_ID_LABEL) == cluster
        ]

    async def _ensure_namespace_map(self, vn: JSONObject) -> float | None:
        cluster = str(rules.spec_of(vn)["clusterID"])
        found = self._maps_of(cluster)
        if any(not _deleting(nm) for nm in found):
            return None
        if found:  # the last one is going away: make a new one once it is gone
            return POLL
        namespace = await self._tenant_namespace(cluster) or vn["metadata"]["namespace"]
        body = forge.namespace_map(cluster, namespace)
        path = namespaced(NAMESPACE_MAPS, namespace)
        if await self.kube.create(path, body) is None:
            await self.kube.merge_patch(
                f"{path}/{cluster}", {"metadata": {"labels": body["metadata"]["labels"]}}
            )
        log.info("NamespaceMap %s/%s ensured for cluster %s", namespace, cluster, cluster)
        return None

    async def _tenant_namespace(self, cluster: str) -> str | None:
        selector = f"{TENANT_NAMESPACE_LABEL}=true,{REMOTE_CLUSTER_ID_LABEL}={cluster}"
        found = await self.kube.list_items(NAMESPACES, selector)
        names = sorted(ns["metadata"]["name"] for ns in found if not _deleting(ns))
        return names[0] if names else None

    # --- deletion ---------------------------------------------------------------------------

    async def _delete(self, vn: JSONObject) -> float | None:
        meta = vn["metadata"]
        node = self._node(vn)
        if node is not None and not _deleting(node):
            await drain.cordon(self.kube, node)
            remaining = await drain.drain(self.kube, meta["name"])
            if remaining:
                message = f"waiting for {remaining} pod(s) to leave the Node"
                await self._write_status(
                    vn, {NODE: State(conditions.DRAINING, "NodeDraining", message)}, None
                )
                return POLL
        kubelet = State(
            conditions.DELETING, "DeletingVirtualKubelet", "the virtual kubelet is being deleted"
        )
        live = self._deployment(vn)
        if live is not None and not _deleting(live):
            await self.kube.delete(
                namespaced(DEPLOYMENTS, meta["namespace"], deployment_name(meta["name"])),
                {"propagationPolicy": "Background"},
            )
        pods = self.kubelet_pods.cache.by_index(BY_INSTANCE, _instance_of(vn))
        if pods:
            message = f"waiting for {len(pods)} virtual kubelet pod(s) to terminate"
            await self._write_status(
                vn, {KUBELET: State(conditions.DELETING, "WaitingForPods", message)}, None
            )
            return POLL
        await self._delete_owned(vn)
        node_state = State(conditions.DELETING, "NodeDeleting", "the Node is being deleted")
        vn = await self._write_status(vn, {KUBELET: kubelet, NODE: node_state}, None)
        node = self._node(vn)
        if node is not None:
            await self.kube.delete(named(NODES, meta["name"]))
        await self._drop_namespace_map(vn)
        finalizers = [f for f in vn["metadata"].get("finalizers") or [] if f != FINALIZER]
        await self._patch_vn(vn, {"metadata": {"finalizers": finalizers or None}})
        log.info("VirtualNode %s: virtual kubelet and Node removed", object_key(vn))
        return None

    async def _delete_owned(self, vn: JSONObject) -> None:
        meta = vn["metadata"]
        if self.bindings.cache.get(cluster_role_binding_name(meta["name"])) is not None:
            await self.kube.delete(
                named(CLUSTER_ROLE_BINDINGS, cluster_role_binding_name(meta["name"]))
            )
        if self.accounts.cache.get(object_key(vn)) is not None:
            await self.kube.delete(
                namespaced("/api/v1/serviceaccounts", meta["namespace"], meta["name"])
            )

    async def _drop_namespace_map(self, vn: JSONObject) -> None:
        cluster = str(rules.spec_of(vn).get("clusterID") or "")
        others = [
            other
            for other in self.virtual_nodes.cache.by_index(BY_CLUSTER, cluster)
            if object_key(other) != object_key(vn) and not _deleting(other)
        ]
        if others:
            return
        for nm in self._maps_of(cluster):
            if not _deleting(nm):
                nm_meta = nm["metadata"]
                await self.kube.delete(
                    namespaced(NAMESPACE_MAPS, nm_meta["namespace"], nm_meta["name"])
                )
                log.info(
                    "NamespaceMap %s deleted with the last VirtualNode of cluster %s",
                    object_key(nm),
                    cluster,
                )

    async def _forget(self, key: str) -> None:
        """A VirtualNode gone without its finalizer: drop its cluster-scoped binding."""
        for crb in self.bindings.cache.by_index(BY_BINDING_OWNER, key):
            try:
                await self.kube.delete(named(CLUSTER_ROLE_BINDINGS, crb["metadata"]["name"]))
            except KubeError as err:
                if err.status != 404:
                    raise


def _cluster_of(vn: JSONObject) -> list[str]:
    cluster = rules.spec_of(vn).get("clusterID")
    return [str(cluster)] if cluster else []


def _instance_of(vn: JSONObject) -> str:
    meta = vn["metadata"]
    return f"{meta['namespace']}/{instance_label(meta['name'])}"


def _destination_of(nm: JSONObject) -> list[str]:
    value = _labels(nm).get(REPLICATION_DESTINATION_LABEL)
    return [value] if value else []


def _differs(
    live: Mapping[str, Any],
    desired: Mapping[str, Any],
    meta_keys: Sequence[str],
    keys: Sequence[str],
) -> bool:
    """Whether ``live`` lacks the desired metadata entries or differs in ``keys``."""
    live_meta, want_meta = live.get("metadata") or {}, desired.get("metadata") or {}
    for key in meta_keys:
        have = live_meta.get(key) or {}
        if any(have.get(k) != v for k, v in (want_meta.get(key) or {}).items()):
            return True
    return any(live.get(key) != desired.get(key) for key in keys)


def _owner_key(obj: JSONObject) -> list[str]:
    meta = obj.get("metadata") or {}
    return [
        f"{meta.get('namespace')}/{ref['name']}"
        for ref in meta.get("ownerReferences") or []
        if ref.get("kind") == "VirtualNode"
    ]


def _annotation_owner(crb: JSONObject) -> list[str]:
    owner = ((crb.get("metadata") or {}).get("annotations") or {}).get(
        forge.VIRTUAL_NODE_ANNOTATION
    )
    return [owner] if owner else []


def _instance_values(pod: JSONObject) -> list[str]:
    value = _labels(pod).get(K8S_APP_INSTANCE_LABEL)
    return [f"{pod['metadata'].get('namespace')}/{value}"] if value else []


def _sooner(a: float | None, b: float | None) -> float | None:
    values = [v for v in (a, b) if v is not None]
    return min(values) if values else None


def build(context: ControllerContext) -> list[Controller]:
    """The ``virtualnode`` controller of the module's operator."""
    return [VirtualNodeController(context.kube, context.informers, context.settings).controller()]
