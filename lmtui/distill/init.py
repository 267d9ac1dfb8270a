"""The student of a distillation: its config and its initialisation from the teacher.

``init = "teacher_layers"`` (Sanh et al. 2019, section 3: "we initialize the student from the
teacher by taking one layer out of two"): the student is the teacher's config with fewer
layers; its embeddings, MLM head and final norms are the teacher's, and student layer i is
teacher layer ``layers[i]`` (:func:`lmtui.distill.checks.chosen_layers`). Within a family
(BERT, RoBERTa, DistilBERT, ModernBERT) the state-dict names match but for the layer index;
BERT -> DistilBERT goes through :data:`BERT_TO_DISTILBERT`, the renaming of Hugging Face's
``examples/research_projects/distillation/scripts/extract_distilbert.py``. DistilBERT has no
token-type embeddings: BERT adds type 0's vector to every position, so it is folded into the
position embeddings and the student computes the same embeddings as the teacher.

``init = "random"``: the project's ``[model]``, built as for any run, with the teacher's
vocabulary size, so both models' logits cover the same ids.
"""

from __future__ import annotations

import copy
import re

import torch

from lmtui.distill.checks import WIDTH_KEYS, chosen_layers, student_layer_count
from lmtui.project.presets import DISTILBERT_NAMES

ARCHITECTURE_CLASSES = {"bert": "BertForMaskedLM", "roberta": "RobertaForMaskedLM",
                        "distilbert": "DistilBertForMaskedLM", "modernbert": "ModernBertForMaskedLM"}
# The state-dict prefix of each family's list of encoder layers.
LAYER_LISTS = {"bert": "bert.encoder.layer", "roberta": "roberta.encoder.layer",
               "distilbert": "distilbert.transformer.layer", "modernbert": "model.layers"}
# BERT state-dict names -> DistilBERT's (regular expressions; \1, \2 keep the layer and weight/bias).
_BERT_LAYER, _DISTILBERT_LAYER = r"bert\.encoder\.layer\.(\d+)\.", r"distilbert.transformer.layer.\1."
BERT_TO_DISTILBERT = (
    (r"bert\.embeddings\.(word_embeddings|position_embeddings)\.weight", r"distilbert.embeddings.\1.weight"),
    (r"bert\.embeddings\.LayerNorm\.(weight|bias)", r"distilbert.embeddings.LayerNorm.\1"),
    (_BERT_LAYER + r"attention\.self\.query\.(weight|bias)", _DISTILBERT_LAYER + r"attention.q_lin.\2"),
    (_BERT_LAYER + r"attention\.self\.key\.(weight|bias)", _DISTILBERT_LAYER + r"attention.k_lin.\2"),
    (_BERT_LAYER + r"attention\.self\.value\.(weight|bias)", _DISTILBERT_LAYER + r"attention.v_lin.\2"),
    (_BERT_LAYER + r"attention\.output\.dense\.(weight|bias)", _DISTILBERT_LAYER + r"attention.out_lin.\2"),
    (_BERT_LAYER + r"attention\.output\.LayerNorm\.(weight|bias)", _DISTILBERT_LAYER + r"sa_layer_norm.\2"),
    (_BERT_LAYER + r"intermediate\.dense\.(weight|bias)", _DISTILBERT_LAYER + r"ffn.lin1.\2"),
    (_BERT_LAYER + r"output\.dense\.(weight|bias)", _DISTILBERT_LAYER + r"ffn.lin2.\2"),
    (_BERT_LAYER + r"output\.LayerNorm\.(weight|bias)", _DISTILBERT_LAYER + r"output_layer_norm.\2"),
    (r"cls\.predictions\.transform\.dense\.(weight|bias)", r"vocab_transform.\1"),
    (r"cls\.predictions\.transform\.LayerNorm\.(weight|bias)", r"vocab_layer_norm.\1"),
    (r"cls\.predictions\.decoder\.weight", r"vocab_projector.weight"),
    (r"cls\.predictions\.(decoder\.)?bias", r"vocab_projector.bias"),
)


def distilbert_config(bert_config, layers: int):
    """The ``DistilBertConfig`` of a BERT config with ``layers`` layers (learned positions, same width,
    dropout, activation and ids)."""
    from transformers import DistilBertConfig

    b = bert_config
    return DistilBertConfig(vocab_size=b.vocab_size, max_position_embeddings=b.max_position_embeddings,
                            sinusoidal_pos_embds=False, n_layers=layers, n_heads=b.num_attention_heads,
                            dim=b.hidden_size, hidden_dim=b.intermediate_size, dropout=b.hidden_dropout_prob,
                            attention_dropout=b.attention_probs_dropout_prob, activation=b.hidden_act,
                            initializer_range=b.initializer_range, pad_token_id=b.pad_token_id,
                            tie_word_embeddings=True)


def student_config(project, tokenizer, teacher_config):
    """The student's transformers config for ``project`` and the teacher's config.

    ``random``: :func:`lmtui.train.model.build_config` with the teacher's ``vocab_size``.
    ``teacher_layers``: the teacher's config with the student's layer count
    (:func:`lmtui.distill.checks.student_layer_count`; ModernBERT keeps each copied layer's
    attention kind in ``layer_types``), or :func:`distilbert_config` for BERT -> DistilBERT;
    the ``[model] config_overrides`` other than width and depth (dropout, say) applied.
    """
    from lmtui.train.model import build_config

    if project.distill.init == "random":
        config = build_config(project, tokenizer)
        config.vocab_size = teacher_config.vocab_size
        return config
    described = teacher_config.to_dict()
    n, layers = student_layer_count(project, described), chosen_layers(project, described)
    arch = project.model.architecture
    if arch == teacher_config.model_type:
        config = copy.deepcopy(teacher_config)
        config.num_hidden_layers = n
        if getattr(teacher_config, "layer_types", None):
            config.layer_types = [teacher_config.layer_types[i] for i in layers]
    else:
        config = distilbert_config(teacher_config, n)
    skip = set(WIDTH_KEYS) | {DISTILBERT_NAMES.get(k, k) for k in WIDTH_KEYS} | {"num_hidden_layers", "n_layers"}
    for name, value in (project.model.config_overrides or {}).items():
        if name not in skip and hasattr(config, name):
            setattr(config, name, value)
    config.architectures = [ARCHITECTURE_CLASSES[arch]]
    return config


def layer_state_dict(teacher_state: dict, layers: list[int], layer_list: str) -> dict:
    """``teacher_state`` with only the chosen layers, renumbered: ``{layer_list}.{layers[i]}.*`` becomes
    ``{layer_list}.{i}.*``; keys outside the layer list are kept as they are."""
    pattern = re.compile(re.escape(layer_list) + r"\.(\d+)\.(.+)")
    index = {teacher: student for student, teacher in enumerate(layers)}
    out = {}
    for name, tensor in teacher_state.items():
        m = pattern.fullmatch(name)
        if m is None:
            out[name] = tensor
        elif int(m.group(1)) in index:
            out[f"{layer_list}.{index[int(m.group(1))]}.{m.group(2)}"] = tensor
    return out


def bert_to_distilbert(bert_state: dict) -> dict:
    """A BERT ``*ForMaskedLM`` state dict in DistilBERT's names (:data:`BERT_TO_DISTILBERT`), token type
    0's embedding folded into the position embeddings (DistilBERT has no token types)."""
    out = {}
    for name, tensor in bert_state.items():
        for pattern, target in BERT_TO_DISTILBERT:
            if re.fullmatch(pattern, name):
                out[re.sub(pattern, target, name)] = tensor
                break
    token_type = bert_state.get("bert.embeddings.token_type_embeddings.weight")
    if token_type is not None:
        key = "distilbert.embeddings.position_embeddings.weight"
        out[key] = out[key] + token_type[0]
    return out


def copy_teacher_layers(teacher, student, layers: list[int]) -> list[str]:
    """Load the teacher's embeddings, head, norms and ``layers`` into ``student`` (in place).

    Args:
        teacher, student: Hugging Face ``*ForMaskedLM`` models, same family, or BERT and DistilBERT.
        layers: teacher layer numbers; student layer i receives ``layers[i]``.

    Returns:
        the student's state-dict names left at their initial values (ModernBERT's first layer has no
        attention norm, so a later teacher layer's is dropped, and layer 0's absence leaves one to init).

    Raises:
        ValueError: a copied tensor's shape differs from the student's (a width the checks refuse).
    """
    kind = teacher.config.model_type
    state = layer_state_dict(teacher.state_dict(), layers, LAYER_LISTS[kind])
    if student.config.model_type != kind:
        state = bert_to_distilbert(state)
    target = student.state_dict()
    loaded = {}
    for name, tensor in state.items():
        if name in target:
            if target[name].shape != tensor.shape:
                raise ValueError(f"{name}: the teacher's {tuple(tensor.shape)} does not fit the student's "
                                 f"{tuple(target[name].shape)}")
            loaded[name] = tensor
    with torch.no_grad():
        for name, tensor in loaded.items():
            target[name].copy_(tensor)
    return [name for name in target if name not in loaded]


def build_student(project, tokenizer, teacher):
    """The student ``*ForMaskedLM``: from :func:`student_config`, then :func:`copy_teacher_layers` for
    ``teacher_layers`` (``teacher``: the teacher's Hugging Face model)."""
    from transformers import AutoModelForMaskedLM

    config = student_config(project, tokenizer, teacher.config)
    student = AutoModelForMaskedLM.from_config(config, attn_implementation=project.model.attn_implementation)
    if project.distill.init == "teacher_layers":
        left = copy_teacher_layers(teacher, student, chosen_layers(project, teacher.config.to_dict()))
        if left:
            print(f"student weights the teacher has no counterpart for (left at init): {', '.join(left)}", flush=True)
    return student


def build_distillation(project, tokenizer, device):
    """The distillation objective for a run: the teacher loaded frozen on ``device``
    (:func:`lmtui.distill.teacher.load_teacher`), the student built from it (:func:`build_student`),
    wrapped in :class:`lmtui.distill.loss.DistillationObjective` with the ``[distill]`` recipe."""
    from lmtui.distill.loss import DistillationObjective
    from lmtui.distill.teacher import load_teacher, resolve_teacher

    teacher = load_teacher(resolve_teacher(project).folder, device, project.model.attn_implementation)
    student = build_student(project, tokenizer, teacher.model)
    return DistillationObjective(student, teacher, project.distill)
