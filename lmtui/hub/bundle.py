"""What a push uploads, and the dry-run folder that shows it.

A :class:`Bundle` is the exact list of files of a push: the final model's files (read in
place from ``<run>/model``), the generated ``README.md`` and ``loss_curve.png`` (bytes in
memory), and, when asked, the checkpoints and the event log. ``lmtui push --dry-run`` writes
the same list to a folder with :meth:`Bundle.write`, so what a user inspects offline is
what would be uploaded, byte for byte.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lmtui.errors import LmtuiError
from lmtui.fsutil import atomic_folder
from lmtui.hub import card as cardlib
from lmtui.runs.rundir import RunDir

EVENTS_IN_REPO = "lmtui/events.jsonl"


@dataclass
class BundleFile:
    """One file of the upload: its path in the repository and either a source file or bytes."""

    path_in_repo: str
    source: Path | None = None
    data: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.source.stat().st_size  # type: ignore[union-attr]

    @property
    def generated(self) -> bool:
        return self.data is not None


@dataclass
class Bundle:
    """The files of one push of ``run`` to ``repo_id``."""

    run: RunDir
    repo_id: str
    files: list[BundleFile] = field(default_factory=list)
    card: str = ""

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def listing(self) -> list[tuple[str, int]]:
        """(path in repo, size) of every file, in upload order."""
        return [(f.path_in_repo, f.size) for f in self.files]

    def write(self, folder: str | os.PathLike) -> Path:
        """Write every file of the bundle under ``folder`` (replacing an earlier dry-run there).

        The folder is written beside its final name and renamed at the end, so an interrupted
        dry-run never leaves a half-written folder under the final name.

        Raises:
            LmtuiError: ``folder`` exists and is not an earlier dry-run folder (a file, or a
                folder with other content than a README.md-led bundle).
        """
        target = Path(folder).resolve()
        if target.exists() and not _is_previous_bundle(target):
            raise LmtuiError("the dry-run folder exists and is not an earlier dry-run", file=str(target),
                             hint="choose another folder with --out, or remove that one")
        with atomic_folder(target, f".{target.name}.tmp") as tmp:
            for f in self.files:
                dest = tmp / f.path_in_repo
                dest.parent.mkdir(parents=True, exist_ok=True)
                if f.data is not None:
                    dest.write_bytes(f.data)
                else:
                    shutil.copyfile(f.source, dest)  # type: ignore[arg-type]
        return target


def _is_previous_bundle(folder: Path) -> bool:
    return folder.is_dir() and (not any(folder.iterdir()) or (folder / "README.md").is_file())


def _files_under(folder: Path, prefix: str) -> list[BundleFile]:
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        out.append(BundleFile(f"{prefix}{rel.as_posix()}", source=path))
    return out


def build_bundle(run: RunDir, hub, repo_id: str) -> Bundle:
    """The files a push of ``run`` to ``repo_id`` uploads, with the model card rendered.

    Args:
        run: the run directory; its ``model/`` must hold a saved model.
        hub: the publish settings (:class:`lmtui.project.sections.hub.HubSection`, overrides applied).
        repo_id: the target repository, used in the card's usage snippet.

    Raises:
        LmtuiError: the run has no final model.
    """
    if not (run.model_dir / "config.json").is_file():
        raise LmtuiError("the run has no final model to publish (model/config.json is missing)", file=str(run.path),
                         hint="finish the run first (`lmtui run` resumes it); only finished pretraining writes model/")
    bundle = Bundle(run=run, repo_id=repo_id)
    model_files = [f for f in _files_under(run.model_dir, "") if f.path_in_repo not in ("README.md", cardlib.CURVE_FILE)]
    extra: list[BundleFile] = []
    if getattr(hub, "include_checkpoints", False):
        for step, path in run.checkpoints():
            extra += _files_under(path, f"checkpoints/step-{step}/")
    if getattr(hub, "include_events", False) and run.events_file.is_file():
        extra.append(BundleFile(EVENTS_IN_REPO, source=run.events_file))

    facts = cardlib.collect(run)
    model_name = getattr(hub, "model_name", "") or repo_id.split("/")[-1]
    curve = cardlib.loss_curve_png(facts, title=f"{model_name}: masked LM loss")
    generated = [BundleFile(cardlib.CURVE_FILE, data=curve)] if curve else []
    others = model_files + generated + extra
    text = cardlib.render_card(facts, hub, repo_id, files=[(f.path_in_repo, f.size) for f in others],
                               has_curve=bool(curve))
    bundle.card = text
    bundle.files = [BundleFile("README.md", data=text.encode("utf-8"))] + others
    return bundle
