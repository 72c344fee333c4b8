"""Peering steps: what ``liqoctl peer`` / ``unpeer`` run, contributed by the enabled modules.

Each module answers :func:`liqo_core.hookspecs.liqo_peering_steps` with
:class:`PeeringStep` objects; ``peer`` validates them all, then runs them ordered by
:class:`PeeringPhase` (networking, then authentication, then resources); ``unpeer`` undoes
them in the reverse order. Steps talk to both clusters through the synchronous
``kubernetes`` clients in :class:`PeeringContext`, share one deadline and report what
they wait for, so the command can show progress and say why it timed out.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from liqo_core.errors import LiqoError

T = TypeVar("T")

#: Longest pause between two polls of a step waiting for a controller.
MAX_POLL_INTERVAL = 1.0
#: Key of :attr:`PeeringContext.shared` under which a networking step leaves the URL of
#: the proxy that reaches the provider's API server through the tunnel (``--in-band``).
SHARED_PROXY_URL = "proxyURL"


class PeeringPhase(enum.IntEnum):
    """Order of the steps: lower phases run first on ``peer`` and are undone last."""

    NAMESPACES = 0
    """Tenant namespaces: nothing to do on ``peer``; dropped last by ``unpeer``."""
    NETWORKING = 10
    AUTHENTICATION = 20
    RESOURCES = 30


class PeeringError(LiqoError):
    """A step cannot go on; the message says which one and why."""


class PeeringTimeout(PeeringError):
    """The deadline passed while a step waited for a controller."""


@dataclass(frozen=True)
class PeeringOptions:
    """Flags of ``liqoctl peer`` / ``unpeer`` steps may read.

    :param networking_disabled: Skip the networking steps.
    :param in_band: Reach the provider's API server through the network tunnel.
    :param create_resource_slice: Ask the provider for resources.
    :param resource_slice_class: Class of that ResourceSlice ("" = default).
    :param resources: Requested quantities (``cpu``, ``memory``, ``pods``, ...).
    :param create_virtual_node: Ask for a VirtualNode once the slice is accepted.
    :param timeout: Seconds the whole command may wait for the controllers.
    :param skip_validation: Do not run the steps' pre-flight checks.
    :param delete_namespaces: ``unpeer``: drop the tenant namespaces too.
    """

    networking_disabled: bool = False
    in_band: bool = False
    create_resource_slice: bool = True
    resource_slice_class: str = ""
    resources: dict[str, str] = field(default_factory=dict)
    create_virtual_node: bool = True
    timeout: float = 120.0
    skip_validation: bool = False
    delete_namespaces: bool = False


@dataclass
class PeeringContext:
    """Both clusters, the options, the deadline and a progress callback.

    :param consumer: ``kubernetes`` ApiClient of the consumer (the local cluster).
    :param provider: ``kubernetes`` ApiClient of the provider (``--remote-kubeconfig``).
    :param consumer_id: Cluster ID of the consumer.
    :param provider_id: Cluster ID of the provider.
    :param consumer_namespace: Namespace Liqo runs in on the consumer.
    :param provider_namespace: Namespace Liqo runs in on the provider.
    :param shared: Values steps hand to later steps (e.g. a proxy URL for in-band peering).
    :param current_step: Name of the step running now (set by the runner, for progress).
    :param outcome: What the running step did, when not simply what was asked (``kept
        (...)`` for an ``undo`` that leaves things on purpose); reset before each step.
    """

    consumer: Any
    provider: Any
    consumer_id: str
    provider_id: str
    consumer_namespace: str
    provider_namespace: str
    options: PeeringOptions = field(default_factory=PeeringOptions)
    report: Callable[[str], None] = field(default=lambda _message: None)
    shared: dict[str, Any] = field(default_factory=dict)
    deadline: float = 0.0
    current_step: str = ""
    outcome: str | None = None

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = time.monotonic() + self.options.timeout

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def wait(self, what: str, probe: Callable[[], tuple[T | None, str]]) -> T:
        """Poll ``probe`` until it returns a value; it also says what is still missing.

        :param what: What is awaited, shown as progress and in the timeout message.
        :param probe: Returns ``(value, detail)``: ``value`` is None (or empty) until done,
            ``detail`` explains the current state (a condition's reason, "not created yet").
        :raises PeeringTimeout: At the deadline, naming ``what`` and the last ``detail``.
        """
        delay = 0.1
        while True:
            value, detail = probe()
            if value:
                return value
            self.report(f"waiting for {what}" + (f" ({detail})" if detail else ""))
            left = self.remaining()
            if left <= 0:
                why = f": {detail}" if detail else ""
                raise PeeringTimeout(
                    f"timed out after {self.options.timeout:g}s waiting for {what}{why}"
                )
            time.sleep(min(delay, left))  # polling a controller on another cluster
            delay = min(delay * 2, MAX_POLL_INTERVAL)


class PeeringStep(Protocol):
    """One part of a peering, run by ``peer`` and undone by ``unpeer``.

    ``name`` is short and unique (``authentication``, ``resource-slice``); ``phase`` orders
    it. ``validate`` checks prerequisites without changing anything; ``run`` brings the
    step about and must succeed quickly when it is already done; ``undo`` removes what
    ``run`` created and waits until it is gone.
    """

    name: str
    phase: PeeringPhase

    def validate(self, ctx: PeeringContext) -> None:
        """Raise :class:`PeeringError` if the step cannot run."""

    def run(self, ctx: PeeringContext) -> None:
        """Establish this part of the peering (idempotent)."""

    def undo(self, ctx: PeeringContext) -> None:
        """Remove this part of the peering (idempotent)."""


def ordered_steps(contributed: Iterable[Sequence[PeeringStep] | None]) -> list[PeeringStep]:
    """Flatten the modules' answers and order them by phase (stable within a phase)."""
    steps = [step for answer in contributed if answer for step in answer]
    names = [step.name for step in steps]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PeeringError(f"several modules contribute the peering step(s) {duplicates}")
    return sorted(steps, key=lambda step: int(step.phase))


def select_steps(steps: Sequence[PeeringStep], options: PeeringOptions) -> list[PeeringStep]:
    """The steps ``options`` ask for: no networking with ``networking_disabled``.

    :raises PeeringError: ``in_band`` without any networking step to provide the tunnel.
    """
    chosen = [
        step
        for step in steps
        if not (options.networking_disabled and step.phase is PeeringPhase.NETWORKING)
    ]
    networked = any(step.phase is PeeringPhase.NETWORKING for step in chosen)
    if options.in_band and not networked:
        why = (
            "--networking-disabled was given"
            if options.networking_disabled
            else "no enabled module provides networking steps (is the networking module on?)"
        )
        raise PeeringError(f"--in-band needs the network tunnel, but {why}")
    return chosen


def api_error_text(err: BaseException) -> str | None:
    """``<status> <reason>: <message>`` of a ``kubernetes`` client ApiException, else None."""
    status, reason = getattr(err, "status", None), getattr(err, "reason", None)
    if not isinstance(status, int) or not isinstance(reason, str):
        return None
    try:
        message = json.loads(getattr(err, "body", None) or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return f"{status} {reason}" + (f": {message}" if message else "")


def _in_step(ctx: PeeringContext, step: PeeringStep, action: Callable[[], None]) -> None:
    ctx.current_step = step.name
    ctx.outcome = None
    try:
        action()
    except PeeringTimeout as err:
        raise PeeringTimeout(f"step {step.name!r}: {err}") from err
    except LiqoError as err:
        raise PeeringError(f"step {step.name!r}: {err}") from err
    except Exception as err:
        text = api_error_text(err)
        if text is None:
            raise
        raise PeeringError(f"step {step.name!r}: the API server answered {text}") from err


def validate(steps: Sequence[PeeringStep], ctx: PeeringContext) -> None:
    """Run every step's pre-flight checks (unless ``skip_validation``)."""
    if ctx.consumer_id == ctx.provider_id:
        raise PeeringError(f"both clusters have cluster ID {ctx.consumer_id!r}: cannot peer")
    if ctx.options.skip_validation:
        return
    for step in steps:
        _in_step(ctx, step, lambda step=step: step.validate(ctx))  # type: ignore[misc]


def run_steps(
    steps: Sequence[PeeringStep],
    ctx: PeeringContext,
    done: Callable[[PeeringStep], None] = lambda _step: None,
) -> None:
    """Validate, then run ``steps`` in order; ``done`` is called after each one."""
    validate(steps, ctx)
    for step in steps:
        _in_step(ctx, step, lambda step=step: step.run(ctx))  # type: ignore[misc]
        done(step)


def undo_steps(
    steps: Sequence[PeeringStep],
    ctx: PeeringContext,
    done: Callable[[PeeringStep], None] = lambda _step: None,
) -> None:
    """Undo ``steps`` in reverse order; ``done`` is called after each one."""
    if ctx.consumer_id == ctx.provider_id:
        raise PeeringError(f"both clusters have cluster ID {ctx.consumer_id!r}")
    for step in reversed(steps):
        _in_step(ctx, step, lambda step=step: step.undo(ctx))  # type: ignore[misc]
        done(step)
