"""Peering: how long the declarative flow takes, and what one consumer of many providers costs.

Each cluster is an emulated API server running ``liqo controller-manager`` (authentication
module) under the chart's RBAC, as the end-to-end tests start them (``tests/e2e``); with
``LIQO_TEST_KUBECONFIGS`` the listed clusters are used instead. Documents are forged with
the library ``liqoctl`` uses and created through the API, so no command start-up is timed.

- **one provider**: from the peering CRs applied (the Tenant on the provider, then, as soon
  as it has credentials, the ControlPlane Identity and a ResourceSlice on the consumer) to the
  slice accepted with its kubeconfig Secret; median of several runs, each on freshly started
  controller-managers. The nonce exchange before it is not timed.
- **many providers**: one consumer applies its Tenant on every provider at once and the
  Identity and slice of each as soon as that provider answers; the total time until every
  slice is accepted with its kubeconfig, and the resident memory (``VmRSS``; ``VmHWM`` is the
  peak) of the consumer's controller-manager before and after, and of the providers'.

Times are observed by polling the API every :data:`POLL` seconds.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))

from flow_support import (  # the e2e helpers, once their folder is on sys.path
    create,
    credentials,
    forge_identity,
    forge_tenant,
    resource_slice,
    slice_ready,
)
from liqo_sides import Side, running_sides

from liqo_core.testing.clusters import ClusterPool, kubeconfigs_from_env

#: Seconds between two looks at the API.
POLL = 0.02
#: Longest wait for one step of one peering.
STEP_TIMEOUT = 120.0
MIB = 1024 * 1024


@dataclass(frozen=True)
class Row:
    """One measured figure."""

    name: str
    value: float
    unit: str
    note: str = ""


def table(rows: list[Row]) -> str:
    """A Markdown table of the rows."""
    lines = ["| measure | value | notes |", "|---|---:|---|"]
    lines += [f"| {r.name} | {f'{r.value:,.2f} {r.unit}'.strip()} | {r.note} |" for r in rows]
    return "\n".join(lines)


def memory(pid: int) -> tuple[float, float]:
    """``(VmRSS, VmHWM)`` of a process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024 / MIB  # reported in kB
    return fields["VmRSS"], fields["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def _pid(side: Side) -> int:
    assert side.process is not None and side.process.poll() is None, side.cluster_id
    return int(side.process.pid)


def _until(what: str, probe: Callable[[], object], timeout: float = STEP_TIMEOUT) -> float:
    """Poll ``probe`` until truthy; return the time it was seen (``perf_counter``)."""
    deadline = time.perf_counter() + timeout
    while not probe():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no {what} after {timeout:g}s")
        time.sleep(POLL)  # polling the API: that is the measurement's resolution
    return time.perf_counter()


def _control_plane_kubeconfig(provider: Side, consumer: Side) -> Callable[[], object]:
    namespace = f"liqo-tenant-{provider.cluster_id}"
    name = f"kubeconfig-controlplane-{provider.cluster_id}"
    return lambda: consumer.secret_data(namespace, name)


def _one_peering(provider: Side, consumer: Side) -> tuple[float, float, float]:
    """Seconds from the Tenant applied to: credentials, control-plane kubeconfig, slice ready."""
    tenant = forge_tenant(provider, consumer, STEP_TIMEOUT)
    start = time.perf_counter()
    create(provider, "tenants", tenant)
    issued = _until("credentials", lambda: credentials(provider, consumer))
    create(consumer, "identities", forge_identity(provider, consumer))
    create(consumer, "resourceslices", resource_slice(provider, consumer, provider.cluster_id))
    kubeconfig = _until("kubeconfig", _control_plane_kubeconfig(provider, consumer))
    ready = _until("slice", lambda: slice_ready(provider, consumer, provider.cluster_id))
    return issued - start, kubeconfig - start, ready - start


def _spread(values: list[float]) -> str:
    return f"min {min(values):.2f}, max {max(values):.2f}"


def one_provider(pool: ClusterPool, workdir: Path, runs: int) -> list[Row]:
    """Median time of one peering, each run on fresh controller-managers."""
    clusters = pool.get(2)
    phases: list[tuple[float, float, float]] = []
    for run in range(runs):
        tmp = workdir / f"single-{run}"
        tmp.mkdir()
        with running_sides(clusters, ["provider", "consumer"], tmp) as (_, (provider, consumer)):
            phases.append(_one_peering(provider, consumer))
    issued, kubeconfig, ready = (list(column) for column in zip(*phases, strict=True))
    label = f"median of {runs}"
    return [
        Row("1 provider: Tenant applied → credentials in its status", statistics.median(issued),
            "s", f"{label}; {_spread(issued)}"),
        Row("1 provider: Tenant applied → control-plane kubeconfig", statistics.median(kubeconfig),
            "s", f"{label}; {_spread(kubeconfig)}"),
        Row("1 provider: Tenant applied → slice accepted with its kubeconfig",
            statistics.median(ready), "s", f"{label}; {_spread(ready)}"),
    ]  # fmt: skip


def many_providers(pool: ClusterPool, workdir: Path, count: int) -> list[Row]:
    """One consumer peering with ``count`` providers at once."""
    consumer_cluster, *provider_clusters = pool.get(count + 1)
    tmp = workdir / "many"
    tmp.mkdir()
    with ExitStack() as stack:
        # One side at a time: many controller-managers starting at once on a small machine
        # would outlast the harness's wait for each one's key pair.
        _, (consumer,) = stack.enter_context(running_sides([consumer_cluster], ["consumer"], tmp))
        providers: list[Side] = []
        for i, cluster in enumerate(provider_clusters, 1):
            _, sides = stack.enter_context(running_sides([cluster], [f"provider{i:02d}"], tmp))
            providers += sides
        tenants = [forge_tenant(provider, consumer, STEP_TIMEOUT) for provider in providers]
        rss_before, _ = memory(_pid(consumer))
        sides = [consumer, *providers]
        cpu_before = [cpu_seconds(_pid(side)) for side in sides]
        start = time.perf_counter()
        for provider, tenant in zip(providers, tenants, strict=True):
            create(provider, "tenants", tenant)
        # Per provider, seconds since the start until each stage was seen; as soon as the
        # Tenant has credentials, the consumer applies the Identity and the slice.
        stages: list[Callable[[Side], object]] = [
            lambda provider: credentials(provider, consumer),
            lambda provider: _control_plane_kubeconfig(provider, consumer)(),
            lambda provider: slice_ready(provider, consumer, provider.cluster_id),
        ]
        seen: dict[str, list[float]] = {provider.cluster_id: [] for provider in providers}
        deadline = start + STEP_TIMEOUT + 10 * count
        while any(len(times) < len(stages) for times in seen.values()):
            for provider in providers:
                times = seen[provider.cluster_id]
                if len(times) == len(stages) or not stages[len(times)](provider):
                    continue
                times.append(time.perf_counter() - start)
                if len(times) == 1:
                    create(consumer, "identities", forge_identity(provider, consumer))
                    body = resource_slice(provider, consumer, provider.cluster_id)
                    create(consumer, "resourceslices", body)
            if time.perf_counter() > deadline:
                late = sorted(name for name, times in seen.items() if len(times) < len(stages))
                raise TimeoutError(f"slices not ready after {deadline - start:.0f}s: {late}")
            time.sleep(POLL)  # polling the API
        issued, kubeconfigs, ready = (sorted(column) for column in zip(*seen.values(), strict=True))
        rss_after, peak = memory(_pid(consumer))
        cpu = [cpu_seconds(_pid(side)) - was for side, was in zip(sides, cpu_before, strict=True)]
        provider_rss = [memory(_pid(provider))[0] for provider in providers]
    return [
        Row(f"{count} providers: all Tenants applied → every Tenant with credentials", issued[-1],
            "s", f"median {statistics.median(issued):.2f} s"),
        Row(f"{count} providers: all Tenants applied → every control-plane kubeconfig",
            kubeconfigs[-1], "s", f"median {statistics.median(kubeconfigs):.2f} s"),
        Row(f"{count} providers: all Tenants applied → every slice accepted with its kubeconfig",
            ready[-1], "s", f"median {statistics.median(ready):.2f} s"),
        Row("consumer controller-manager CPU time from the Tenants to every slice", cpu[0], "s",
            f"providers' controller-managers: {sum(cpu[1:]):.2f} s in all"),
        Row("consumer controller-manager RSS before the Tenants", rss_before, "MiB",
            "after start-up and the nonce exchanges"),
        Row(f"consumer controller-manager RSS with {count} peerings", rss_after, "MiB",
            f"peak (VmHWM) {peak:.1f} MiB; +{(rss_after - rss_before) / count:.2f} MiB each"),
        Row("provider controller-manager RSS (median)", statistics.median(provider_rss), "MiB",
            f"min {min(provider_rss):.1f}, max {max(provider_rss):.1f}"),
    ]  # fmt: skip


def run(quick: bool = False, providers: int | None = None, runs: int | None = None) -> list[Row]:
    """Both measurements, on clusters started here (or listed in ``LIQO_TEST_KUBECONFIGS``).

    :param providers: Providers of the many-providers case (20; 2 with ``quick``).
    :param runs: Runs of the one-provider case (5; 1 with ``quick``).
    """
    providers = providers if providers is not None else (2 if quick else 20)
    runs = runs if runs is not None else (1 if quick else 5)
    if providers < 1 or runs < 1:
        raise ValueError("--providers and --runs must be at least 1")
    load = Row("load average (1 min) when the run started", os.getloadavg()[0], "",
               "other work on the machine slows every figure")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="liqo-bench-peering-") as tmp:
        workdir = Path(tmp)
        pool = ClusterPool(workdir / "clusters", kubeconfigs_from_env())
        try:
            single = one_provider(pool, workdir, runs)
            return [load, *single, *many_providers(pool, workdir, providers)]
        finally:
            pool.close()
