"""A model reference: what a user names a model by, resolved to a model folder.

The one resolver of ``[model] init_from``, ``[distill] teacher`` and ``lmtui eval --model``.
A reference is tried in this order:

1. a path (relative to ``base``, ``~`` expanded): a run directory (its ``model/``) or a model
   folder (a ``config.json`` inside, as written by ``save_pretrained``);
2. a run reference (:func:`lmtui.runs.rundir.find_run`) under ``search_dirs``: a run id, a
   unique prefix of one, or a project name (its latest finished run);
3. a Hugging Face Hub model id (``org/name``), read from the local Hugging Face cache only
   (``huggingface_hub.snapshot_download(repo_id, local_files_only=True)``): lmtui never
   downloads a model, so a check stays fast and offline.

Plain Python and json: no torch. The project file (:mod:`lmtui.project`) keeps only the string.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from lmtui.errors import LmtuiError, ProjectError
from lmtui.project.lines import line_of
from lmtui.project.paths import expand_placeholders, output_dir, project_dir, resolve_path
from lmtui.runs.rundir import RunDir, RunNotFound, find_run

# A Hub model id: ``name`` or ``org/name`` (huggingface_hub's validate_repo_id allows these characters).
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)?")

# Model types whose position ids start at padding_idx + 1 = 2 (transformers'
# RobertaEmbeddings.create_position_ids_from_input_ids), so 2 positions hold no token.
OFFSET_POSITIONS = {"roberta": 2, "xlm-roberta": 2, "camembert": 2}


@dataclass(frozen=True)
class InitSource:
    """Where a model reference led.

    Attributes:
        folder: absolute model folder holding ``config.json`` (and normally the tokenizer).
        origin: how it was found, for messages ("run demo-20261201-101500, the latest finished
            run of project demo", "model folder /models/bert", "Hub model bert-base-uncased (local cache)").
    """

    folder: Path
    origin: str


def run_search_dirs(project) -> list[Path]:
    """Where a project's run references are looked up: its output_dir, then ./runs."""
    dirs = []
    for d in (Path(output_dir(project)), Path.cwd() / "runs"):
        d = d.resolve()
        if d not in dirs:
            dirs.append(d)
    return dirs


def hub_cache_folder(repo_id: str) -> Path | None:
    """The local snapshot folder of Hub model ``repo_id`` (default revision), or None when it is not cached."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError):  # ValueError: huggingface_hub's HFValidationError
        return None


def _run_model(run, ref: str, how: str, name: str, where: dict) -> InitSource:
    model = run.model_dir
    if not (model / "config.json").is_file():
        raise ProjectError(f"{name} {ref!r}: run {run.run_id} ({run.status()}) has no final model "
                           f"({model} is missing)", **where,
                           hint="name a finished run (`lmtui runs --status finished`), or wait for this one to finish")
    return InitSource(model, f"run {run.run_id}{how}")


def resolve_model(ref: str, *, base: str | Path, search_dirs: list[Path], name: str = "init_from",
                  where: dict | None = None) -> InitSource:
    """The model folder ``ref`` names (see the module docstring for the forms).

    Args:
        ref: the reference as the user wrote it.
        base: the folder a relative path is relative to (the project file's folder, or the
            current directory for a command-line option).
        search_dirs: the run folders a run id, prefix or project name is looked up in.
        name: what the messages call the reference (``init_from``, ``teacher``, ``--model``).
        where: file / key / line of the reference for the error (empty for a command-line option).

    Raises:
        ProjectError: a run without a final model, an existing folder that is neither a run nor a
            model, an ambiguous run prefix, or a name that is none of the forms (a Hub id not in
            the local cache included, with how to fetch it).
    """
    where = dict(where or {})
    given = Path(os.path.expanduser(expand_placeholders(ref)))
    path = given if given.is_absolute() else (Path(base) / given).resolve()
    if (path / "run.json").is_file():
        return _run_model(RunDir(path), ref, "", name, where)
    if (path / "config.json").is_file():
        return InitSource(path, f"model folder {path}")
    if path.exists():
        raise ProjectError(f"{name} {ref!r}: {path} is neither a run directory nor a model folder "
                           "(no run.json, no config.json)", **where,
                           hint=f"point {name} at a folder saved with save_pretrained, or at a run directory")
    notes: list[str] = []
    try:
        run = find_run(ref, search_dirs, note=notes.append)
    except RunNotFound:
        run = None
    except LmtuiError as exc:  # an ambiguous prefix, a project without a finished run
        raise ProjectError(f"{name}: {exc.message}", **where, hint=exc.hint) from None
    if run is not None:
        how = f", the latest finished run of project {ref}" if notes else ""
        return _run_model(run, ref, how, name, where)
    if HUB_ID.fullmatch(ref):
        folder = hub_cache_folder(ref)
        if folder is not None and (folder / "config.json").is_file():
            return InitSource(folder, f"Hub model {ref} (local cache)")
        from huggingface_hub import constants

        raise ProjectError(f"{name} {ref!r} is not a model folder ({path} does not exist), a run or a project "
                           f"with runs, and no Hub model {ref!r} is in the local Hugging Face cache "
                           f"({constants.HF_HUB_CACHE})",
                           **where, hint=f"lmtui reads Hub models from the local cache only (no download): fetch it "
                                         f"once with `hf download {ref}` where there is internet, or point "
                                         f"{name} at a model folder or a run")
    raise ProjectError(f"{name} {ref!r} does not exist ({path})", **where,
                       hint=f"point {name} at a model folder saved with save_pretrained, a run (id, prefix or "
                            "directory), a project name or a cached Hub model id")


def resolve_project_model(project, ref: str, key: str, text: str = "") -> InitSource:
    """The model folder of the project key ``key`` (``model.init_from``, ``distill.teacher``)
    whose value is ``ref``: :func:`resolve_model` from the project file's folder and the
    project's run folders (:func:`run_search_dirs`), errors naming the file, the key and its line.

    Raises:
        ProjectError: as :func:`resolve_model`.
    """
    section, _, name = key.rpartition(".")
    where = {"file": project.path or "<project>", "key": key,
             "line": line_of(text, section, name) or line_of(text, section)}
    return resolve_model(ref, base=project_dir(project), search_dirs=run_search_dirs(project), name=name, where=where)


def read_model_config(source: InitSource, where: dict, name: str = "init_from") -> dict:
    """The model's ``config.json`` as a dict.

    Raises:
        ProjectError: the file is unreadable or not a JSON object.
    """
    file = source.folder / "config.json"
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"{name}: cannot read {file}: {exc}", **where,
                           hint=f"point {name} at a folder saved with save_pretrained") from None
    if not isinstance(config, dict):
        raise ProjectError(f"{name}: {file} is not a JSON object", **where,
                           hint=f"point {name} at a folder saved with save_pretrained")
    return config


def model_positions(config: dict) -> int | None:
    """Tokens per sequence the model takes: ``max_position_embeddings`` less the positions
    RoBERTa-style models reserve (:data:`OFFSET_POSITIONS`); None when the config has none."""
    positions = config.get("max_position_embeddings")
    if not isinstance(positions, int):
        return None
    return positions - OFFSET_POSITIONS.get(config.get("model_type", ""), 0)


def frozen_folder(project, ref: str, key: str) -> str:
    """The absolute model folder ``ref`` names now, for a run's frozen project (so the run does
    not follow a newer run of a project it names), or ``ref`` made absolute when it cannot be
    resolved (the check that runs first says why)."""
    try:
        return str(resolve_project_model(project, ref, key).folder)
    except LmtuiError:
        return resolve_path(project, ref)


def resolved_references(project):
    """A copy of ``project`` with ``[model] init_from`` and ``[distill] teacher`` replaced by the
    absolute folders they name now (:func:`frozen_folder`): what a run freezes
    (:func:`lmtui.project.freeze.frozen_text`), so its frozen project.toml is reproducible."""
    import dataclasses

    model, distill = project.model, project.distill
    if model.init_from:
        model = dataclasses.replace(model, init_from=frozen_folder(project, model.init_from, "model.init_from"))
    if distill.teacher:
        distill = dataclasses.replace(distill, teacher=frozen_folder(project, distill.teacher, "distill.teacher"))
    return dataclasses.replace(project, model=model, distill=distill)
