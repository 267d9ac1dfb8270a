"""The trainer's checks (the check layer, :mod:`lmtui.checks`, runs them before anything is
written): the device the project asks for, the trackers' packages, the ``init_from`` model (its
config.json against the project, its tokenizer.json and weights), the ``config_overrides`` types
and the model config built with its parameter count (or, with ``init_from``, the loaded model's
config.json, read by ``AutoConfig``). torch and transformers are imported inside the functions
that need them, so importing this module stays cheap."""

from __future__ import annotations

from pathlib import Path

from lmtui.errors import ProjectError
from lmtui.project.lines import line_of

TORCH_XLA_INSTALL = ("install PyTorch/XLA matching your torch version on the TPU VM, e.g. "
                     "pip install torch~=2.X.0 'torch_xla[tpu]~=2.X.0' -f https://storage.googleapis.com/"
                     "libtpu-releases/index.html (https://github.com/pytorch/xla#installation)")


def check_tpu(project, text: str = "") -> None:
    """Refuse ``[hardware] device = "tpu"`` where ``torch_xla`` (PyTorch/XLA, which accelerate's
    TPU launch needs) cannot be imported; found with ``importlib.util.find_spec``, not imported.

    Raises:
        ProjectError: naming the file, ``hardware.device`` and its line, with the install command.
    """
    import importlib.util

    if importlib.util.find_spec("torch_xla") is None:
        raise ProjectError('hardware.device is "tpu" but torch_xla (PyTorch/XLA) is not installed',
                           file=project.path or "<project>", key="hardware.device",
                           line=line_of(text, "hardware", "device") if text else None, hint=TORCH_XLA_INSTALL)


def check_device(project, text: str = "") -> None:
    """Refuse ``[hardware] device = "cuda"`` on a machine where torch sees no CUDA device
    (:func:`lmtui.train.devices.require_device`), and ``"tpu"`` without torch_xla
    (:func:`check_tpu`). ``auto`` and ``cpu`` always work, so torch is imported only for ``cuda``.

    Raises:
        ProjectError: naming the file, ``hardware.device`` and its line in ``text``.
    """
    if project.hardware.device == "tpu":
        check_tpu(project, text)
        return
    if project.hardware.device != "cuda":
        return
    from lmtui.train.devices import require_device

    require_device(project, text)


def check_trackers(project, text: str = "") -> None:
    """Every tracker of ``[tracking] report_to`` has its package installed
    (:func:`lmtui.project.sections.tracking.installed`; the names are checked with the file).

    Raises:
        ProjectError: naming the pip package, ``tracking.report_to`` and its line.
    """
    from lmtui.project.sections.tracking import TRACKERS, installed

    for name in project.tracking.report_to:
        if name in TRACKERS and not installed(name):
            package = TRACKERS[name][1]
            raise ProjectError(f"tracker {name!r} needs the {package} package, which is not installed",
                               file=project.path or "<project>", key="tracking.report_to",
                               line=line_of(text, "tracking", "report_to"),
                               hint=f"pip install {package}, or remove {name!r} from report_to")


def check_weights(folder: Path, *, file: str, key: str, line: int | None) -> None:
    """The model folder holds weights whose safetensors headers (tensor table and offsets
    covering the file) read, checked by the ``safetensors`` library without loading a tensor.

    Raises:
        ProjectError: no weights file, or one that is cut short or not safetensors.
    """
    from safetensors import safe_open

    weights = sorted(folder.glob("*.safetensors"))
    if not weights and not any((folder / n).is_file() for n in ("pytorch_model.bin", "pytorch_model.bin.index.json")):
        raise ProjectError(f"no model weights in {folder} (no *.safetensors, no pytorch_model.bin)", file=file,
                           key=key, line=line, hint="point it at a folder saved with save_pretrained")
    for path in weights:
        try:
            with safe_open(str(path), framework="numpy"):
                pass
        except Exception as exc:  # safetensors_rust.SafetensorError derives from Exception only
            raise ProjectError(f"{path} is not a readable safetensors file: {exc}", file=file, key=key, line=line,
                               hint="the model folder is damaged: save it again with save_pretrained") from None


def check_init_from(project, text: str = ""):
    """The ``init_from`` model, when set: the project against its config.json
    (:func:`lmtui.train.init_from.check_against_model`), then its tokenizer.json (unless
    ``[tokenizer] path`` replaces it) and its weights (:func:`check_weights`).

    Returns:
        (source, config) of the model, or None without ``init_from``.

    Raises:
        ProjectError: naming ``model.init_from`` (or the key at fault) and its line.
    """
    if not project.model.init_from:
        return None
    from lmtui.data.checks import check_tokenizer_file
    from lmtui.train.init_from import check_against_model

    source, config = check_against_model(project, text)
    where = dict(file=project.path or "<project>", key="model.init_from", line=line_of(text, "model", "init_from"))
    if not project.tokenizer.path:
        check_tokenizer_file(source.folder, **where)
    check_weights(source.folder, **where)
    return source, config


def model_summary(project, text: str = "") -> str:
    """Build the architecture's config (validating ``config_overrides``, :func:`check_override_types`)
    with a stand-in vocabulary of ``[tokenizer] vocab_size`` on the meta device, and return a
    one-line summary with its parameter counts. With ``init_from`` nothing is built: the loaded
    model's config.json must be one transformers reads (:func:`check_model_config`) and the
    summary names the model and its shape (:func:`lmtui.train.init_from.describe`).

    Raises:
        ProjectError: an override that is not a field of the config or not of its type, or an
            ``init_from`` model transformers cannot read or without a masked-LM head.
    """
    if project.model.init_from:
        from lmtui.train.init_from import check_against_model, describe

        source, config = check_against_model(project, text)
        check_model_config(project, source.folder, text)
        return describe(source, config)
    import torch
    from transformers import AutoModelForMaskedLM

    from lmtui.train.model import build_config, parameter_counts

    class _Vocab:  # the tokenizer does not exist before the run: its size and ids stand in
        pad_token_id, cls_token_id, sep_token_id = 1, 0, 2

        def __len__(self):
            return project.tokenizer.vocab_size

    check_override_types(project, text)
    config = build_config(project, _Vocab())
    with torch.device("meta"):
        model = AutoModelForMaskedLM.from_config(config)
    total, non_embedding = parameter_counts(model)
    return f"{project.model.architecture}/{project.model.size}: {total / 1e6:.1f}M parameters, " \
           f"{non_embedding / 1e6:.1f}M non-embedding"


def _type_text(annotation) -> str:
    """A config field's annotation in words: ``float | int`` is "a number"."""
    import typing

    args = set(typing.get_args(annotation)) or {annotation}
    args.discard(type(None))
    if args <= {float, int}:
        return "a number" if float in args else "an integer"
    words = {str: "a string", bool: "true or false", list: "a list", dict: "a table"}
    return " or ".join(words.get(a, getattr(a, "__name__", str(a))) for a in args)


def check_override_types(project, text: str = "") -> None:
    """Each ``config_overrides`` value set on a fresh config of the architecture, whose fields
    transformers validates by their declared types (``huggingface_hub``'s strict dataclasses):
    ``hidden_dropout_prob = "high"`` is refused here rather than when the trainer builds the model.

    Raises:
        ProjectError: naming ``model.config_overrides.KEY``, its line, the field's type and the value.
    """
    from dataclasses import fields

    from huggingface_hub.errors import StrictDataclassFieldValidationError
    from transformers import CONFIG_MAPPING


    config = CONFIG_MAPPING[project.model.architecture]()
    declared = {f.name: f.type for f in fields(config)}
    for k, v in (project.model.config_overrides or {}).items():
        if k not in declared:
            continue  # build_config names an unknown field
        try:
            setattr(config, k, v)
        except (StrictDataclassFieldValidationError, TypeError, ValueError):
            line = line_of(text, "model.config_overrides", k) or line_of(text, "model", "config_overrides")
            raise ProjectError(f"{type(config).__name__}.{k} expects {_type_text(declared[k])}, got {v!r}",
                               file=project.path, key=f"model.config_overrides.{k}", line=line,
                               hint=f"write {_type_text(declared[k])} for {k}") from None


def check_model_config(project, folder, text: str = "") -> None:
    """The ``init_from`` model's config.json is one transformers reads, of a model type with a
    masked-LM head (``AutoConfig``, no weights loaded).

    Raises:
        ProjectError: naming ``model.init_from``, its line and the config file.
    """
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES


    where = dict(file=project.path, key="model.init_from", line=line_of(text, "model", "init_from"))
    try:
        config = AutoConfig.from_pretrained(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProjectError(f"{folder}/config.json is not a model config transformers reads: "
                           f"{str(exc).splitlines()[0][:200]}", **where,
                           hint="point init_from at a folder saved with save_pretrained") from None
    if config.model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        raise ProjectError(f"{folder} holds a {config.model_type!r} model, which has no masked-LM head", **where,
                           hint="continue pretraining from a BERT, RoBERTa, DistilBERT or ModernBERT model")
