"""The project file's schema: every section, its keys, defaults and meanings, in one static table.

The sections are dataclasses declared in :mod:`lmtui.project.sections`. The loader
(:mod:`lmtui.project.load`) validates a parsed TOML table against them, and the README's key
reference is generated from them (``lmtui keys``), so the documentation and the validation
cannot drift apart. The order of :data:`SECTIONS` is the order of the key reference and of
frozen projects.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from lmtui.project.sections.core import (CorpusSection, HardwareSection, ModelSection, ProjectSection, TokenizerSection,
                                         TrainingSection)
from lmtui.project.sections.distill import DistillSection
from lmtui.project.sections.eval import EvalSection
from lmtui.project.sections.hub import HubSection
from lmtui.project.sections.sweep import SweepSection
from lmtui.project.sections.tracking import TrackingSection

SECTIONS: dict[str, type] = {
    "project": ProjectSection,
    "corpus": CorpusSection,
    "tokenizer": TokenizerSection,
    "model": ModelSection,
    "training": TrainingSection,
    "distill": DistillSection,
    "hardware": HardwareSection,
    "eval": EvalSection,
    "hub": HubSection,
    "sweep": SweepSection,
    "tracking": TrackingSection,
}


@dataclass
class Project:
    """A loaded, validated project.

    Attributes:
        path: absolute path of the project file (``None`` for a project built in memory).
        raw: the TOML table as parsed, for freezing into a run directory.
        project, corpus, tokenizer, model, training, hardware, eval, hub: the sections.
    """

    path: str | None
    raw: dict
    project: ProjectSection
    corpus: CorpusSection
    tokenizer: TokenizerSection
    model: ModelSection
    training: TrainingSection
    distill: DistillSection
    hardware: HardwareSection
    eval: EvalSection
    hub: HubSection
    sweep: SweepSection
    tracking: TrackingSection

    def section(self, name: str):
        """The section object called ``name`` (a key of :data:`SECTIONS`)."""
        return getattr(self, name)


def section_keys(cls: type) -> list[tuple[str, Any, str, tuple | None]]:
    """(name, default, doc, choices) of every key of a section class, in file order."""
    out = []
    for f in fields(cls):
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        out.append((f.name, default, f.metadata.get("doc", ""), f.metadata.get("choices")))
    return out
