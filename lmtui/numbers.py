"""Every number a user gives lmtui, checked in one place: finite, whole where it must be, in range.

- :func:`range_problem`: the project loader's check of a key's value against its declared
  ``minimum``/``maximum`` (:mod:`lmtui.project.load`), and of the keys it checks by hand
  (``[corpus.sources.*] weight`` and ``epochs``): finiteness first, since every comparison with
  ``nan`` is False (``float("nan") <= 0`` passes a plain ``<= 0`` test).
- :func:`option`: the argparse ``type=`` of numeric command-line options (``--samples``,
  ``--nodes``, ...): argparse then names the option and exits 2 (``argument --samples: -3 is
  below the minimum 0``).
- :func:`env_number`: numeric environment variables (``LMTUI_SLOTS``).

Plain Python at the bottom layer.
"""

from __future__ import annotations

import argparse
import math
import os

from lmtui.errors import LmtuiError


def range_problem(value: float, minimum: float | None = None, maximum: float | None = None) -> str | None:
    """What is wrong with ``value`` (None when it is a finite number within [minimum, maximum])."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{value!r} is not a number"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} is not a finite number"
    if minimum is not None and value < minimum:
        return f"{value!r} is below the minimum {minimum:g}"
    if maximum is not None and value > maximum:
        return f"{value!r} is above the maximum {maximum:g}"
    return None


def parse_number(text: str, kind: type = int, minimum: float | None = None, maximum: float | None = None) -> int | float:
    """``text`` as an ``int`` or a finite ``float`` within the range.

    Raises:
        ValueError: not a number of that kind, not finite, or out of range (the message says which).
    """
    text = text.strip()
    try:
        value = int(text) if kind is int else float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
    problem = range_problem(value, minimum, maximum)
    if problem:
        raise ValueError(problem)
    return value


def option(kind: type = int, minimum: float | None = None, maximum: float | None = None):
    """An argparse ``type=`` for a numeric option: :func:`parse_number`, its error an
    ``argparse.ArgumentTypeError`` (argparse names the option and exits with code 2)."""

    def parse(text: str):
        try:
            return parse_number(text, kind, minimum, maximum)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = "whole number" if kind is int else "number"
    return parse


def env_number(name: str, default: int | float, kind: type = int, minimum: float | None = None,
               maximum: float | None = None) -> int | float:
    """The numeric environment variable ``name`` (``default`` when unset or empty).

    Raises:
        LmtuiError: it is not a number of ``kind``, not finite, or out of range, naming the variable.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return parse_number(text, kind, minimum, maximum)
    except ValueError as exc:
        low = f" of at least {minimum:g}" if minimum is not None else ""
        raise LmtuiError(f"{name}={text!r}: {exc}", hint=f"set {name} to a {'whole ' if kind is int else ''}number"
                         f"{low}, e.g. {name}={default}, or unset it") from None
