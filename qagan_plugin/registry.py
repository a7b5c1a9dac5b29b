"""Name -> object registries with mmengine-like semantics and entry-point discovery.

::

    from qagan_plugin.registry import REGULARIZERS

    @REGULARIZERS.register("my_penalty")
    class MyPenalty(Regularizer): ...

    REGULARIZERS.build("my_penalty", weight=2.0)

Registering a taken name raises (pass ``force=True`` to replace); looking up an
unknown name raises a ``KeyError`` that lists the available names and the
closest match. Third-party packages register through entry points: a package
declaring, in its ``setup.py``::

    entry_points={"qagan_plugin.regularizers": ["my_penalty = my_pkg.penalties:MyPenalty"]}

is found on the first lookup, without importing it earlier.
"""
import difflib
import warnings
from importlib import metadata
from typing import Any, Callable, Dict, List, Optional


class Registry:
    """A registry of named objects (classes or factories).

    Args:
        kind: what is registered, for messages (``"recipe"``).
        entry_point_group: the ``importlib.metadata`` group scanned once, lazily.
    """

    def __init__(self, kind: str, entry_point_group: Optional[str] = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._objects: Dict[str, Any] = {}
        self._discovered = entry_point_group is None

    def register(self, name: Optional[str] = None, obj: Any = None, force: bool = False):
        """Register ``obj`` under ``name``; without ``obj`` return a decorator."""
        if obj is None:
            def decorator(target):
                self.register(name, target, force)
                return target
            return decorator
        key = name if name is not None else getattr(obj, "__name__", None)
        if not isinstance(key, str) or not key:
            raise ValueError(f"{self.kind} registry: expected a non-empty string name, got {key!r}")
        if key in self._objects and not force and self._objects[key] is not obj:
            raise KeyError(f"{self.kind} {key!r} is already registered (by {self._describe(self._objects[key])}); "
                           f"pass force=True to replace it")
        self._objects[key] = obj
        return obj

    def _describe(self, obj) -> str:
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        for ep in metadata.entry_points(group=self.entry_point_group):
            if ep.name in self._objects:
                continue  # built-ins and explicit registrations win over plugins
            try:
                self._objects[ep.name] = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                warnings.warn(f"{self.kind} plugin {ep.name!r} ({ep.value}) from entry-point group "
                              f"{self.entry_point_group!r} failed to load: {exc}", RuntimeWarning)

    def get(self, name: str) -> Any:
        self._discover()
        if name not in self._objects:
            avail = self.available()
            close = difflib.get_close_matches(str(name), avail, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}; available: {', '.join(avail) or '(none)'}{hint}")
        return self._objects[name]

    def build(self, name: str, *args, **kwargs) -> Any:
        factory: Callable = self.get(name)
        return factory(*args, **kwargs)

    def available(self) -> List[str]:
        self._discover()
        return sorted(self._objects)

    def items(self):
        self._discover()
        return sorted(self._objects.items())

    def __contains__(self, name: str) -> bool:
        self._discover()
        return name in self._objects

    def __len__(self) -> int:
        self._discover()
        return len(self._objects)

    def __repr__(self) -> str:
        return f"Registry(kind={self.kind!r}, names={self.available()})"


REGULARIZERS = Registry("regularizer", "qagan_plugin.regularizers")
RECIPES = Registry("recipe", "qagan_plugin.recipes")
