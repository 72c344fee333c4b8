"""Liqo in the sandbox: the chart installed in each cluster, then the plugins' components.

For each cluster the supervisor installs the chart ``charts/liqo`` as release ``liqo`` in
namespace ``liqo`` with Helm's own engine (helm-python-sdk), with the sandbox cluster's ID
as ``discovery.config.clusterID``, leader election on, and the controller-manager pod
annotated ``sandbox.liqo.io/netns: "true"`` so that the controller-managers of several
clusters (all run as local processes) each get their own ports. With pod networks (root)
the admission webhooks are on: the API server reaches them through Service
``liqo-webhook`` from the control-plane node, as on kind; without, they are off (the pods
share the host's ports and network). It then loads the plugins
with the settings the chart rendered for the controller-manager, applies the manifests
their ``liqo_sandbox_components`` hooks return, in order, and waits until the
controller-manager Deployment is ready.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import liqo_core
from liqo_core import LiqoRuntime, load_runtime
from liqo_core.errors import LiqoError
from liqo_core.kube import Kube, KubeError
from liqo_core.sandbox import hookspecs as sandbox_hookspecs
from liqo_core.sandbox.scope import NETNS_ANNOTATION, RUNNER_ANNOTATION
from liqo_core.sandbox.state import ClusterInfo
from liqo_core.settings import LiqoSettings, load_settings

JSON = dict[str, Any]

RELEASE = "liqo"
NAMESPACE = "liqo"
CONTROLLER_MANAGER = "liqo-controller-manager"
SETTINGS_CONFIGMAP = "liqo-controller-manager-config"
FIELD_MANAGER = "liqo-sandbox"
APPLY_PATCH = "application/apply-patch+yaml"
HELM_TIMEOUT = 120


class LiqoInstallError(LiqoError):
    """Liqo could not be installed in a sandbox cluster (one-line message)."""


def default_chart() -> Path:
    """``charts/liqo`` of the checkout the ``liqo_core`` package is imported from."""
    return Path(liqo_core.__file__).resolve().parent.parent / "charts" / "liqo"


def is_chart(path: Path) -> bool:
    """Whether ``path`` is a chart directory (holds ``Chart.yaml``)."""
    return (path / "Chart.yaml").is_file()


def chart_values(info: ClusterInfo, webhooks: bool = True) -> JSON:
    """The values the sandbox installs the chart with in cluster ``info``."""
    return {
        "discovery": {"config": {"clusterID": info.cluster_id}},
        "webhook": {"enabled": webhooks},
        "controllerManager": {
            "config": {"leaderElection": True},
            "pod": {"annotations": {NETNS_ANNOTATION: "true"}},
        },
        # Virtual kubelets run in tenant namespaces: run them as processes too, each in
        # its own network namespace (its pod IP is the virtual node's InternalIP).
        "offloading": {
            "virtualKubelet": {
                "extra": {"annotations": {RUNNER_ANNOTATION: "process", NETNS_ANNOTATION: "true"}}
            }
        },
    }


def install_chart(info: ClusterInfo, chart: Path, webhooks: bool = True) -> None:
    """Install (blocking) release ``liqo`` of ``chart`` in namespace ``liqo`` of ``info``."""
    import helm_python as helm

    config = helm.Config(kubeconfig_path=info.kubeconfig, namespace=NAMESPACE)
    try:
        config.install(
            chart,
            RELEASE,
            chart_values(info, webhooks),
            namespace=NAMESPACE,
            create_namespace=True,
            timeout=HELM_TIMEOUT,
        )
    except helm.HelmError as err:
        raise LiqoInstallError(
            f"installing the chart {chart} in {info.name} failed: {_one_line(err)}"
        ) from err
    finally:
        config.close()


async def installed_settings(kube: Kube, workdir: Path) -> LiqoSettings:
    """The controller-manager's settings as the installed chart rendered them.

    The file is read from ConfigMap ``liqo-controller-manager-config`` and saved as
    ``<workdir>/liqo-config.yaml``; the environment overrides it as it does in the pod.
    """
    path = f"/api/v1/namespaces/{NAMESPACE}/configmaps/{SETTINGS_CONFIGMAP}"
    config_map = await kube.get(path)
    text = ((config_map or {}).get("data") or {}).get("config.yaml")
    if not text:
        raise LiqoInstallError(f"ConfigMap {NAMESPACE}/{SETTINGS_CONFIGMAP} has no config.yaml")
    file = workdir / "liqo-config.yaml"
    await asyncio.to_thread(file.write_text, text)
    return load_settings(file)


def sandbox_components(runtime: LiqoRuntime, info: ClusterInfo) -> list[JSON]:
    """The manifests every loaded plugin returns from ``liqo_sandbox_components``, in the
    plugins' start order."""
    manifests: list[JSON] = []
    for plugin in runtime.plugins:
        who = f"{plugin.kind} {plugin.name!r} from distribution {plugin.distribution!r}"
        hook = runtime.pm.hook_of(plugin.plugin_name, "liqo_sandbox_components")
        try:
            answers = hook(cluster=info, settings=runtime.settings)
        except Exception as err:
            raise LiqoInstallError(
                f"{who} failed in liqo_sandbox_components: {type(err).__name__}: {_one_line(err)}"
            ) from err
        for answer in answers:
            for manifest in answer or []:
                if not (
                    isinstance(manifest, Mapping)
                    and manifest.get("apiVersion")
                    and manifest.get("kind")
                    and (manifest.get("metadata") or {}).get("name")
                ):
                    raise LiqoInstallError(
                        f"{who} returned {repr(manifest)[:200]} from liqo_sandbox_components, "
                        "which is "
                        "not a manifest with apiVersion, kind and metadata.name"
                    )
                try:
                    manifests.append(json.loads(json.dumps(manifest)))
                except (TypeError, ValueError) as err:
                    raise LiqoInstallError(
                        f"{who} returned a manifest from liqo_sandbox_components that is not "
                        f"plain JSON: {_one_line(err)}"
                    ) from err
    return manifests


def plugin_components(settings: LiqoSettings, info: ClusterInfo) -> list[JSON]:
    """Load the plugins ``settings`` enable, collect their sandbox manifests, unload them."""
    with load_runtime(settings, hookspecs=[sandbox_hookspecs]) as runtime:
        return sandbox_components(runtime, info)


async def _resource(kube: Kube, api_version: str, kind: str, wait: float) -> tuple[str, JSON]:
    """The API path prefix and discovery entry of ``kind`` (waits for new CRDs to serve)."""
    base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        discovery = await kube.get(base)
        for resource in (discovery or {}).get("resources") or []:
            if resource.get("kind") == kind and "/" not in resource.get("name", ""):
                return base, resource
        if loop.time() > deadline:
            raise LiqoInstallError(f"the API server does not serve kind {kind} of {api_version}")
        await asyncio.sleep(0.5)


async def apply_manifest(kube: Kube, manifest: Mapping[str, Any], wait: float = 30.0) -> JSON:
    """Server-side apply ``manifest``; namespaced objects without a namespace go to ``liqo``.

    A kind the API server does not serve yet (a CRD applied just before) is waited for up
    to ``wait`` seconds.
    """
    base, resource = await _resource(kube, manifest["apiVersion"], manifest["kind"], wait)
    meta = manifest["metadata"]
    path = base
    if resource.get("namespaced"):
        path += f"/namespaces/{meta.get('namespace') or NAMESPACE}"
    path += f"/{resource['name']}/{meta['name']}"
    query = {"fieldManager": FIELD_MANAGER, "force": "true"}
    try:
        return await kube.request(
            "PATCH", path, dict(manifest), query=query, content_type=APPLY_PATCH
        )
    except KubeError as err:
        raise LiqoInstallError(
            f"applying {manifest['kind']} {meta['name']}: {_one_line(err)}"
        ) from err


def controller_manager_state(deployment: JSON | None, pods: list[JSON]) -> tuple[bool, str]:
    """Whether the controller-manager Deployment is ready, and a short description."""
    if deployment is None:
        return False, "not installed"
    wanted = int(deployment.get("spec", {}).get("replicas", 1))
    ready = int(deployment.get("status", {}).get("readyReplicas") or 0)
    if wanted and ready >= wanted:
        return True, f"{ready}/{wanted} ready"
    reasons = sorted(
        {
            str(waiting.get("reason"))
            for pod in pods
            for status in pod.get("status", {}).get("containerStatuses") or []
            if (waiting := status.get("state", {}).get("waiting"))
        }
    )
    return False, f"{ready}/{wanted} ready" + (f" ({', '.join(reasons)})" if reasons else "")


async def wait_controller_manager(
    kube: Kube, progress: Callable[[str], None], name: str, interval: float = 0.5
) -> None:
    """Poll until the controller-manager Deployment is ready, reporting what it waits for."""
    deployment_path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{CONTROLLER_MANAGER}"
    pods_path = f"/api/v1/namespaces/{NAMESPACE}/pods"
    last = ""
    while True:
        deployment = await kube.get(deployment_path)
        pods = (await kube.request("GET", pods_path)).get("items") or []
        ready, detail = controller_manager_state(deployment, pods)
        if ready:
            return
        message = f"waiting for the Liqo controller-manager of {name}: {detail}"
        if message != last:
            last = message
            progress(message)
        await asyncio.sleep(interval)


async def install_liqo(
    kube: Kube,
    info: ClusterInfo,
    chart: Path,
    workdir: Path,
    progress: Callable[[str], None],
    *,
    webhooks: bool = True,
) -> None:
    """Install the chart in ``info`` (admission webhooks on if ``webhooks``), then apply the
    plugins' sandbox components."""
    progress(f"installing Liqo in {info.name}")
    await asyncio.to_thread(install_chart, info, chart, webhooks)
    settings = await installed_settings(kube, workdir)
    manifests = await asyncio.to_thread(plugin_components, settings, info)
    for manifest in manifests:
        await apply_manifest(kube, manifest)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__
