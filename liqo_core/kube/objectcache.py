"""The local copy an informer keeps: objects by ``namespace/name``, with named indexes.

As client-go's ``cache.Indexer``: an index function maps an object to the values it is
filed under (a namespace, a label's value, an owner...), and :meth:`ObjectCache.by_index`
answers "every object filed under this value" without a scan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

JSONObject = dict[str, Any]
IndexFunc = Callable[[JSONObject], Iterable[str]]
"""Values an object is filed under in one index (none: not in that index)."""

NAMESPACE_INDEX = "namespace"


def object_key(obj: Mapping[str, Any]) -> str:
    """``namespace/name``, or ``name`` for a cluster-scoped object."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])


def split_key(key: str) -> tuple[str | None, str]:
    """``(namespace, name)`` of a key (namespace ``None`` for cluster-scoped objects)."""
    namespace, _, name = key.rpartition("/")
    return (namespace or None), name


def by_namespace(obj: JSONObject) -> list[str]:
    """Index function: the object's namespace."""
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


def by_label(label: str) -> IndexFunc:
    """Index function: the value of label ``label`` (objects without it are not indexed)."""

    def index(obj: JSONObject) -> list[str]:
        value = ((obj.get("metadata") or {}).get("labels") or {}).get(label)
        return [value] if value is not None else []

    return index


class ObjectCache(Mapping[str, JSONObject]):
    """Objects by key, read-only for consumers (the informer writes it).

    ``cache[key]``, ``cache.get(key)``, ``len(cache)``, ``cache.values()`` work as on a
    mapping; treat the objects as immutable (they are shared with every consumer).
    """

    def __init__(self, indexes: Mapping[str, IndexFunc] | None = None) -> None:
        self._objects: dict[str, JSONObject] = {}
        self._funcs: dict[str, IndexFunc] = {NAMESPACE_INDEX: by_namespace}
        self._indexes: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        for name, func in (indexes or {}).items():
            self.add_index(name, func)

    def __getitem__(self, key: str) -> JSONObject:
        return self._objects[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._objects)

    def __len__(self) -> int:
        return len(self._objects)

    def add_index(self, name: str, func: IndexFunc) -> None:
        """Maintain index ``name`` with ``func`` (objects already cached are filed too)."""
        if name in self._funcs and self._funcs[name] is not func:
            raise ValueError(f"index {name!r} exists already")
        self._funcs[name] = func
        index = self._indexes[name] = {}
        for key, obj in self._objects.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)

    def by_index(self, name: str, value: str) -> list[JSONObject]:
        """The objects filed under ``value`` in index ``name``."""
        keys = self._index(name).get(value, ())
        return [self._objects[key] for key in sorted(keys)]

    def index_keys(self, name: str, value: str) -> list[str]:
        """The keys of the objects filed under ``value`` in index ``name``."""
        return sorted(self._index(name).get(value, ()))

    def index_values(self, name: str) -> list[str]:
        """The values index ``name`` has objects under."""
        return sorted(self._index(name))

    def _index(self, name: str) -> dict[str, set[str]]:
        try:
            return self._indexes[name]
        except KeyError:
            raise KeyError(f"no index {name!r}") from None

    # Writes (the informer's).

    def upsert(self, obj: JSONObject) -> JSONObject | None:
        """Store ``obj``; returns the object it replaced, if any."""
        key = object_key(obj)
        old = self._objects.get(key)
        if old is not None:
            self._unfile(key, old)
        self._objects[key] = obj
        for name, func in self._funcs.items():
            for value in func(obj):
                self._indexes[name].setdefault(value, set()).add(key)
        return old

    def remove(self, key: str) -> JSONObject | None:
        """Forget ``key``; returns the object it held, if any."""
        old = self._objects.pop(key, None)
        if old is not None:
            self._unfile(key, old)
        return old

    def _unfile(self, key: str, obj: JSONObject) -> None:
        for name, func in self._funcs.items():
            index = self._indexes[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
