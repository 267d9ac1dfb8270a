"""``[model] init_from``: the model a run continues pretraining from, and the checks against it.

``init_from`` takes what a user has in hand, tried in this order:

1. a path (relative to the project file, ``~`` expanded): a run directory (its ``model/``) or a
   model folder (a ``config.json`` inside, as written by ``save_pretrained``);
2. a run reference (:func:`lmtui.runs.rundir.find_run`) under the project's ``output_dir`` and
   ``./runs``: a run id, a unique prefix of one, or a project name (its latest finished run);
3. a Hugging Face Hub model id (``org/name``), read from the local Hugging Face cache only
   (``huggingface_hub.snapshot_download(repo_id, local_files_only=True)``): lmtui never
   downloads a model, so a check stays fast and offline.

The loaded model's ``config.json`` wins over the project: :func:`check_against_model` refuses
the keys it would silently override (``[model] size`` and ``config_overrides``, the
``[tokenizer]`` training keys, an ``architecture`` other than the model's) and a
``max_seq_length`` longer than the model's positions. Plain Python and json: no torch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from lmtui.errors import LmtuiError, ProjectError
from lmtui.project.lines import line_of
from lmtui.project.paths import output_dir, resolve_path

# A Hub model id: ``name`` or ``org/name`` (huggingface_hub's validate_repo_id allows these characters).
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)?")

# Model types whose position ids start at padding_idx + 1 = 2 (transformers'
# RobertaEmbeddings.create_position_ids_from_input_ids), so 2 positions hold no token.
OFFSET_POSITIONS = {"roberta": 2, "xlm-roberta": 2, "camembert": 2}

# Keys that shape a new model or train a new tokenizer: ignored when a model is loaded.
SHAPE_KEYS = (("model", "size"), ("model", "config_overrides"))
TOKENIZER_TRAINING_KEYS = ("kind", "vocab_size", "min_frequency", "lowercase", "max_training_documents",
                           "max_training_bytes")


@dataclass(frozen=True)
class InitSource:
    """Where ``init_from`` led.

    Attributes:
        folder: absolute model folder holding ``config.json`` (and normally the tokenizer).
        origin: how it was found, for messages ("run demo-20261201-101500, the latest finished
            run of project demo", "model folder /models/bert", "Hub model bert-base-uncased (local cache)").
    """

    folder: Path
    origin: str


def _where(project, text: str) -> dict:
    return {"file": project.path or "<project>", "key": "model.init_from",
            "line": line_of(text, "model", "init_from")}


def _run_model(run, ref: str, how: str, where: dict) -> InitSource:
    model = run.model_dir
    if not (model / "config.json").is_file():
        raise ProjectError(f"init_from {ref!r}: run {run.run_id} ({run.status()}) has no final model "
                           f"({model} is missing)", **where,
                           hint="name a finished run (`lmtui runs --status finished`), or wait for this one to finish")
    return InitSource(model, f"run {run.run_id}{how}")


def run_search_dirs(project) -> list[Path]:
    """Where ``init_from`` run references are looked up: the project's output_dir, then ./runs."""
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


def resolve_init_from(project, text: str = "") -> InitSource:
    """The model folder ``[model] init_from`` names (see the module docstring for the forms).

    Args:
        project: the loaded project, ``init_from`` set.
        text: its file's text, for the line in messages.

    Raises:
        ProjectError: naming the file, ``model.init_from`` and its line: a run without a final
            model, an existing folder that is neither a run nor a model, an ambiguous run
            prefix, or a name that is none of the forms (a Hub id not in the local cache
            included, with how to fetch it).
    """
    from lmtui.runs.rundir import RunDir, RunNotFound, find_run

    ref = project.model.init_from
    where = _where(project, text)
    path = Path(resolve_path(project, ref))
    if (path / "run.json").is_file():
        return _run_model(RunDir(path), ref, "", where)
    if (path / "config.json").is_file():
        return InitSource(path, f"model folder {path}")
    if path.exists():
        raise ProjectError(f"init_from {ref!r}: {path} is neither a run directory nor a model folder "
                           "(no run.json, no config.json)", **where,
                           hint="point it at a folder saved with save_pretrained, or at a run directory")
    notes: list[str] = []
    try:
        run = find_run(ref, run_search_dirs(project), note=notes.append)
    except RunNotFound:
        run = None
    except LmtuiError as exc:  # an ambiguous prefix, a project without a finished run
        raise ProjectError(f"init_from: {exc.message}", **where, hint=exc.hint) from None
    if run is not None:
        how = f", the latest finished run of project {ref}" if notes else ""
        return _run_model(run, ref, how, where)
    if HUB_ID.fullmatch(ref):
        folder = hub_cache_folder(ref)
        if folder is not None and (folder / "config.json").is_file():
            return InitSource(folder, f"Hub model {ref} (local cache)")
        from huggingface_hub import constants

        raise ProjectError(f"init_from {ref!r} is not a model folder ({path} does not exist), a run or a project "
                           f"with runs, and no Hub model {ref!r} is in the local Hugging Face cache "
                           f"({constants.HF_HUB_CACHE})",
                           **where, hint=f"lmtui reads Hub models from the local cache only (no download): fetch it "
                                         f"once with `hf download {ref}` where there is internet, or point "
                                         "init_from at a model folder or a run")
    raise ProjectError(f"init_from {ref!r} does not exist ({path})", **where,
                       hint="point it at a model folder saved with save_pretrained, a run (id, prefix or "
                            "directory), a project name or a cached Hub model id")


def read_model_config(source: InitSource, where: dict) -> dict:
    """The loaded model's ``config.json`` as a dict.

    Raises:
        ProjectError: the file is unreadable or not a JSON object.
    """
    file = source.folder / "config.json"
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"init_from: cannot read {file}: {exc}", **where,
                           hint="point it at a folder saved with save_pretrained") from None
    if not isinstance(config, dict):
        raise ProjectError(f"init_from: {file} is not a JSON object", **where,
                           hint="point it at a folder saved with save_pretrained")
    return config


def model_positions(config: dict) -> int | None:
    """Tokens per sequence the model takes: ``max_position_embeddings`` less the positions
    RoBERTa-style models reserve (:data:`OFFSET_POSITIONS`); None when the config has none."""
    positions = config.get("max_position_embeddings")
    if not isinstance(positions, int):
        return None
    return positions - OFFSET_POSITIONS.get(config.get("model_type", ""), 0)


def check_against_model(project, text: str = "") -> tuple[InitSource, dict]:
    """Resolve ``init_from`` and check the project against the loaded model's ``config.json``.

    The model wins: its shape, vocabulary and tokenizer are what trains. So the project may not
    set, in its file or by ``--set``, a key that would be silently ignored: ``[model] size``
    and ``config_overrides``, the ``[tokenizer]`` training keys (``kind``, ``vocab_size``,
    ``min_frequency``, ``lowercase``, ``max_training_documents``, ``max_training_bytes``), or an ``architecture``
    other than the model's ``model_type``. ``[tokenizer] path`` stays allowed: that tokenizer
    replaces the model's (its embeddings are resized when the vocabulary is larger).

    Returns:
        (source, config): where the model is, and its config.json.

    Raises:
        ProjectError: naming the file, the key and its line: anything of
            :func:`resolve_init_from`, a key above, or ``[training] max_seq_length`` above the
            model's positions (:func:`model_positions`).
    """
    source = resolve_init_from(project, text)
    config = read_model_config(source, _where(project, text))
    file = project.path or "<project>"
    raw = project.raw or {}

    def fail(message, section, key, hint):
        raise ProjectError(message, file=file, key=f"{section}.{key}", line=line_of(text, section, key), hint=hint)

    model_type = config.get("model_type", "")
    if "architecture" in raw.get("model", {}) and model_type and project.model.architecture != model_type:
        fail(f"architecture {project.model.architecture!r} contradicts the model init_from loads "
             f"({source.origin}), a {model_type!r} model", "model", "architecture",
             f"remove architecture (the loaded model's {model_type!r} is used) or set it to {model_type!r}")
    for section, key in SHAPE_KEYS:
        if key in raw.get(section, {}):
            fail(f"{key} is ignored with init_from: the loaded model's config.json fixes its shape",
                 section, key, f"remove {key} from [{section}], or remove init_from to train a new model")
    for key in TOKENIZER_TRAINING_KEYS:
        if key in raw.get("tokenizer", {}):
            fail(f"{key} is ignored with init_from: the loaded model's tokenizer is used, none is trained",
                 "tokenizer", key, f"remove {key} from [tokenizer] (set [tokenizer] path to use another "
                                   "existing tokenizer), or remove init_from")
    positions = model_positions(config)
    seq = project.training.max_seq_length
    if positions is not None and seq > positions:
        fail(f"max_seq_length {seq} is longer than the {positions} positions of the model init_from loads "
             f"({source.origin}; max_position_embeddings {config['max_position_embeddings']})",
             "training", "max_seq_length", f"use max_seq_length <= {positions}")
    return source, config


def describe(source: InitSource, config: dict) -> str:
    """One line about the loaded model, e.g. ``continues pretraining run X: bert, 2 layers, hidden 64, 64 positions``."""
    parts = [config.get("model_type", "unknown type")]
    layers = config.get("num_hidden_layers", config.get("n_layers"))
    hidden = config.get("hidden_size", config.get("dim"))
    if layers is not None:
        parts.append(f"{layers} layers")
    if hidden is not None:
        parts.append(f"hidden {hidden}")
    positions = model_positions(config)
    if positions is not None:
        parts.append(f"{positions} positions")
    return f"continues pretraining {source.origin}: {', '.join(parts)}"


def frozen_model_folder(project) -> str:
    """The absolute model folder for a run's frozen project (so a run is reproducible), or
    ``init_from`` made absolute when it cannot be resolved (the check that runs first says why)."""
    try:
        return str(resolve_init_from(project).folder)
    except LmtuiError:
        return resolve_path(project, project.model.init_from)

