"""Build the model from the project and compute the MLM loss on masked positions only.

The config is the architecture's transformers config with the size preset, then
``config_overrides``; vocab_size is the tokenizer's length rounded up to a multiple of 64
(tensor-core friendly), special-token ids come from the tokenizer, and RoBERTa's
``max_position_embeddings`` is ``max_seq_length + 2`` (positions start at padding_idx + 1).

:class:`MaskedLMObjective` runs the encoder on the whole batch but the MLM head (transform +
vocabulary projection) only on the masked positions, as in Cramming (Geiping & Goldstein
2023), ModernBERT's ``sparse_prediction`` and NVIDIA's BERT: the head is the largest matmul
of a small model and 85% of its rows are thrown away by the loss. The wrapped model is the
unchanged Hugging Face ``*ForMaskedLM``, so it saves and loads in the standard layout.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import nn

from lmtui.data.batches import IGNORE_INDEX
from lmtui.errors import ProjectError
from lmtui.project.init_from import resolve_init_from
from lmtui.project.lines import line_of
from lmtui.project.load import project_text
from lmtui.project.presets import DISTILBERT_NAMES, resolve_shape


def padded_vocab_size(n: int, multiple: int = 64) -> int:
    """``n`` rounded up to a multiple of ``multiple``."""
    return -(-n // multiple) * multiple


def build_config(project, tokenizer):
    """The transformers config for ``project`` with ids and vocabulary from ``tokenizer``.

    Raises:
        ProjectError: a ``config_overrides`` key is not a field of the architecture's config.
    """
    from transformers import CONFIG_MAPPING

    m = project.model
    arch = m.architecture
    config = CONFIG_MAPPING[arch]()
    shape = resolve_shape(m, project.training.max_seq_length)
    values = dict(shape)
    if arch == "distilbert":
        values = {DISTILBERT_NAMES.get(k, k): v for k, v in shape.items()}
        values["sinusoidal_pos_embds"] = False
    values["vocab_size"] = padded_vocab_size(len(tokenizer))
    values["pad_token_id"] = tokenizer.pad_token_id
    if arch in ("roberta", "modernbert"):
        values["bos_token_id"] = tokenizer.cls_token_id
        values["eos_token_id"] = tokenizer.sep_token_id
    if arch == "modernbert":
        values["cls_token_id"] = tokenizer.cls_token_id
        values["sep_token_id"] = tokenizer.sep_token_id
    if arch == "roberta":
        values["type_vocab_size"] = 1
    text = project_text(project)
    for k, v in (m.config_overrides or {}).items():
        if k in shape or k in DISTILBERT_NAMES.values():
            continue
        if not hasattr(config, k):
            raise ProjectError(f"{type(config).__name__} has no field {k!r}", file=project.path,
                               key=f"model.config_overrides.{k}",
                               line=line_of(text, "model.config_overrides", k) or line_of(text, "model", "config_overrides"),
                               hint="use a field of the architecture's config (see its config.json)")
        values[k] = v
    for k, v in values.items():
        setattr(config, k, v)
    config.architectures = [{"bert": "BertForMaskedLM", "roberta": "RobertaForMaskedLM",
                             "distilbert": "DistilBertForMaskedLM", "modernbert": "ModernBertForMaskedLM"}[arch]]
    return config


def build_model(project, tokenizer):
    """A ``*ForMaskedLM`` model: random init from the config, or to continue pretraining, the
    model ``init_from`` names (:func:`lmtui.project.init_from.resolve_init_from`: a model folder,
    a run, a project's latest finished run, a cached Hub model), its embeddings resized when the
    tokenizer's vocabulary is larger.

    Raises:
        ProjectError: ``init_from`` names no model, or a ``config_overrides`` key is unknown.
    """
    from transformers import AutoModelForMaskedLM

    m = project.model
    if m.init_from:
        folder = resolve_init_from(project, project_text(project)).folder
        model = AutoModelForMaskedLM.from_pretrained(folder, attn_implementation=m.attn_implementation)
        if model.get_input_embeddings().num_embeddings < len(tokenizer):
            model.resize_token_embeddings(padded_vocab_size(len(tokenizer)))
        return model
    config = build_config(project, tokenizer)
    return AutoModelForMaskedLM.from_config(config, attn_implementation=m.attn_implementation)


def mlm_head(model) -> nn.Module | callable:
    """The part of a ``*ForMaskedLM`` that maps hidden states (n, hidden) to logits (n, vocab)."""
    prefix = model.base_model_prefix
    if prefix == "bert":
        return model.cls
    if prefix == "roberta":
        return model.lm_head
    if prefix == "distilbert":
        return lambda h: model.vocab_projector(model.vocab_layer_norm(model.activation(model.vocab_transform(h))))
    if prefix == "model":  # ModernBERT
        return lambda h: model.decoder(model.head(h))
    raise ValueError(f"no masked-LM head known for {type(model).__name__}")


class MaskedLMObjective(nn.Module):
    """Masked-LM loss with the head applied to masked positions only.

    forward(input_ids (B, T) int64, labels, attention_mask (B, T) or None, positions=None,
    accuracy=True) returns (loss: mean cross-entropy over selected tokens, 0 when none is
    selected; correct: number of selected tokens predicted right, None when ``accuracy`` is
    False; count: number of selected tokens).

    ``labels`` is either (B, T) int64 with -100 on unselected positions, or, with
    ``positions`` (n,) int64 flat indices (row * T + column) of the selected tokens, the (n,)
    target ids of those positions; the second form gathers rows with ``index_select`` and
    never waits for the device (a boolean index does), which is how the trainer calls it.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.encoder = getattr(model, model.base_model_prefix)
        self.head = mlm_head(model)

    def forward(self, input_ids, labels, attention_mask=None, positions=None, accuracy=True):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if positions is None:
            selected = labels != IGNORE_INDEX
            hidden, targets = hidden[selected], labels[selected]
        else:
            hidden, targets = hidden.flatten(0, 1).index_select(0, positions), labels
        logits = self.head(hidden)
        # sum / count rather than mean: a micro-batch with nothing selected gives 0, not NaN
        loss = F.cross_entropy(logits.float(), targets, reduction="sum") / max(targets.numel(), 1)
        correct = (logits.argmax(-1) == targets).sum() if accuracy else None
        return loss, correct, targets.numel()


def parameter_counts(model) -> tuple[int, int]:
    """(all parameters, non-embedding parameters) of ``model``."""
    total = sum(p.numel() for p in model.parameters())
    embedding = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Embedding))
    return total, total - embedding


def perplexity(loss: float) -> float:
    """exp(loss), capped to avoid overflow for untrained models."""
    return math.exp(min(loss, 50.0))
