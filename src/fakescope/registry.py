"""One name registry for every plug-in family, in timm's manner.

    DETECTORS = Registry("detector", error=ModelError)

    @DETECTORS.register("resnet18", description="ResNet-18")   # a duplicate name is refused
    def _resnet18(**opts): ...

    DETECTORS.create("resnet18", pretrained=False)   # -> _resnet18(pretrained=False)
    DETECTORS.list("resnet*")                        # -> ["resnet18"] (fnmatch pattern)
    DETECTORS.info("resnet18")                       # -> {"description": "ResNet-18"}

Each family wraps one of these in its timm-like pair ``create_X(name, **opts)`` /
``list_X(pattern=None)`` and registers its built-ins when its package is imported (the package
``__init__`` imports the modules that hold them).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from fakescope.errors import ConfigError, FakescopeError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> objects (builders, classes, functions) with free-form info per name.

    Args:
        kind: what the names name, for messages (``"detector"``, ``"loss"``).
        error: the :class:`~fakescope.errors.FakescopeError` raised for an unknown name.
        also: names outside the registry the family accepts, for the unknown-name hint
            (``"timm:<model>"``).
    """

    def __init__(self, kind: str, *, error: type[FakescopeError] = ConfigError, also: str = ""):
        self.kind, self.error, self.also = kind, error, also
        self._objects: dict[str, T] = {}
        self._info: dict[str, dict[str, Any]] = {}

    def add(self, name: str, obj: T, **info: Any) -> T:
        """Register ``obj`` under ``name``; a name already taken raises ValueError."""
        if name in self._objects:
            old = self._objects[name]
            where = f"{getattr(old, '__module__', '?')}.{getattr(old, '__qualname__', old)}"
            raise ValueError(f"{self.kind} {name!r} is already registered (by {where}); "
                             "register it under another name")
        self._objects[name] = obj
        self._info[name] = dict(info)
        return obj

    def register(self, name: str, **info: Any) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: ``@reg.register("name", description=...)``."""

        def deco(obj: T) -> T:
            return self.add(name, obj, **info)

        return deco

    def get(self, name: str) -> T:
        """The object registered as ``name``; an unknown name raises ``self.error`` listing
        the known ones."""
        if name not in self._objects:
            raise self.unknown(name)
        return self._objects[name]

    def info(self, name: str) -> dict[str, Any]:
        """A copy of the info given at registration (``{}`` if none)."""
        self.get(name)
        return dict(self._info[name])

    def create(self, name: str, **opts: Any) -> Any:
        """Call the object registered as ``name`` with ``opts`` (a builder or a class)."""
        return self.get(name)(**opts)  # type: ignore[operator]

    def list(self, pattern: str | None = None) -> list[str]:
        """Registered names, sorted; ``pattern`` keeps those matching it (fnmatch: ``*``,
        ``?``, ``[ab]``; case-sensitive), as timm's ``list_models("resnet*")``."""
        names = sorted(self._objects)
        if pattern is None:
            return names
        return [n for n in names if fnmatch.fnmatchcase(n, pattern)]

    def unknown(self, name: str) -> FakescopeError:
        """The error for an unknown ``name``: it names it and lists the known names."""
        known = ", ".join(sorted(self._objects)) or "(none registered)"
        also = f" or {self.also}" if self.also else ""
        return self.error(f"unknown {self.kind} {name!r}", hint=f"choose one of {known}{also}")

    def __contains__(self, name: object) -> bool:
        return name in self._objects

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._objects)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} names)"
