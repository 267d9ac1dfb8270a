"""Where a table or key sits in a project file's TOML text, for error messages (1-based lines).

Our own scan rather than tomlkit's (used by :mod:`lmtui.project.tomledit`): tomlkit's document
keeps no source positions, and tomllib none either.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=")


def line_of(text: str, section: str | None, key: str | None = None) -> int | None:
    """1-based line of ``key`` inside table ``[section]`` of TOML ``text`` (or of the header).

    ``section`` may be dotted (``model.config_overrides``); keys written dotted in the parent
    table (``config_overrides.hidden_size = 64``) are found too. Returns ``None`` when absent.
    """
    current = ""
    header_line = None
    parent, _, child = (section or "").rpartition(".")
    for number, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if m and not line.lstrip().startswith("[["):
            current = m.group(1).replace('"', "").replace("'", "").replace(" ", "")
            if section and current == section:
                header_line = number
                if key is None:
                    return number
            continue
        km = _KEY.match(line)
        if not km or key is None:
            continue
        name = km.group(1).strip('"')
        if current == (section or "") and name == key:
            return number
        if parent and current == parent and line.split("=")[0].strip() == f"{child}.{key}":
            return number
        if parent and current == parent and name == child and re.search(rf"\b{re.escape(key)}\s*=", line):
            return number
    return header_line
