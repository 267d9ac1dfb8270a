"""``[model] init_from``: the model a run continues pretraining from, and the checks against it.

``init_from`` names a model the way every model reference does (:mod:`lmtui.runs.modelref`: a
path to a run or model folder, a run id or unique prefix, a project name, a Hub id in the local
cache). The loaded model's ``config.json`` wins over the project: :func:`check_against_model`
refuses the keys it would silently override (``[model] size`` and ``config_overrides``, the
``[tokenizer]`` training keys, an ``architecture`` other than the model's) and a
``max_seq_length`` longer than the model's positions. Plain Python and json: no torch.
"""

from __future__ import annotations

from lmtui.errors import ProjectError
from lmtui.project.lines import line_of
from lmtui.runs.modelref import InitSource, model_positions, read_model_config, resolve_project_model

# Keys that shape a new model or train a new tokenizer: ignored when a model is loaded.
SHAPE_KEYS = (("model", "size"), ("model", "config_overrides"))
TOKENIZER_TRAINING_KEYS = ("kind", "vocab_size", "min_frequency", "lowercase", "max_training_documents",
                           "max_training_bytes")


def _where(project, text: str) -> dict:
    return {"file": project.path or "<project>", "key": "model.init_from",
            "line": line_of(text, "model", "init_from")}


def resolve_init_from(project, text: str = "") -> InitSource:
    """The model folder ``[model] init_from`` names (:func:`lmtui.runs.modelref.resolve_project_model`).

    Raises:
        ProjectError: naming the file, ``model.init_from`` and its line: a run without a final
            model, an existing folder that is neither a run nor a model, an ambiguous run
            prefix, or a name that is none of the forms (a Hub id not in the local cache
            included, with how to fetch it).
    """
    return resolve_project_model(project, project.model.init_from, "model.init_from", text)


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
