"""``liqoctl create virtualnode`` / ``delete virtualnode`` (upstream
``pkg/liqoctl/rest/virtualnode``, reference §3.5).

``create`` writes VirtualNode NAME in the tenant namespace of ``--remote-cluster-id``:
with ``--kubeconfig-secret-name`` from the flags (capacity ``--cpu/--memory/--pods/
--resource``, default 2 CPUs, 4Gi, 110 pods as upstream); with ``--resource-slice-name``
from what the provider granted that ResourceSlice (resources, classes, node labels and
node selector) and the kubeconfig Secret of its Identity. An existing VirtualNode of that
name is updated. With ``--create-node`` (the default) it then waits for the Node to be
Ready, unless ``--no-wait``. ``-o yaml|json`` prints the VirtualNode instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from liqo_core.api.consts import (
    IDENTITY_TYPE_LABEL,
    REMOTE_CLUSTER_ID_LABEL,
    RESOURCE_SLICE_NAME_LABEL,
    TENANT_NAMESPACE_LABEL,
)
from liqo_core.cli.context import CommandError
from liqo_core.cli.output import OUTPUT_HELP, OutputFormat, print_data
from liqo_core.cli.peering import requested_resources
from liqo_offloading.cli.common import (
    GROUP,
    VERSION,
    api_client,
    api_message,
    get_custom,
    group,
    list_custom,
    status_of,
    wait_for,
)

PLURAL = "virtualnodes"
#: The authentication module's kubeconfig Secrets are named ``kubeconfig-<identity>``.
KUBECONFIG_SECRET_PREFIX = "kubeconfig-"
DEFAULT_RESOURCES = {"cpu": "2", "memory": "4Gi", "pods": "110"}


@dataclass
class NodeOptions:
    """What the flags (or the ResourceSlice) give the VirtualNode."""

    kubeconfig_secret: str
    resources: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    storage_classes: list[dict[str, Any]] = field(default_factory=list)
    ingress_classes: list[dict[str, Any]] = field(default_factory=list)
    load_balancer_classes: list[dict[str, Any]] = field(default_factory=list)
    runtime_class: str | None = None
    template: tuple[str, str] | None = None
    create_node: bool = True
    disable_network_check: bool = False


def parse_pairs(flag: str, values: list[str] | None) -> dict[str, str]:
    """``k=v,k2=v2`` (repeatable) as a map.

    :raises CommandError: A pair without ``=`` or an empty key.
    """
    pairs: dict[str, str] = {}
    for text in values or []:
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise CommandError(f"{flag} {part!r}: expected key=value")
            pairs[key] = value
    return pairs


def parse_list(values: list[str] | None) -> list[str]:
    """Comma-separated and repeated values, in order, without repeats."""
    items = [p.strip() for text in values or [] for p in text.split(",")]
    return list(dict.fromkeys(i for i in items if i))


def classes(names: list[str], key: str) -> list[dict[str, Any]]:
    """Offered classes; the first is the default (upstream)."""
    return [{key: name, **({"default": True} if i == 0 else {})} for i, name in enumerate(names)]


def parse_template(text: str | None) -> tuple[str, str] | None:
    """``--vk-options-template namespace/name``."""
    if not text:
        return None
    namespace, sep, name = text.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise CommandError(f"--vk-options-template {text!r}: expected <namespace>/<name>")
    return namespace, name


def virtual_node(name: str, namespace: str, cluster_id: str, opts: NodeOptions) -> dict[str, Any]:
    """The VirtualNode manifest (upstream ``MutateVirtualNode``)."""
    spec: dict[str, Any] = {
        "clusterID": cluster_id,
        "createNode": opts.create_node,
        "disableNetworkCheck": opts.disable_network_check,
        "kubeconfigSecretRef": {"name": opts.kubeconfig_secret},
        "resourceQuota": {"hard": dict(opts.resources)},
        "labels": {REMOTE_CLUSTER_ID_LABEL: cluster_id, **opts.labels},
    }
    for key, value in (
        ("storageClasses", opts.storage_classes),
        ("ingressClasses", opts.ingress_classes),
        ("loadBalancerClasses", opts.load_balancer_classes),
    ):
        if value:
            spec[key] = value
    patch: dict[str, Any] = {}
    if opts.runtime_class:
        patch["runtimeClassName"] = opts.runtime_class
    if opts.node_selector:
        patch["nodeSelector"] = dict(opts.node_selector)
    if patch:
        spec["offloadingPatch"] = patch
    if opts.template is not None:
        spec["vkOptionsTemplateRef"] = {"namespace": opts.template[0], "name": opts.template[1]}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "VirtualNode",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {REMOTE_CLUSTER_ID_LABEL: cluster_id},
        },
        "spec": spec,
    }


def slice_options(resource_slice: dict[str, Any], secret: str) -> NodeOptions:
    """The VirtualNode options a granted ResourceSlice gives (upstream
    ``VirtualNodeOptionsFromResourceSlice``)."""
    status = resource_slice.get("status") or {}
    return NodeOptions(
        kubeconfig_secret=secret,
        resources={str(k): str(v) for k, v in (status.get("resources") or {}).items()},
        labels=dict(status.get("nodeLabels") or {}),
        node_selector=dict(status.get("nodeSelector") or {}),
        storage_classes=list(status.get("storageClasses") or []),
        ingress_classes=list(status.get("ingressClasses") or []),
        load_balancer_classes=list(status.get("loadBalancerClasses") or []),
    )


def tenant_namespace(client: Any, cluster_id: str) -> str:
    """The tenant namespace for peer ``cluster_id``.

    :raises CommandError: There is none.
    """
    from kubernetes.client import CoreV1Api

    selector = f"{TENANT_NAMESPACE_LABEL}=true,{REMOTE_CLUSTER_ID_LABEL}={cluster_id}"
    found = CoreV1Api(client).list_namespace(label_selector=selector).items
    names = sorted(
        str(ns.metadata.name)
        for ns in found
        if ns.metadata is not None and not ns.metadata.deletion_timestamp
    )
    if not names:
        raise CommandError(
            f"no tenant namespace for cluster {cluster_id}: peer with it (or authenticate) first"
        )
    return str(names[0])


def slice_secret(client: Any, namespace: str, cluster_id: str, slice_name: str) -> str:
    """The kubeconfig Secret of the ResourceSlice's Identity.

    :raises CommandError: No Identity, or no Secret yet.
    """
    from kubernetes.client import CoreV1Api, CustomObjectsApi

    selector = f"{RESOURCE_SLICE_NAME_LABEL}={slice_name},{IDENTITY_TYPE_LABEL}=ResourceSlice"
    identities: Any = CustomObjectsApi(client).list_namespaced_custom_object(
        "authentication.liqo.io", "v1beta1", namespace, "identities", label_selector=selector
    )
    found = [
        i for i in identities.get("items") or []
        if (i.get("spec") or {}).get("clusterID") in (None, "", cluster_id)
    ]  # fmt: skip
    if not found:
        raise CommandError(
            f"ResourceSlice {namespace}/{slice_name} has no Identity yet: is it accepted?"
        )
    identity = found[0]
    ref = ((identity.get("status") or {}).get("kubeconfigSecretRef") or {}).get("name")
    name = str(ref or f"{KUBECONFIG_SECRET_PREFIX}{identity['metadata']['name']}")
    try:
        CoreV1Api(client).read_namespaced_secret(name, namespace)
    except Exception as err:
        if status_of(err) == 404:
            raise CommandError(
                f"the kubeconfig Secret {namespace}/{name} of ResourceSlice {slice_name} "
                "does not exist yet"
            ) from None
        raise
    return name


def _granted_slice(client: Any, namespace: str, name: str) -> dict[str, Any]:
    from kubernetes.client import CustomObjectsApi

    try:
        found: Any = CustomObjectsApi(client).get_namespaced_custom_object(
            "authentication.liqo.io", "v1beta1", namespace, "resourceslices", name
        )
    except Exception as err:
        if status_of(err) == 404:
            raise CommandError(f"no ResourceSlice {namespace}/{name}") from None
        raise
    resource_slice: dict[str, Any] = dict(found)
    if not (resource_slice.get("status") or {}).get("resources"):
        raise CommandError(f"ResourceSlice {namespace}/{name} has no granted resources yet")
    return resource_slice


def _save(client: Any, body: dict[str, Any]) -> bool:
    """Create the VirtualNode, or update the one of that name; True when created."""
    from kubernetes.client import CustomObjectsApi

    api = CustomObjectsApi(client)
    meta = body["metadata"]
    try:
        api.create_namespaced_custom_object(GROUP, VERSION, meta["namespace"], PLURAL, body)
        return True
    except Exception as err:
        if status_of(err) != 409:
            if status_of(err) in (400, 403, 422):
                raise CommandError(f"VirtualNode {meta['name']}: {api_message(err)}") from None
            raise
    patch = {"metadata": {"labels": meta["labels"]}, "spec": body["spec"]}
    try:
        api.patch_namespaced_custom_object(
            GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], patch
        )
    except Exception as err:
        if status_of(err) in (400, 403, 422):
            raise CommandError(f"VirtualNode {meta['name']}: {api_message(err)}") from None
        raise
    return False


def _node_detail(client: Any, name: str) -> tuple[bool | None, str]:
    from kubernetes.client import CoreV1Api

    try:
        node = CoreV1Api(client).read_node(name)
    except Exception as err:
        if status_of(err) == 404:
            return None, "the virtual kubelet has not registered the Node yet"
        raise
    for condition in (node.status.conditions if node.status else None) or []:
        if condition.type == "Ready":
            if condition.status == "True":
                return True, ""
            return None, f"Ready={condition.status}: {condition.reason or ''}".rstrip(": ")
    return None, "the Node reports no Ready condition yet"


Strings = list[str] | None


def _opt(*names: str, help_text: str, metavar: str | None = None) -> Any:
    return typer.Option(*names, help=help_text, metavar=metavar)


ClusterID = Annotated[
    str,
    typer.Option("--remote-cluster-id", help="Cluster ID of the provider.", show_default=False),
]
SliceName = Annotated[
    str | None,
    _opt("--resource-slice-name", help_text="Take resources and credentials from this slice."),
]
SecretName = Annotated[
    str | None, _opt("--kubeconfig-secret-name", help_text="Secret with the provider's kubeconfig.")
]
Cpu = Annotated[str | None, _opt("--cpu", help_text="CPUs of the node (default 2).")]
Memory = Annotated[str | None, _opt("--memory", help_text="Memory of the node (default 4Gi).")]
Pods = Annotated[str | None, _opt("--pods", help_text="Pods of the node (default 110).")]
Resources = Annotated[
    Strings,
    _opt("--resource", metavar="NAME=QUANTITY",
         help_text="Other resource, e.g. nvidia.com/gpu=2 (repeatable)."),
]  # fmt: skip
Labels = Annotated[Strings, _opt("--labels", metavar="K=V,...", help_text="Labels of the Node.")]
NodeSelector = Annotated[
    Strings,
    _opt("--node-selector", metavar="K=V,...",
         help_text="Node selector of the offloaded pods on the provider."),
]  # fmt: skip
RuntimeClass = Annotated[
    str | None,
    _opt("--runtime-class-name", help_text="RuntimeClass of the offloaded pods on the provider."),
]
StorageClasses = Annotated[
    Strings, _opt("--storage-classes", help_text="Storage classes offered (first: default).")
]
IngressClasses = Annotated[
    Strings, _opt("--ingress-classes", help_text="Ingress classes offered (first: default).")
]
LoadBalancerClasses = Annotated[
    Strings,
    _opt("--load-balancer-classes", help_text="Load balancer classes offered (first: default)."),
]
Template = Annotated[
    str | None,
    _opt("--vk-options-template", help_text="<namespace>/<name> of the VkOptionsTemplate."),
]
CreateNode = Annotated[
    bool, typer.Option("--create-node/--no-create-node", help="Register a Node for it.")
]
NoNetworkCheck = Annotated[
    bool, typer.Option("--disable-network-check", help="Node readiness ignores the network.")
]
Timeout = Annotated[float, typer.Option("--timeout", min=0.0, help="Seconds to wait.")]
Output = Annotated[OutputFormat | None, typer.Option("--output", "-o", help=OUTPUT_HELP)]
Name = Annotated[str, typer.Argument(help="Name of the VirtualNode.", show_default=False)]


def create_virtualnode(
    ctx: typer.Context,
    name: Name,
    *,
    remote_cluster_id: ClusterID,
    resource_slice_name: SliceName = None,
    kubeconfig_secret_name: SecretName = None,
    cpu: Cpu = None,
    memory: Memory = None,
    pods: Pods = None,
    resource: Resources = None,
    labels: Labels = None,
    node_selector: NodeSelector = None,
    runtime_class_name: RuntimeClass = None,
    storage_classes: StorageClasses = None,
    ingress_classes: IngressClasses = None,
    load_balancer_classes: LoadBalancerClasses = None,
    vk_options_template: Template = None,
    create_node: CreateNode = True,
    disable_network_check: NoNetworkCheck = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for a Ready Node.")] = True,
    timeout: Timeout = 120.0,
    output: Output = None,
) -> None:
    """Consumer: create a VirtualNode towards provider --remote-cluster-id."""
    if bool(resource_slice_name) == bool(kubeconfig_secret_name):
        raise CommandError("give exactly one of --resource-slice-name and --kubeconfig-secret-name")
    if resource_slice_name and any(v is not None for v in (cpu, memory, pods, resource)):
        raise CommandError(
            "--cpu, --memory, --pods and --resource come from the ResourceSlice with "
            "--resource-slice-name"
        )
    template = parse_template(vk_options_template)
    requested = requested_resources(cpu, memory, pods, resource)
    extra_labels = parse_pairs("--labels", labels)
    extra_selector = parse_pairs("--node-selector", node_selector)
    with api_client(ctx) as client:
        namespace = tenant_namespace(client, remote_cluster_id)
        if resource_slice_name:
            granted = _granted_slice(client, namespace, resource_slice_name)
            secret = slice_secret(client, namespace, remote_cluster_id, resource_slice_name)
            opts = slice_options(granted, secret)
        else:
            opts = NodeOptions(str(kubeconfig_secret_name), {**DEFAULT_RESOURCES, **requested})
        opts.labels.update(extra_labels)
        opts.node_selector.update(extra_selector)
        for names, key, target in (
            (storage_classes, "storageClassName", "storage_classes"),
            (ingress_classes, "ingressClassName", "ingress_classes"),
            (load_balancer_classes, "loadBalancerClassName", "load_balancer_classes"),
        ):
            if parse_list(names):
                setattr(opts, target, classes(parse_list(names), key))
        opts.runtime_class = runtime_class_name or None
        opts.template = template
        opts.create_node = create_node
        opts.disable_network_check = disable_network_check
        body = virtual_node(name, namespace, remote_cluster_id, opts)
        if output is not None:
            print_data(body, output)
            return
        created = _save(client, body)
        typer.echo(f"VirtualNode {namespace}/{name} {'created' if created else 'updated'}.")
        if create_node and wait:
            wait_for(client, timeout, f"the Node of VirtualNode {name} to be Ready",
                     lambda: _node_detail(client, name))  # fmt: skip
            typer.echo(f"Node {name} is Ready.")


def delete_virtualnode(
    ctx: typer.Context,
    name: Name,
    *,
    remote_cluster_id: Annotated[
        str | None,
        _opt("--remote-cluster-id", help_text="Provider of the VirtualNode (if names clash)."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until it is gone.")] = False,
    timeout: Timeout = 120.0,
) -> None:
    """Consumer: delete a VirtualNode (its virtual kubelet drains and removes the Node)."""
    from kubernetes.client import CustomObjectsApi

    with api_client(ctx) as client:
        found = [
            vn
            for vn in list_custom(client, PLURAL)
            if vn["metadata"]["name"] == name
            and remote_cluster_id in (None, (vn.get("spec") or {}).get("clusterID"))
        ]
        if not found:
            where = f" for cluster {remote_cluster_id}" if remote_cluster_id else ""
            raise CommandError(f"no VirtualNode called {name!r}{where}")
        if len(found) > 1:
            raise CommandError(
                f"several VirtualNodes are called {name!r}: pass --remote-cluster-id"
            )
        namespace = found[0]["metadata"]["namespace"]
        try:
            CustomObjectsApi(client).delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name
            )
        except Exception as err:
            if status_of(err) != 404:
                raise
        typer.echo(f"VirtualNode {namespace}/{name} deleted.")
        if wait:

            def gone() -> tuple[bool | None, str]:
                if get_custom(client, PLURAL, namespace, name) is None:
                    return True, ""
                return None, "the VirtualNode controller is draining and removing the Node"

            wait_for(client, timeout, f"VirtualNode {name} to be removed", gone)
            typer.echo(f"VirtualNode {namespace}/{name} removed.")


def register(app: typer.Typer) -> None:
    """Add ``create virtualnode`` and ``delete virtualnode``."""
    group(app, "create", "Create Liqo resources.").command("virtualnode")(create_virtualnode)
    group(app, "delete", "Delete Liqo resources.").command("virtualnode")(delete_virtualnode)
