"""The one reader of the JSON state files lmtui writes and reads back (the queue's state file,
``digests.json``, token-cache ``meta.json`` and ``shards.json``, ``owner.json``, cached tokenizer
folders, the tokenizer preview).

Such a file can be missing, empty, cut short or half-written (a crash, a full disk), or hold a
value of the wrong shape (``[]`` where an object belongs, a string where a pid belongs).
:func:`read_json_state` tells these apart and never hands back a value its ``check`` refused:

- missing: ``None``;
- unreadable, not JSON, or refused by ``check``: :class:`StateError`, naming the file, what it
  is and the fix.

Callers choose what happens next: a cache is rebuilt (:func:`read_json_cache` turns the error
into a warning naming the file and returns ``None``), the queue rebuilds its state from the live
runs (:mod:`lmtui.runs.queue`), and anything that cannot be rebuilt reaches the user as the one
message of the :class:`StateError`.

A ``check`` is a function of the decoded value returning ``None`` when it is valid, else a
phrase saying what is wrong (``"'pid' is a string, not an integer"``); :func:`object_check`
builds one from the keys an object must (or may) hold and their types.

Plain Python at the bottom layer: imports nothing of lmtui but :mod:`lmtui.errors`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lmtui.errors import LmtuiError

Check = Callable[[Any], "str | None"]

_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
               bool: "true or false", type(None): "null"}


class StateError(LmtuiError):
    """A state file lmtui wrote cannot be used: unreadable, not JSON, or of the wrong shape."""


def type_name(value: Any) -> str:
    """The JSON name of ``value``'s type, for messages (``an object``, ``a list``, ...)."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def is_type(value: Any, kinds: type | tuple) -> bool:
    """``isinstance`` without taking a bool for an int (JSON ``true`` is not a pid), and with an int
    accepted where a float is asked for."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, kinds)


def object_check(required: dict[str, type | tuple] | None = None,
                 optional: dict[str, type | tuple] | None = None) -> Check:
    """A check that the value is a JSON object holding every key of ``required`` and, where
    present, every key of ``optional``, each of its type (a type or a tuple of types; ``type(None)``
    allows null). Other keys are allowed."""
    required, optional = dict(required or {}), dict(optional or {})

    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"it holds {type_name(value)} where an object belongs"
        for key, kinds in required.items():
            if key not in value:
                return f"it has no {key!r}"
        for key, kinds in {**optional, **required}.items():
            if key in value and not is_type(value[key], kinds):
                want = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
                return f"{key!r} is {type_name(value[key])} ({value[key]!r:.40}), not {want}"
        return None

    return check


def read_json_state(path: str | os.PathLike, check: Check | None = None, *, what: str, fix: str) -> Any:
    """The decoded JSON of the state file ``path``, or None when the file does not exist.

    Args:
        check: returns None for a valid value, else what is wrong with it (see the module docstring).
        what: what the file is, for the message (``"the queue's state file"``).
        fix: what the user can do about it, for the message.

    Raises:
        StateError: the file cannot be read, is not UTF-8 JSON (empty, cut short, half-written),
            or ``check`` refuses its value; the message names the file and the fix.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"{what} cannot be read: {exc.strerror or exc}", file=str(path), hint=fix) from None
    if not raw.strip():
        raise StateError(f"{what} is empty (cut short by a crash or a full disk?)", file=str(path), hint=fix)
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StateError(f"{what} is not valid JSON (cut short or half-written?): {exc}", file=str(path),
                         hint=fix) from None
    problem = check(value) if check is not None else None
    if problem:
        raise StateError(f"{what} has the wrong shape: {problem}", file=str(path), hint=fix)
    return value


def warn(message: str) -> None:
    """Print ``warning: message`` on stderr (a driver's stderr is its run's train.log)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def read_json_cache(path: str | os.PathLike, check: Check | None = None, *, what: str,
                    rebuild: str = "rebuilding it", on_invalid: Callable[[str], None] | None = None) -> Any:
    """A cache file through :func:`read_json_state`; one that does not validate gives a warning
    naming it (through ``on_invalid``, default :func:`warn`) and None, so the caller rebuilds it.

    Args:
        rebuild: what the caller does instead, for the warning (``"hashing the files again"``).
    """
    try:
        return read_json_state(path, check, what=what, fix=rebuild)
    except StateError as exc:
        (on_invalid or warn)(f"{exc.file}: {exc.message}: {rebuild}")
        return None
