"""Level-triggered reconciliation on kopf watch events, with retries.

The module's controllers react to raw watch events (``kopf.on.event``): kopf then stores
nothing on the objects (no progress or last-handled annotations, which for Secrets would
copy their data), and the initial listing at start-up re-reconciles everything. Each call
re-reads the object, so a reconciler always works on the current state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from liqo_core.kube import describe_error

#: Delays between attempts of a failing reconciliation (then the next event retries).
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


class Requeue(Exception):
    """Try again later (something awaited is not there yet); not logged as a failure."""


async def with_retries(
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
    what: str,
    work: Callable[[], Awaitable[None]],
) -> bool:
    """Run ``work`` until it succeeds (``True``), sleeping :data:`RETRY_DELAYS` between attempts.

    Returns ``False`` once the attempts are exhausted.
    """
    for delay in (*RETRY_DELAYS, None):
        try:
            await work()
            return True
        except Requeue as exc:
            if delay is None:
                logger.error("%s: giving up until the next change: %s", what, exc)
                return False
            logger.debug("%s: waiting (%s)", what, exc)
        except Exception as exc:  # a reconciler failing must not stop the controller
            if delay is None:
                logger.error("%s: giving up until the next change: %s", what, describe_error(exc))
                return False
            logger.warning("%s failed: %s", what, describe_error(exc))
        await asyncio.sleep(delay)
    return False  # not reached: the last attempt returns
