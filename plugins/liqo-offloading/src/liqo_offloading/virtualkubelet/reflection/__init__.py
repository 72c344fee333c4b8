"""Reflection of local objects to the provider (see :mod:`.framework`).

:data:`REFLECTORS` lists the reflected kinds: adding one is a module with a
:class:`~.framework.Reflector` subclass and one line here.
"""

from __future__ import annotations

from liqo_offloading.virtualkubelet.reflection.framework import Reflector
from liqo_offloading.virtualkubelet.reflection.pods import PodReflector

#: The reflected kinds, in start order.
REFLECTORS: tuple[type[Reflector], ...] = (PodReflector,)

__all__ = ["REFLECTORS"]
