"""Registries: one per kind (cells, memories, tasks, models), name -> builder.

A builder's parameters with defaults are its *options*: their names (or the
flag names given at registration), types and defaults come from its signature,
so config validation, CLI flags and ``--help`` follow from registering it:

    CELLS.register("lstm", lstm)                                  # options forget_bias, hoist
    MEMORIES.register("stack", stack, options={"memory_width": "width"})

Parameters without defaults are supplied by the caller (e.g. a cell's hidden size).
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["Entry", "Option", "Registry", "check_value"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of an entry: flag name, the builder's parameter, its type and default."""

    flag: str
    parameter: str
    hint: Any
    default: Any


@dataclasses.dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    build: Callable[..., T]
    options: Mapping[str, Option]
    """flag name -> Option"""
    doc: str

    def defaults(self) -> dict[str, Any]:
        return {flag: o.default for flag, o in self.options.items()}

    def __call__(self, *args, **options) -> T:
        """Builds with ``options`` given by flag name (missing ones take their defaults)."""
        unknown = set(options) - set(self.options)
        if unknown:
            raise ValueError(f"{self.name} takes no option {sorted(unknown)}; its options: {sorted(self.options)}")
        kwargs = {self.options[k].parameter: v for k, v in (self.defaults() | options).items()}
        return self.build(*args, **kwargs)


class Registry(Generic[T]):
    """Name -> Entry for one kind of thing; unknown names are errors that list the choices."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, build: Callable[..., T], *, options: Mapping[str, str] | None = None,
                 doc: str | None = None, replace: bool = False) -> Callable[..., T]:
        """Adds ``build`` under ``name``. ``options``: flag name -> parameter name, to expose
        only (or rename) some parameters; default: every parameter with a plain default
        (a number, string, bool, tuple or None) and a type other than ``Any`` (so a cell's
        ``dtype`` and initialisers are arguments for code, not config fields), under its
        own name. Returns ``build``, so it can be used as a decorator's body."""
        if name in self._entries and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        signature = inspect.signature(build)
        hints = _hints(build)
        defaulted = {p.name: p for p in signature.parameters.values()
                     if p.default is not inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD}
        renames = options if options is not None else {
            p: p for p, v in defaulted.items() if _plain(v.default) and hints.get(p) is not Any}
        table = {}
        for flag, parameter in renames.items():
            if parameter not in defaulted:
                raise ValueError(f"{self.kind} {name!r}: option {flag!r} needs a parameter {parameter!r} "
                                 "with a default")
            table[flag] = Option(flag, parameter, hints.get(parameter, type(defaulted[parameter].default)),
                                 defaulted[parameter].default)
        summary = doc if doc is not None else (inspect.getdoc(build) or "").split("\n\n")[0].replace("\n", " ")
        self._entries[name] = Entry(name, build, table, summary)
        return build

    def remove(self, name: str) -> None:
        self[name]  # an unknown name is an error
        del self._entries[name]

    def __getitem__(self, name: str) -> Entry[T]:
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; choices: {', '.join(self.names())}")
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self):
        return iter(self._entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def entries(self) -> tuple[Entry[T], ...]:
        return tuple(self._entries.values())

    def option_flags(self) -> dict[str, list[Entry[T]]]:
        """flag -> the entries that take it (one flag has one type across entries)."""
        flags: dict[str, list[Entry[T]]] = {}
        for entry in self._entries.values():
            for flag in entry.options:
                flags.setdefault(flag, []).append(entry)
        return flags


def _plain(value) -> bool:
    """Values a config file and a command line can hold."""
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def check_value(name: str, hint: Any, value: Any) -> Any:
    """``value`` as an option of type ``hint`` (JSON lists become tuples, ints become
    floats where floats are asked for), or a ValueError naming ``name`` and what it takes."""
    if isinstance(value, list):
        value = tuple(value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        if value in args:
            return value
        raise ValueError(f"{name} must be one of {args}, got {value!r}")
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return check_value(name, option, value)
            except ValueError:
                continue
        raise ValueError(f"{name} must be {_describe(hint)}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, tuple):
            raise ValueError(f"{name} must be a tuple of {_describe(args[0])}, got {value!r}")
        return tuple(check_value(name, args[0], v) for v in value)
    if hint is type(None):
        if value is None:
            return None
    elif hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    elif hint in (int, str, bool) and type(value) is hint:
        return value
    elif hint is Any:
        return value
    raise ValueError(f"{name} must be {_describe(hint)}, got {value!r}")


def _describe(hint: Any) -> str:
    if hint is type(None):
        return "None"
    return getattr(hint, "__name__", str(hint))


def _hints(build: Callable) -> dict[str, Any]:
    target = build.func if hasattr(build, "func") else build  # functools.partial
    try:
        return typing.get_type_hints(target)
    except (NameError, TypeError):
        return {}
