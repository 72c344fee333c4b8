"""``liqoctl peer`` machinery: step ordering, selection, undo order, timeouts, flag checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from liqo_auth.cli.steps import TenantNamespaces

from liqo_core import hookimpl, load_settings
from liqo_core._runtime.plugins import load_runtime
from liqo_core.cli.app import run
from liqo_core.cli.context import CommandError
from liqo_core.cli.peering import requested_resources
from liqo_core.peering import (
    PeeringContext,
    PeeringError,
    PeeringOptions,
    PeeringPhase,
    PeeringStep,
    PeeringTimeout,
    ordered_steps,
    run_steps,
    select_steps,
    undo_steps,
)


@dataclass
class Step:
    """A step that records what is done to it in a shared journal."""

    name: str
    phase: PeeringPhase
    journal: list[str] = field(default_factory=list)
    fail_validation: bool = False

    def validate(self, ctx: PeeringContext) -> None:
        self.journal.append(f"validate {self.name}")
        if self.fail_validation:
            raise PeeringError("prerequisite missing")

    def run(self, ctx: PeeringContext) -> None:
        self.journal.append(f"run {self.name}")

    def undo(self, ctx: PeeringContext) -> None:
        self.journal.append(f"undo {self.name}")


def context(**options: object) -> PeeringContext:
    return PeeringContext(
        consumer=None, provider=None, consumer_id="consumer", provider_id="provider",
        consumer_namespace="liqo", provider_namespace="liqo",
        options=PeeringOptions(**options),  # type: ignore[arg-type]
    )  # fmt: skip


def steps(journal: list[str]) -> list[PeeringStep]:
    return [
        Step("slice", PeeringPhase.RESOURCES, journal),
        Step("auth", PeeringPhase.AUTHENTICATION, journal),
        Step("namespaces", PeeringPhase.NAMESPACES, journal),
        Step("gateway", PeeringPhase.NETWORKING, journal),
        Step("configuration", PeeringPhase.NETWORKING, journal),
    ]


def test_steps_are_ordered_by_phase_and_stable_within_one() -> None:
    journal: list[str] = []
    mine = steps(journal)
    ordered = ordered_steps([mine[:2], None, mine[2:]])
    assert [s.name for s in ordered] == ["namespaces", "gateway", "configuration", "auth", "slice"]


def test_two_modules_cannot_contribute_the_same_step() -> None:
    journal: list[str] = []
    with pytest.raises(PeeringError, match=r"the peering step\(s\) \['auth'\]"):
        ordered_steps([steps(journal), [Step("auth", PeeringPhase.RESOURCES, journal)]])


def test_peer_validates_everything_then_runs_in_order_and_unpeer_reverses() -> None:
    journal: list[str] = []
    ordered = ordered_steps([steps(journal)])
    done: list[str] = []
    run_steps(ordered, context(), lambda step: done.append(step.name))
    names = ["namespaces", "gateway", "configuration", "auth", "slice"]
    assert journal == [f"validate {n}" for n in names] + [f"run {n}" for n in names]
    assert done == names
    journal.clear()
    undo_steps(ordered, context())
    assert journal == [f"undo {n}" for n in reversed(names)]


def test_a_failed_validation_runs_nothing_unless_skipped() -> None:
    journal: list[str] = []
    ordered = ordered_steps([steps(journal)])
    ordered[-1].fail_validation = True  # type: ignore[attr-defined]
    with pytest.raises(PeeringError, match=r"^step 'slice': prerequisite missing$"):
        run_steps(ordered, context())
    assert not [entry for entry in journal if entry.startswith("run")]
    journal.clear()
    run_steps(ordered, context(skip_validation=True))
    assert journal == [f"run {s.name}" for s in ordered]


def test_a_cluster_cannot_peer_with_itself() -> None:
    ctx = context()
    ctx.provider_id = ctx.consumer_id
    with pytest.raises(PeeringError, match="both clusters have cluster ID 'consumer'"):
        run_steps([], ctx)


def test_networking_disabled_drops_only_the_networking_steps() -> None:
    ordered = ordered_steps([steps([])])
    chosen = select_steps(ordered, PeeringOptions(networking_disabled=True))
    assert [s.name for s in chosen] == ["namespaces", "auth", "slice"]
    assert select_steps(ordered, PeeringOptions()) == ordered


def test_in_band_needs_networking_steps() -> None:
    ordered = ordered_steps([steps([])])
    assert select_steps(ordered, PeeringOptions(in_band=True)) == ordered
    without = [s for s in ordered if s.phase is not PeeringPhase.NETWORKING]
    with pytest.raises(PeeringError, match="no enabled module provides networking steps"):
        select_steps(without, PeeringOptions(in_band=True))
    with pytest.raises(PeeringError, match="--networking-disabled was given"):
        select_steps(ordered, PeeringOptions(in_band=True, networking_disabled=True))


@dataclass
class Waiting:
    """A step that waits for something that never comes, saying why."""

    name: str = "resource-slice"
    phase: PeeringPhase = PeeringPhase.RESOURCES
    probes: int = 0

    def validate(self, ctx: PeeringContext) -> None:
        pass

    def run(self, ctx: PeeringContext) -> None:
        def probe() -> tuple[None, str]:
            self.probes += 1
            return None, "Resources Denied, TenantDrained: the tenant is drained"

        ctx.wait("ResourceSlice liqo-tenant-p/p to be accepted", probe)

    def undo(self, ctx: PeeringContext) -> None:
        pass


def test_a_timeout_names_the_step_what_it_waited_for_and_why() -> None:
    reported: list[str] = []
    ctx = context(timeout=0.3)
    ctx.report = reported.append
    step = Waiting()
    with pytest.raises(PeeringTimeout) as caught:
        run_steps([step], ctx)
    assert str(caught.value) == (
        "step 'resource-slice': timed out after 0.3s waiting for ResourceSlice liqo-tenant-p/p"
        " to be accepted: Resources Denied, TenantDrained: the tenant is drained"
    )
    assert step.probes >= 2  # it polled until the deadline
    assert reported[-1] == (
        "waiting for ResourceSlice liqo-tenant-p/p to be accepted"
        " (Resources Denied, TenantDrained: the tenant is drained)"
    )
    assert ctx.current_step == "resource-slice"


def test_wait_returns_as_soon_as_the_probe_answers_even_past_the_deadline() -> None:
    ctx = context(timeout=0)
    assert ctx.wait("something", lambda: ("here", "")) == "here"


# --- the hook ------------------------------------------------------------------------------


class NetworkingPlugin:
    """Stands for the networking module contributing its steps later."""

    @hookimpl
    def liqo_peering_steps(self) -> list[PeeringStep]:
        return [Step("network", PeeringPhase.NETWORKING)]


def test_modules_contribute_steps_through_the_hook() -> None:
    runtime = load_runtime(load_settings(None, modules=["authentication"]))
    try:
        answers = runtime.pm.hook.liqo_peering_steps(settings=runtime.settings)
        assert [s.name for s in ordered_steps(answers)] == [
            "tenant-namespaces", "authentication", "resource-slice"]  # fmt: skip
        runtime.pm.register(NetworkingPlugin(), name="test-networking")
        answers = runtime.pm.hook.liqo_peering_steps(settings=runtime.settings)
        assert [s.name for s in ordered_steps(answers)] == [
            "tenant-namespaces", "network", "authentication", "resource-slice"]  # fmt: skip
    finally:
        runtime.close()


# --- flags -----------------------------------------------------------------------------------


def test_requested_resources_checks_names_and_quantities() -> None:
    assert requested_resources("2", "4Gi", None, ["nvidia.com/gpu=1", "ephemeral-storage=10G"]) == {
        "cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1", "ephemeral-storage": "10G"}  # fmt: skip
    assert requested_resources(None, None, None, None) == {}
    for args, message in (
        (("two", None, None, None), "cpu: 'two' is not a Kubernetes quantity"),
        ((None, None, None, ["gpu"]), "--resource 'gpu': expected name=quantity"),
        ((None, None, None, ["=1"]), "--resource '=1': expected name=quantity"),
        (("1", None, None, ["cpu=2"]), "resource 'cpu' given twice"),
    ):
        with pytest.raises(CommandError, match=message):
            requested_resources(*args)  # type: ignore[arg-type]


def error_of(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 1) -> str:
    assert run(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--memory", "lots"],
         "Error: memory: 'lots' is not a Kubernetes quantity (e.g. 500m, 4, 8Gi)\n"),
        (["--cpu", "1", "--no-create-resource-slice"],
         "Error: --cpu/--memory/--pods/--resource need a ResourceSlice: "
         "drop --no-create-resource-slice\n"),
        (["--in-band", "--networking-disabled"],
         "Error: --in-band needs the network tunnel, but --networking-disabled was given\n"),
        (["--in-band"], "Error: --in-band needs the network tunnel, but no enabled module provides "
         "networking steps (is the networking module on?)\n"),
    ],
)  # fmt: skip
def test_peer_rejects_bad_flags_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], message: str
) -> None:
    argv = ["peer", "--remote-kubeconfig", str(tmp_path / "absent"), *extra]
    assert error_of(capsys, argv) == message


def test_peer_needs_the_remote_kubeconfig(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["peer"]) == 2
    assert "--remote-kubeconfig" in capsys.readouterr().err


def test_peer_reports_an_unusable_kubeconfig(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["peer", "--remote-kubeconfig", str(tmp_path / "absent"), "--networking-disabled"]
    err = error_of(capsys, argv)
    assert err.startswith("Error: no kubeconfig: pass --kubeconfig")
    local = tmp_path / "local.yaml"
    local.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    err = error_of(capsys, ["--kubeconfig", str(local), *argv[0:3], "--networking-disabled"])
    assert err.startswith("Error: cannot use kubeconfig")


def test_peer_with_no_module_contributing_steps(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LIQO_MODULES", "offloading")
    argv = ["peer", "--remote-kubeconfig", str(tmp_path / "absent")]
    assert error_of(capsys, argv) == (
        "Error: no enabled module contributes peering steps (is authentication on?)\n"
    )


class ApiException(Exception):
    """Shaped like the ``kubernetes`` client's exception."""

    def __init__(self, status: int, reason: str, body: str | None) -> None:
        super().__init__(f"({status}) {reason}")
        self.status, self.reason, self.body = status, reason, body


@dataclass
class Refused:
    error: Exception
    name: str = "authentication"
    phase: PeeringPhase = PeeringPhase.AUTHENTICATION

    def validate(self, ctx: PeeringContext) -> None:
        pass

    def run(self, ctx: PeeringContext) -> None:
        raise self.error

    def undo(self, ctx: PeeringContext) -> None:
        raise self.error


def test_api_errors_become_one_line_step_errors() -> None:
    body = '{"kind": "Status", "message": "tenants is forbidden: User \\"peer\\" cannot create"}'
    with pytest.raises(PeeringError) as caught:
        run_steps([Refused(ApiException(403, "Forbidden", body))], context())
    assert str(caught.value) == (
        "step 'authentication': the API server answered 403 Forbidden: "
        'tenants is forbidden: User "peer" cannot create'
    )
    with pytest.raises(PeeringError, match=r"answered 500 Internal Server Error$"):
        undo_steps([Refused(ApiException(500, "Internal Server Error", "not json"))], context())
    with pytest.raises(ZeroDivisionError):  # bugs are not disguised as API errors
        run_steps([Refused(ZeroDivisionError("x"))], context())


@dataclass
class Keeping(Step):
    """A step whose undo leaves its objects on purpose, and says so."""

    def undo(self, ctx: PeeringContext) -> None:
        super().undo(ctx)
        ctx.outcome = "kept"


def test_undo_reports_what_each_step_actually_did() -> None:
    journal: list[str] = []
    chosen = [Keeping("namespaces", PeeringPhase.NAMESPACES, journal),
              Step("slice", PeeringPhase.RESOURCES, journal)]  # fmt: skip
    ctx = context()
    reported: list[tuple[str, str | None]] = []
    undo_steps(chosen, ctx, lambda step: reported.append((step.name, ctx.outcome)))
    # One step's outcome does not leak into the next one's.
    assert reported == [("slice", None), ("namespaces", "kept")]


def test_plain_unpeer_keeps_the_tenant_namespaces_and_says_so() -> None:
    ctx = context()
    TenantNamespaces().undo(ctx)  # touches no cluster: consumer and provider are None
    assert ctx.outcome == "kept (use --delete-namespaces to remove them)"
