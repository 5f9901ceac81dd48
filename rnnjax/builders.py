"""Cells and memories as values: equal when built by the same builder from the same arguments.

A ``Cell`` or ``Memory`` is a bundle of closures, and two closures are never
equal. A builder decorated with ``@builder`` records how its result was made
(``Call``: the builder and its arguments, defaults filled in and backend
defaults resolved), and the result takes its equality, hash, pickling and
``repr`` from that record:

    rnnjax.cells.lstm(8) == rnnjax.cells.lstm(8)               # True: same builder, same arguments
    pickle.loads(pickle.dumps(cell)) == cell                    # rebuilt by calling the builder again
    jax.jit(f, static_argnums=0)(cell, ...)                     # a rebuilt cell hits the same compiled program

A value not made by a ``@builder`` function (a ``Cell(...)`` written by hand, or
one bound to data such as ``rnnjax.memory.attentive``) equals only itself.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import pickle
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = ["Built", "Call", "builder"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class Call:
    """``builder(*args, **dict(kwargs))``, the call that made a value: ``args`` the
    required arguments, ``kwargs`` those that differ from the builder's defaults (a
    ``None`` that the builder resolves counts as differing, with its resolved value)."""

    builder: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]

    def __repr__(self) -> str:
        shown = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs]
        return f"{self.builder.__name__}({', '.join(shown)})"

    def rebuild(self) -> Any:
        return self.builder(*self.args, **dict(self.kwargs))


def _rebuild(call: Call) -> Any:
    return call.rebuild()


class Built:
    """Equality, hash, pickling and ``repr`` from ``self.built_by`` (a ``Call``, or None:
    then the value equals only itself and cannot be pickled). For frozen dataclasses
    declared with ``eq=False, repr=False`` and a ``built_by`` field."""

    built_by: Call | None

    def __eq__(self, other: object) -> bool:
        if self.built_by is None or type(other) is not type(self) or other.built_by is None:
            return self is other
        return self.built_by == other.built_by

    def __hash__(self) -> int:
        return id(self) if self.built_by is None else hash(self.built_by)

    def __reduce__(self):
        if self.built_by is None:
            raise pickle.PicklingError(f"{self!r} was not made by an @rnnjax.builder function, so it cannot be "
                                       "rebuilt when unpickled")
        return _rebuild, (self.built_by,)

    def __repr__(self) -> str:
        if self.built_by is None:
            return f"{type(self).__name__}({self.name!r})"  # type: ignore[attr-defined]
        return repr(self.built_by)


def builder(fn: F | None = None, *, resolve: Mapping[str, Callable[[], Any]] | None = None) -> F:
    """Decorates a function that returns a ``Cell`` or ``Memory`` so that its results are
    values: equal, hashable and picklable when built from the same arguments.

    ``resolve``: parameter name -> function giving the value that ``None`` stands for
    (``hoist=None`` is the backend's default); it is resolved before the builder runs,
    so the result, its name and its equality do not depend on the backend it is compared
    on. Every argument must be hashable (numbers, strings, tuples, cells, memories,
    functions defined at module level) for the result to be hashable.
    """
    if fn is None:
        return functools.partial(builder, resolve=resolve)  # type: ignore[return-value]
    signature = inspect.signature(fn)
    resolved = dict(resolve or {})

    @functools.wraps(fn)
    def build(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        for name, default in resolved.items():
            if bound.arguments[name] is None:
                bound.arguments[name] = default()
        value = fn(*bound.args, **bound.kwargs)
        return dataclasses.replace(value, built_by=_call(build, signature, bound.arguments))

    return build  # type: ignore[return-value]


def _call(build: Callable[..., Any], signature: inspect.Signature, arguments: Mapping[str, Any]) -> Call:
    args, kwargs = [], []
    for name, parameter in signature.parameters.items():
        value = arguments[name]
        if parameter.kind is parameter.VAR_POSITIONAL:
            args.extend(value)
        elif parameter.default is parameter.empty and parameter.kind is not parameter.KEYWORD_ONLY:
            args.append(value)
        elif not _same(value, parameter.default):
            kwargs.append((name, value))
    return Call(build, tuple(args), tuple(kwargs))


def _same(a: Any, b: Any) -> bool:
    try:
        return a is b or (type(a) is type(b) and bool(a == b))
    except Exception:  # arrays and other values without a plain ==
        return a is b
