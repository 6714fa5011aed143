"""One small name registry, used for models, clip sources and output writers.

A registry maps a name to a factory. Built-in entries register themselves when their
module is imported (``@REGISTRY.register("name")``); third-party packages add entries
through a Python entry-point group (e.g. ``hurricane_ode.models``), loaded on first
lookup. A duplicate name is refused with :class:`~hurricane_ode.errors.RegistryError`;
so is an unknown one, with the list of known names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from hurricane_ode.errors import RegistryError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> factories of one kind.

    Parameters
    ----------
    kind
        What the entries are, for messages (``"model"``, ``"clip source"``, ``"writer"``).
    entry_point_group
        Entry-point group scanned once for third-party entries, or None.
    builtin_modules
        Modules imported before the first lookup so that their decorators run.
    """

    def __init__(
        self, kind: str, entry_point_group: str | None = None, builtin_modules: Iterable[str] = ()
    ) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._builtin_modules = tuple(builtin_modules)
        self._entries: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated factory under ``name``."""

        def deco(factory: T) -> T:
            self.add(name, factory)
            return factory

        return deco

    def add(self, name: str, factory: T) -> None:
        """Register ``factory`` under ``name``; a name already taken raises :class:`RegistryError`."""
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if name in self._entries and self._entries[name] is not factory:
            raise RegistryError(f"{self.kind} name '{name}' is already registered")
        self._entries[name] = factory

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._builtin_modules:
            importlib.import_module(module)
        if self.entry_point_group is None:
            return
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._entries:
                self.add(ep.name, ep.load())

    def get(self, name: str) -> T:
        """The factory registered as ``name``; unknown names raise :class:`RegistryError`."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(
                f"unknown {self.kind} '{name}'; available: {', '.join(sorted(self._entries)) or 'none'}"
            ) from None

    def names(self) -> list[str]:
        """Sorted registered names (built-ins and entry points included)."""
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
