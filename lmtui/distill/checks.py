"""The checks of ``[distill]`` against its teacher, run by the check layer (:mod:`lmtui.checks`) before anything runs.

Json and the ``tokenizers`` library only (no torch): ``lmtui check``, ``lmtui run`` and the TUI's
edit form refuse a distillation that cannot work, each with one :class:`ProjectError` naming the
file, the key and its line (exit 2): a teacher that does not exist or is not a masked LM, a
tokenizer whose vocabulary is not the teacher's, ``layers`` out of range or not one per student
layer, a student the teacher's layers cannot initialise, or keys distillation would ignore.
"""

from __future__ import annotations

from pathlib import Path

from lmtui.distill.teacher import (MASKED_LM_TYPES, teacher_config, teacher_hidden_size, teacher_layer_count,
                                   teacher_tokenizer_folder)
from lmtui.errors import ProjectError
from lmtui.project.lines import line_of
from lmtui.project.presets import DISTILBERT_NAMES, resolve_shape
from lmtui.runs.modelref import model_positions
from lmtui.train.init_from import TOKENIZER_TRAINING_KEYS

# Student families a teacher's layers can initialise: the teacher's own, and BERT -> DistilBERT (Sanh et al. 2019).
LAYER_COMPATIBLE = {"bert": ("bert", "distilbert"), "roberta": ("roberta",), "distilbert": ("distilbert",),
                    "modernbert": ("modernbert",)}
# Width keys of a teacher_layers student: they come from the teacher (generic and DistilBERT names).
WIDTH_KEYS = ("hidden_size", "num_attention_heads", "intermediate_size", "vocab_size", "max_position_embeddings")


def depth_override(project) -> int | None:
    """The student's layer count set in ``[model] config_overrides`` (``num_hidden_layers`` or DistilBERT's
    ``n_layers``), or None."""
    overrides = project.model.config_overrides or {}
    value = overrides.get("num_hidden_layers", overrides.get("n_layers"))
    return int(value) if value is not None else None


def student_layer_count(project, config: dict) -> int:
    """The student's encoder layers.

    ``random``: the ``[model]`` shape (size preset, then ``config_overrides``). ``teacher_layers``:
    ``config_overrides.num_hidden_layers`` when set, else one per entry of ``layers``, else half the
    teacher's (at least 1), as DistilBERT halved BERT-base.
    """
    if project.distill.init == "random":
        return int(resolve_shape(project.model, project.training.max_seq_length)["num_hidden_layers"])
    depth = depth_override(project)
    if depth is not None:
        return depth
    if project.distill.layers:
        return len(project.distill.layers)
    return max(1, teacher_layer_count(config) // 2)


def chosen_layers(project, config: dict) -> list[int]:
    """The teacher layers copied into the student, in student order: ``layers``, or every k-th layer
    from 0 with k = teacher layers // student layers (4 -> 2 gives [0, 2], 12 -> 6 gives [0, 2, ..., 10])."""
    if project.distill.layers:
        return list(project.distill.layers)
    n = student_layer_count(project, config)
    k = max(1, teacher_layer_count(config) // n)
    return [i * k for i in range(n)]


def _vocab(folder: Path) -> dict[str, int]:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab(with_added_tokens=True)


def check_distill(project, text: str = "") -> None:
    """Check ``[distill]`` against the teacher's config.json, its tokenizer and the rest of the project.

    Nothing is checked when ``teacher`` is empty. The rules of the file alone (``init_from``
    beside ``teacher``, all three alphas 0) are the loader's (:func:`lmtui.project.load.check_consistency`).

    Raises:
        ProjectError: the teacher does not resolve (:func:`lmtui.distill.teacher.resolve_teacher`) or
            is not a masked LM of a supported family; a
            ``[tokenizer]`` training key is set, or ``[tokenizer] path`` holds another vocabulary
            than the teacher's; the tokenizer has more tokens than the teacher's embeddings; the
            teacher has no tokenizer.json; ``max_seq_length`` exceeds the teacher's positions;
            with ``teacher_layers``: a student family the teacher cannot initialise, ``size`` or a
            width key that contradicts the teacher, a ``layers`` entry out of range or repeated,
            ``layers`` not one entry per student layer, a student deeper than the teacher; with
            ``random``: ``layers`` set, or ``alpha_cos`` > 0 with a student width unlike the
            teacher's.
    """
    d = project.distill
    if not d.teacher:
        return
    file = project.path or "<project>"
    raw = project.raw or {}

    def fail(message, section, key, hint):
        raise ProjectError(message, file=file, key=f"{section}.{key}",
                           line=line_of(text, section, key) or line_of(text, section), hint=hint)

    source, config = teacher_config(project, text)
    kind = config.get("model_type", "")
    archs = config.get("architectures") or []
    if kind not in MASKED_LM_TYPES or (archs and not any(str(a).endswith("ForMaskedLM") for a in archs)):
        fail(f"teacher {source.origin} is not a masked language model lmtui can distil (model_type "
             f"{kind or 'missing'!r}, architectures {archs})", "distill", "teacher",
             f"name a *ForMaskedLM model of one of: {', '.join(MASKED_LM_TYPES)} (a run of lmtui, or a model "
             "saved with save_pretrained)")
    for key in TOKENIZER_TRAINING_KEYS:
        if key in raw.get("tokenizer", {}):
            fail(f"{key} is ignored with [distill]: the teacher's tokenizer is used, none is trained",
                 "tokenizer", key, f"remove {key} from [tokenizer]")
    teacher_tokenizer = source.folder / "tokenizer.json"
    tokenizer_folder = teacher_tokenizer_folder(project)
    if project.tokenizer.path:
        if not (tokenizer_folder / "tokenizer.json").is_file():
            fail(f"no tokenizer.json in {tokenizer_folder}", "tokenizer", "path",
                 "remove [tokenizer] path: a distillation uses the teacher's tokenizer")
        if teacher_tokenizer.is_file() and _vocab(tokenizer_folder) != _vocab(source.folder):
            fail(f"the tokenizer at {tokenizer_folder} has another vocabulary than the teacher's "
                 f"({source.origin}): the student must read the teacher's token ids", "tokenizer", "path",
                 "remove [tokenizer] path: a distillation uses the teacher's tokenizer")
    elif not teacher_tokenizer.is_file():
        fail(f"teacher {source.origin} has no tokenizer.json", "distill", "teacher",
             "save the teacher with its tokenizer (tokenizer.save_pretrained into its folder), or set "
             "[tokenizer] path to the teacher's tokenizer")
    tokens = len(_vocab(tokenizer_folder))
    vocab = int(config.get("vocab_size", 0))
    if tokens > vocab:
        fail(f"the tokenizer has {tokens} tokens but the teacher {source.origin} has {vocab} embeddings: its "
             "vocabulary is not the teacher's", "tokenizer" if project.tokenizer.path else "distill",
             "path" if project.tokenizer.path else "teacher",
             "use the teacher's own tokenizer (remove [tokenizer] path)")
    positions = model_positions(config)
    seq = project.training.max_seq_length
    if positions is not None and seq > positions:
        fail(f"max_seq_length {seq} is longer than the teacher's {positions} positions ({source.origin})",
             "training", "max_seq_length", f"use max_seq_length <= {positions}")
    if d.init == "teacher_layers":
        _check_teacher_layers(project, config, source, fail)
    else:
        _check_random(project, config, source, fail)


def _check_teacher_layers(project, config: dict, source, fail) -> None:
    d, raw_model = project.distill, (project.raw or {}).get("model", {})
    kind, arch = config.get("model_type", ""), project.model.architecture
    if arch not in LAYER_COMPATIBLE.get(kind, ()):
        fail(f"architecture {arch!r}{'' if 'architecture' in raw_model else ' (the default)'} cannot be "
             f"initialised from the layers of the {kind!r} teacher ({source.origin})", "model", "architecture",
             f"set architecture to one of: {', '.join(LAYER_COMPATIBLE.get(kind, ()))}, or [distill] init = "
             '"random"')
    if "size" in raw_model:
        fail('size is ignored with init = "teacher_layers": the student takes the teacher\'s width',
             "model", "size", "remove size; set the student's depth with [distill] layers or config_overrides "
                              "num_hidden_layers")
    generic = {v: k for k, v in DISTILBERT_NAMES.items()}
    for name, value in (project.model.config_overrides or {}).items():
        name_g = generic.get(name, name)
        if name_g in WIDTH_KEYS:
            have = config.get(name_g, config.get(DISTILBERT_NAMES.get(name_g, name_g)))
            if have is not None and value != have:
                fail(f"config_overrides {name} = {value} contradicts the teacher's {have} ({source.origin}): a "
                     "teacher_layers student takes the teacher's width", "model", "config_overrides",
                     f"remove {name} from config_overrides, or use [distill] init = \"random\"")
    teacher_n = teacher_layer_count(config)
    student_n = student_layer_count(project, config)
    if d.layers:  # checked first: a repeated or out-of-range list is the key the user wrote
        bad = [i for i in d.layers if not 0 <= i < teacher_n]
        if bad:
            fail(f"layers {bad} out of range: the teacher ({source.origin}) has layers 0 to {teacher_n - 1}",
                 "distill", "layers", f"use layer numbers from 0 to {teacher_n - 1}")
        if len(set(d.layers)) != len(d.layers):
            fail(f"layers {d.layers} names a teacher layer twice", "distill", "layers",
                 "list each teacher layer at most once")
    if student_n > teacher_n:
        if depth_override(project) is None and d.layers:  # the depth is one per entry of layers
            fail(f"layers lists {student_n} layers, more than the teacher's {teacher_n} ({source.origin})",
                 "distill", "layers", f"list at most {teacher_n} teacher layers")
        fail(f"the student has {student_n} layers, more than the teacher's {teacher_n} ({source.origin})",
             "model", "config_overrides", f"use at most {teacher_n} student layers")
    if d.layers:
        if len(d.layers) != student_n:
            longer = "longer than" if len(d.layers) > student_n else "shorter than"
            fail(f"layers has {len(d.layers)} entries, {longer} the student's {student_n} layers",
                 "distill", "layers", f"list {student_n} teacher layers (one per student layer), or remove "
                                      "num_hidden_layers from config_overrides")


def _check_random(project, config: dict, source, fail) -> None:
    d = project.distill
    if d.layers:
        fail('layers is for init = "teacher_layers": a random student copies no layer', "distill", "layers",
             'remove layers, or set init = "teacher_layers"')
    hidden = resolve_shape(project.model, project.training.max_seq_length)["hidden_size"]
    if d.alpha_cos and hidden != teacher_hidden_size(config):
        fail(f"the cosine loss compares hidden states, but the student's hidden size {hidden} is not the "
             f"teacher's {teacher_hidden_size(config)} ({source.origin})", "distill", "alpha_cos",
             f"set alpha_cos = 0, or give the student hidden_size {teacher_hidden_size(config)}")


def distill_summary(project, text: str = "") -> str:
    """One line for ``lmtui check``: teacher, its shape, and the student's init and depth."""
    source, config = teacher_config(project, text)
    n = student_layer_count(project, config)
    how = (f"layers {chosen_layers(project, config)} copied" if project.distill.init == "teacher_layers"
           else "random init")
    return (f"distils {source.origin} ({config.get('model_type')}, {teacher_layer_count(config)} layers, hidden "
            f"{teacher_hidden_size(config)}) into a {n}-layer {project.model.architecture} student ({how})")

