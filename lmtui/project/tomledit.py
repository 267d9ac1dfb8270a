"""Change keys of a project file's TOML text in place, keeping its comments and layout.

The edit form writes through these functions, on `tomlkit <https://tomlkit.readthedocs.io>`_'s
style-preserving document model: a key that is set gets its new value where it stands (its
inline comment kept; an array that spans lines is replaced whole); a key that only appears
commented out in its table (as in the starter template, ``# vocab_size = 32000``) is
uncommented with the new value; otherwise the key is added at the end of its table, and a
missing table is appended. Values are written with the same TOML writer as frozen projects
(:func:`lmtui.project.freeze.toml_value`), so an edited file and a frozen project spell a value
alike. Line numbers for messages come from :mod:`lmtui.project.lines` (tomlkit keeps none).
"""

from __future__ import annotations

import re

import tomlkit
from tomlkit.container import Container
from tomlkit.items import Comment, Item, Table

from lmtui.project.freeze import toml_value


def _item(value) -> Item:
    """``value`` as a tomlkit item spelled by :func:`toml_value` (inline tables, ``inf``, escapes)."""
    return tomlkit.parse(f"v = {toml_value(value)}\n").item("v")


def _path(section: str | tuple[str, ...]) -> tuple[str, ...]:
    """Table names of ``section``: ``"eval.tasks.glue sst2"`` -> ``("eval", "tasks", "glue sst2")``.

    A tuple is taken as is (for a table name that itself holds a dot).
    """
    return tuple(section) if isinstance(section, tuple) else tuple(section.split("."))


def _find(doc: tomlkit.TOMLDocument, path: tuple[str, ...]):
    """The table at ``path`` in ``doc``, or None when a part is missing or is not a table."""
    node = doc
    for name in path:
        if not hasattr(node, "get") or name not in node:
            return None
        node = node[name]
    return node if hasattr(node, "get") else None


def _commented(table, key: str) -> Comment | None:
    """The comment line ``# key = ...`` directly in ``table``'s body, or None."""
    container = table.value if isinstance(table, Table) else table
    if not isinstance(container, Container):
        return None
    pattern = re.compile(rf"#\s*{re.escape(key)}\s*=")
    for name, item in container.body:
        if name is None and isinstance(item, Comment) and pattern.match(item.trivia.comment):
            return item
    return None


def set_key(text: str, section: str | tuple[str, ...], key: str, value) -> str:
    """``text`` with ``[section] key`` set to ``value``, or removed when ``value`` is None.

    ``section`` is a dotted table name (``"training"``, ``"eval.tasks.glue sst2"``) or a tuple
    of names. ``text`` must be valid TOML, and a missing table's parent must be a table
    (raises :class:`tomlkit.exceptions.TOMLKitError` otherwise); removing a key or table that
    is absent returns ``text`` unchanged.
    """
    doc = tomlkit.parse(text)
    path = _path(section)
    table = _find(doc, path)
    if value is None:
        if table is None or key not in table:
            return text
        del table[key]
        return tomlkit.dumps(doc)
    name = tomlkit.key(key).as_string()
    if table is None:
        # A new table goes at the end of the file, a blank line before it (TOML allows
        # ``[eval.tasks.b]`` anywhere after ``[eval.tasks.a]``); parsing the result rejects a
        # parent that is a value rather than a table.
        header = tomlkit.key(list(path)).as_string()
        body = text.rstrip("\n")
        out = (body + "\n\n" if body else "") + f"[{header}]\n{name} = {toml_value(value)}\n"
        tomlkit.parse(out)
        return out
    if key in table:
        table[key] = _item(value)
        return tomlkit.dumps(doc)
    comment = _commented(table, key)
    if comment is not None:
        # Keep the line where the template put it: the comment becomes the key's line; the
        # text is parsed again so what is returned is checked TOML.
        comment.trivia.comment = f"{name} = {toml_value(value)}"
        out = tomlkit.dumps(doc)
        tomlkit.parse(out)
        return out
    table[key] = _item(value)
    return tomlkit.dumps(doc)


def set_name(text: str, name: str) -> str:
    """``text`` with ``[project] name`` set to ``name`` (for duplicating a project)."""
    return set_key(text, "project", "name", name)
