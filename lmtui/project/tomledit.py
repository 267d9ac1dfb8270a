"""Change keys of a project file's TOML text in place, keeping its comments and layout.

The edit form writes through these functions: a key that is set is rewritten on its own
line(s); a key that only appears commented out (as in the starter template,
``# vocab_size = 32000``) is uncommented with the new value; otherwise the key is added at
the end of its section, and a missing section is appended. Values are written with the same
TOML writer as frozen projects (:func:`lmtui.project.freeze.toml_value`).
"""

from __future__ import annotations

import re
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from lmtui.project.freeze import toml_value

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\s*(#.*)?$")


def _section_range(lines: list[str], section: str) -> tuple[int, int] | None:
    """(header index, end index exclusive) of ``[section]``, or None."""
    start = None
    for i, line in enumerate(lines):
        m = _HEADER.match(line)
        if not m or line.lstrip().startswith("[["):
            continue
        name = m.group(1).replace('"', "").replace("'", "").replace(" ", "")
        if start is not None:
            return start, i
        if name == section:
            start = i
    return (start, len(lines)) if start is not None else None


def _value_end(lines: list[str], i: int) -> int:
    """Index after the last line of the key/value pair starting at line ``i`` (arrays may span lines)."""
    for j in range(i + 1, len(lines) + 1):
        try:
            tomllib.loads("\n".join(lines[i:j]))
            return j
        except tomllib.TOMLDecodeError:
            continue
    return i + 1


def set_key(text: str, section: str, key: str, value) -> str:
    """``text`` with ``[section] key`` set to ``value``, or removed when ``value`` is None."""
    lines = text.splitlines()
    rng = _section_range(lines, section)
    new_line = None if value is None else f"{key} = {toml_value(value)}"
    if rng is None:
        if new_line is None:
            return text
        body = text.rstrip("\n")
        return (body + "\n\n" if body else "") + f"[{section}]\n{new_line}\n"
    start, end = rng
    set_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    commented_re = re.compile(rf"^\s*#\s*{re.escape(key)}\s*=")
    for i in range(start + 1, end):
        if set_re.match(lines[i]):
            j = _value_end(lines, i)
            lines[i:j] = [] if new_line is None else [new_line]
            return "\n".join(lines) + "\n"
    if new_line is None:
        return text
    for i in range(start + 1, end):
        if commented_re.match(lines[i]):
            lines[i] = new_line
            return "\n".join(lines) + "\n"
    last = end
    while last > start + 1 and not lines[last - 1].strip():
        last -= 1
    lines.insert(last, new_line)
    return "\n".join(lines) + "\n"


def set_name(text: str, name: str) -> str:
    """``text`` with ``[project] name`` set to ``name`` (for duplicating a project)."""
    return set_key(text, "project", "name", name)
