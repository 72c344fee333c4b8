"""Kill -9 the controller-managers at every phase of the peering: it converges, duplicating nothing.

Two clusters run ``liqo controller-manager`` (authentication module). The main thread plays
the administrators of the declarative flow: nonce, signed nonce, Tenant, Identity,
control-plane kubeconfig, then a ResourceSlice until it is accepted and has its own
Identity and kubeconfig. Meanwhile a *chaos* thread watches the API for each milestone of
that flow and, as soon as it sees one, kills with SIGKILL the controller-manager that works
on the next step (at random, the other one too, and a little later), then starts it again.
The random choices come from a seeded ``random.Random``: a failure prints the seed and the
kills, and ``LIQO_TEST_KILL_SEED=<seed>`` replays the same choices (timings still vary).

At the end, everything is checked through the API: one Tenant, one certificate Secret,
one RoleBinding and one ClusterRoleBinding per role, no CertificateSigningRequest left,
one kubeconfig Secret per Identity, one replicated slice and one Quota, a bounded number of
events, and working kubeconfigs.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import wait_for
from flow_support import (
    accepted,
    create,
    credentials,
    forge_identity,
    forge_tenant,
    resource_slice,
    slice_kubeconfig_secret,
    slice_ready,
)
from kubernetes import client, config
from liqo_sides import Side, running_sides
from peering_support import control_plane_secret, tenant_namespace

from liqo_core.api import consts
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION
from liqo_core.testing.clusters import ClusterPool

# About 20 kills, each followed by a controller-manager's start-up: slower than most tests.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SEED_ENV = "LIQO_TEST_KILL_SEED"
#: How long one phase may take, kills and restarts included.
PHASE_TIMEOUT = 120.0
#: Chance that a milestone also kills the side that is not doing the next step.
OTHER_SIDE_CHANCE = 0.35
#: Longest random delay between a milestone and its kill (seconds).
MAX_KILL_DELAY = 0.3


@dataclass
class Milestone:
    """A point of the flow, seen through the API, right after which ``victim`` is killed."""

    name: str
    probe: Callable[[], object]
    victim: str


@dataclass
class Chaos:
    """Kills and restarts controller-managers at milestones, in a background thread."""

    rng: random.Random
    sides: dict[str, Side]
    milestones: list[Milestone]
    log: list[str] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)
    failure: BaseException | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @contextmanager
    def running(self) -> Iterator[Chaos]:
        """Run the thread; on the way out, stop it before the sides are stopped."""
        self.thread = threading.Thread(target=self._run, name="chaos", daemon=True)
        self.thread.start()
        try:
            yield self
        finally:
            self.stopping.set()
            self.thread.join(30)

    def join(self) -> None:
        """Wait until every milestone has had its kill; raise what went wrong."""
        assert self.thread is not None
        self.thread.join(PHASE_TIMEOUT * 2)
        assert not self.thread.is_alive(), "the chaos thread is stuck"
        if self.failure is not None:
            raise AssertionError(f"chaos thread: {self.failure}") from self.failure

    def _seen(self, milestone: Milestone) -> object:
        deadline = time.monotonic() + PHASE_TIMEOUT
        while not self.stopping.is_set():
            seen = milestone.probe()
            if seen:
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {PHASE_TIMEOUT:g}s: {milestone.name}")
            self.stopping.wait(0.02)  # polling the API
        return None

    def _run(self) -> None:
        try:
            for milestone in self.milestones:
                seen = self._seen(milestone)
                victims = [milestone.victim]
                if self.rng.random() < OTHER_SIDE_CHANCE:
                    victims += [name for name in self.sides if name != milestone.victim]
                delay = self.rng.uniform(0, MAX_KILL_DELAY) if self.rng.random() < 0.5 else 0.0
                # The test's stimulus: kill a little later than seen, at random.
                if self.stopping.wait(delay):
                    return
                self._kill_and_restart(victims)
                what = f"{milestone.name} ({seen})" if isinstance(seen, str) else milestone.name
                self.log.append(f"{what} +{delay:.2f}s: {'+'.join(victims)}")
        except BaseException as exc:  # reported by join()
            self.failure = exc

    def _kill_and_restart(self, victims: list[str]) -> None:
        for name in victims:
            process = self.sides[name].process
            assert process is not None
            process.kill()
            process.wait(10)
            self.kills[name] += 1
        for name in victims:
            self.sides[name].start()


@contextmanager
def reproducible(seed: int, chaos: Chaos) -> Iterator[None]:
    """Add the seed and the kills to any failure."""
    try:
        yield
    except Exception as exc:
        raise AssertionError(
            f"{exc}\n(seed {seed}: rerun with {SEED_ENV}={seed}; kills: {chaos.log})"
        ) from exc


class View:
    """Read-only API views of one side, on a client of their own (for the chaos thread)."""

    def __init__(self, side: Side) -> None:
        self.api = side.cluster.api_client()
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.certificates = client.CertificatesV1Api(self.api)

    def secret(self, namespace: str, name: str) -> Any:
        try:
            return self.core.read_namespaced_secret(name, namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def objects(self, namespace: str, plural: str, selector: str = "") -> list[dict[str, Any]]:
        found: Any = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, label_selector=selector
        )
        return list(found["items"])


def _milestones(p: Side, c: Side, slice_name: str) -> list[Milestone]:
    """The flow's milestones in order, each with the side that works on the next step."""
    pv, cv = View(p), View(c)
    p_ns, c_ns = tenant_namespace(c), tenant_namespace(p)
    consumer = f"{consts.REMOTE_CLUSTER_ID_LABEL}={c.cluster_id}"

    def tenant() -> dict[str, Any] | None:
        return next(iter(pv.objects(p_ns, "tenants")), None)

    def csr_or_certificate() -> str | None:
        if pv.certificates.list_certificate_signing_request(label_selector=consumer).items:
            return "CSR seen"
        return "certificate seen" if pv.secret(p_ns, "liqo-remote-certificate") else None

    def replicated() -> list[dict[str, Any]]:
        origin = f"{consts.REPLICATION_ORIGIN_LABEL}={c.cluster_id}"
        return pv.objects(p_ns, "resourceslices", origin)

    def local_slice() -> dict[str, Any]:
        return next(iter(cv.objects(c_ns, "resourceslices")), {})

    return [
        Milestone("nonce Secret created", lambda: pv.secret(p_ns, "liqo-nonce"), "provider"),
        Milestone(
            "signed-nonce Secret created", lambda: cv.secret(c_ns, "liqo-signed-nonce"), "consumer"
        ),
        Milestone("Tenant created", tenant, "provider"),
        Milestone("CSR created", csr_or_certificate, "provider"),
        Milestone(
            "certificate stored", lambda: pv.secret(p_ns, "liqo-remote-certificate"), "provider"
        ),
        Milestone(
            "Tenant status written",
            lambda: ((tenant() or {}).get("status") or {}).get("authParams"),
            "provider",
        ),
        Milestone("Identity created", lambda: cv.objects(c_ns, "identities"), "consumer"),
        Milestone(
            "kubeconfig written", lambda: cv.secret(c_ns, control_plane_secret(p)), "consumer"
        ),
        Milestone("ResourceSlice created", local_slice, "consumer"),
        Milestone(
            "slice CSR filled",
            lambda: bool((local_slice().get("spec") or {}).get("csr")),
            "consumer",
        ),
        Milestone("slice replicated", replicated, "provider"),
        Milestone(
            "slice accepted on the provider",
            lambda: [s for s in replicated() if accepted(s)],
            "provider",
        ),
        Milestone("Quota created", lambda: _quotas(pv.custom, p_ns), "provider"),
        Milestone("decision replicated back", lambda: accepted(local_slice()), "consumer"),
        Milestone(
            "slice Identity created",
            lambda: cv.objects(c_ns, "identities", consts.RESOURCE_SLICE_NAME_LABEL),
            "consumer",
        ),
        Milestone(
            "slice kubeconfig written",
            lambda: cv.secret(c_ns, slice_kubeconfig_secret(slice_name)),
            "consumer",
        ),
    ]


def _quotas(custom: client.CustomObjectsApi, namespace: str) -> list[dict[str, Any]]:
    found: Any = custom.list_namespaced_custom_object(
        "offloading.liqo.io", "v1beta1", namespace, "quotas"
    )
    return list(found["items"])


def _admitted_create(side: Side, plural: str, obj: dict[str, Any]) -> None:
    """:func:`create`, retried while the side's admission webhook cannot be called (its
    controller-manager was just killed: failure policy Fail refuses meanwhile, as on any
    cluster, and an administrator tries again)."""

    def attempt() -> bool:
        try:
            create(side, plural, obj)
        except client.ApiException as exc:
            if exc.status == 500 and "failed calling webhook" in str(exc.body):
                return False
            raise
        return True

    wait_for(f"the {plural} admitted", attempt, timeout=PHASE_TIMEOUT)


def _peer(p: Side, c: Side, slice_name: str) -> None:
    """The administrators' side of the declarative flow, each step waiting for the last."""
    _admitted_create(p, "tenants", forge_tenant(p, c, timeout=PHASE_TIMEOUT))
    wait_for("the Tenant's credentials", lambda: credentials(p, c), timeout=PHASE_TIMEOUT)
    create(c, "identities", forge_identity(p, c))
    wait_for(
        "the control-plane kubeconfig",
        lambda: c.secret_data(tenant_namespace(p), control_plane_secret(p)),
        timeout=PHASE_TIMEOUT,
    )
    _admitted_create(c, "resourceslices", resource_slice(p, c, slice_name))
    wait_for(
        "the ResourceSlice accepted, with its kubeconfig",
        lambda: slice_ready(p, c, slice_name),
        timeout=PHASE_TIMEOUT,
    )


def _kubeconfig_client(data: bytes) -> Any:
    return config.new_client_from_config_dict(yaml.safe_load(data))  # type: ignore[no-untyped-call]


def _can(api: Any, verb: str, namespace: str | None, group: str, resource: str) -> bool:
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                verb=verb, namespace=namespace, group=group, resource=resource
            )
        )
    )
    answer: Any = client.AuthorizationV1Api(api).create_self_subject_access_review(review)
    return bool(answer.status.allowed)


def _converged(p: Side, c: Side, slice_name: str) -> str | None:
    """What is not (yet) as it must be after the flow, or None."""
    p_ns, c_ns = tenant_namespace(c), tenant_namespace(p)
    consumer = f"{consts.REMOTE_CLUSTER_ID_LABEL}={c.cluster_id}"
    tenants: Any = p.custom.list_cluster_custom_object(GROUP, VERSION, "tenants")
    mine = [t for t in tenants["items"] if t["spec"]["clusterID"] == c.cluster_id]
    if len(mine) != 1:
        return f"Tenants for the consumer: {[t['metadata']['name'] for t in mine]}"
    stored: Any = p.core.list_secret_for_all_namespaces(label_selector=consumer)
    certificates = [
        s.metadata.namespace for s in stored.items if s.metadata.name == "liqo-remote-certificate"
    ]
    if certificates != [p_ns]:
        return f"liqo-remote-certificate Secrets in {certificates}"
    rbac = client.RbacAuthorizationV1Api(p.api)
    bindings: list[Any] = [
        *rbac.list_role_binding_for_all_namespaces(label_selector=consumer).items,
        *rbac.list_cluster_role_binding(label_selector=consumer).items,
    ]
    roles = Counter(b.role_ref.name for b in bindings)
    expected = {"liqo-remote-controlplane": 1, "liqo-virtual-kubelet-remote-clusterwide": 1}
    if roles != expected:
        return f"bindings per role: {dict(roles)}"
    csrs: Any = client.CertificatesV1Api(p.api).list_certificate_signing_request(
        label_selector=consumer
    )
    if csrs.items:
        return f"CertificateSigningRequests left: {[r.metadata.name for r in csrs.items]}"
    identities: Any = c.custom.list_namespaced_custom_object(GROUP, VERSION, c_ns, "identities")
    names = sorted(i["metadata"]["name"] for i in identities["items"])
    if names != sorted([f"controlplane-{p.cluster_id}", f"resourceslice-{slice_name}"]):
        return f"Identities on the consumer: {names}"
    kubeconfigs: list[Any] = c.core.list_namespaced_secret(
        c_ns, label_selector=f"{consts.REMOTE_CLUSTER_ID_LABEL}={p.cluster_id}"
    ).items
    owners = sorted(
        ref.name
        for secret in kubeconfigs
        if "kubeconfig" in (secret.data or {})
        for ref in secret.metadata.owner_references or []
    )
    if owners != names:
        return f"kubeconfig Secrets per Identity: {owners}"
    origin = f"{consts.REPLICATION_ORIGIN_LABEL}={c.cluster_id}"
    replicated: Any = p.custom.list_namespaced_custom_object(
        GROUP, VERSION, p_ns, "resourceslices", label_selector=origin
    )
    slices = [s["metadata"]["name"] for s in replicated["items"]]
    if slices != [slice_name]:
        return f"replicated slices on the provider: {slices}"
    quotas = [q["metadata"]["name"] for q in _quotas(p.custom, p_ns)]
    if len(quotas) != 1:
        return f"Quotas on the provider: {quotas}"
    return None


def _events_per_reason(side: Side, namespaces: list[str]) -> Counter[tuple[str, str, str]]:
    """How many times each (kind, name, reason) was reported, counting aggregated repeats."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for namespace in namespaces:
        events: Any = side.core.list_namespaced_event(namespace)
        for event in events.items:
            ref = event.involved_object
            counts[(ref.kind, ref.name, event.reason)] += event.count or 1
    return counts


def test_killed_controller_managers_converge_without_duplicates(
    kube_cluster_pool: ClusterPool, tmp_path: Path
) -> None:
    seed = int(os.environ.get(SEED_ENV) or secrets.randbelow(2**32))
    print(f"{SEED_ENV}={seed}")
    clusters = kube_cluster_pool.get(2)
    # Offloading too: the Quota milestone needs the quotacreator (authentication+offloading).
    settings = {"modules": ["authentication", "offloading"]}
    with running_sides(clusters, ["provider", "consumer"], tmp_path, settings) as (_, (p, c)):
        slice_name = p.cluster_id  # as ``liqoctl peer`` names it
        sides = {"provider": p, "consumer": c}
        chaos = Chaos(random.Random(seed), sides, _milestones(p, c, slice_name))
        with reproducible(seed, chaos), chaos.running():
            _peer(p, c, slice_name)
            chaos.join()
            print("kills:", *chaos.log, sep="\n  ")
            assert len(chaos.log) == len(chaos.milestones), chaos.log

            wait_for(
                "the peering to converge",
                lambda: _converged(p, c, slice_name) is None or None,
                timeout=PHASE_TIMEOUT,
                interval=0.5,
            )
            assert _converged(p, c, slice_name) is None
            p_ns, c_ns = tenant_namespace(c), tenant_namespace(p)

            # Each restart may redo the step it interrupted once, not more.
            for name, namespaces in (("provider", [p_ns, p.namespace]), ("consumer", [c_ns])):
                bound = chaos.kills[name] + 1
                counts = _events_per_reason(sides[name], namespaces)
                storm = {key: n for key, n in counts.items() if n > bound}
                assert not storm, f"events on the {name} repeated more than {bound} times: {storm}"

            # The kubeconfigs work, with the rights they are meant to have.
            data = c.secret_data(c_ns, control_plane_secret(p)) or {}
            control_plane = _kubeconfig_client(data["kubeconfig"])
            try:
                assert _can(control_plane, "create", p_ns, GROUP, "resourceslices")
                assert not _can(control_plane, "get", p_ns, "", "secrets")
                found: Any = client.CustomObjectsApi(control_plane).list_namespaced_custom_object(
                    GROUP, VERSION, p_ns, "resourceslices"
                )
                assert [s["metadata"]["name"] for s in found["items"]] == [slice_name]
            finally:
                control_plane.close()
            data = c.secret_data(c_ns, slice_kubeconfig_secret(slice_name)) or {}
            virtual_kubelet = _kubeconfig_client(data["kubeconfig"])
            try:
                assert _can(virtual_kubelet, "get", None, "metrics.liqo.io", "scrape")
                assert not _can(virtual_kubelet, "get", p_ns, "", "secrets")
            finally:
                virtual_kubelet.close()
