"""The project file's sections, one dataclass each, declared in the modules of this folder.

Each field is made with :func:`key`: its ``metadata`` holds the documentation (``doc``) and,
where the value is one of a closed set or a range, its ``choices``, ``minimum`` and
``maximum``. :mod:`lmtui.project.schema` lists them all; nothing registers itself.

- :mod:`.core`: [project], [corpus], [tokenizer], [model], [training], [hardware]
- :mod:`.eval`: [eval] and its fine-tuning task tables
- :mod:`.hub`: [hub]
"""

from __future__ import annotations

from dataclasses import field
from typing import Any


def key(default: Any, doc: str, *, choices: tuple | None = None, minimum: float | None = None,
        maximum: float | None = None, factory=None):
    """A documented project key: default value, one-line meaning, optional allowed values/range."""
    meta = {"doc": doc, "choices": choices, "minimum": minimum, "maximum": maximum}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)
