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

Document packing (``[training] packing = "document"``): the micro-batch's ``attention_mask``
holds segment ids (:func:`lmtui.data.batches.masked_tensors`), and :func:`document_inputs`
turns them into a block-diagonal attention mask and positions that restart at each document.
The mask is built by transformers' own mask factory (``masking_utils.create_bidirectional_mask``
with ``packed_sequence_mask_function``) for the model's attention implementation: a 4D boolean
mask for SDPA and eager, a FlexAttention ``BlockMask`` (whose fully masked blocks are skipped)
for ``flex_attention``, which :func:`select_attention` picks on CUDA when torch has it.
ModernBERT gets a mask for its global layers and one for its local (sliding-window) layers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lmtui.data.batches import IGNORE_INDEX
from lmtui.errors import ProjectError
from lmtui.project.lines import line_of
from lmtui.project.load import project_text
from lmtui.project.presets import DISTILBERT_NAMES, resolve_shape
from lmtui.runs.modelref import resolve_project_model


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
    if arch == "modernbert" and "layer_types" not in values:
        # derived when the config is created (22 layers): one per layer of this depth, every third
        # layer global as in ModernBERT (Warner et al. 2024), else save_pretrained refuses the config
        config.layer_types = ["sliding_attention" if i % 3 else "full_attention"
                              for i in range(config.num_hidden_layers)]
    config.architectures = [{"bert": "BertForMaskedLM", "roberta": "RobertaForMaskedLM",
                             "distilbert": "DistilBertForMaskedLM", "modernbert": "ModernBertForMaskedLM"}[arch]]
    return config


def build_model(project, tokenizer):
    """A ``*ForMaskedLM`` model: random init from the config, or to continue pretraining, the
    model ``init_from`` names (:func:`lmtui.runs.modelref.resolve_project_model`: a model folder,
    a run, a project's latest finished run, a cached Hub model), its embeddings resized when the
    tokenizer's vocabulary is larger.

    Raises:
        ProjectError: ``init_from`` names no model, or a ``config_overrides`` key is unknown.
    """
    from transformers import AutoModelForMaskedLM

    m = project.model
    if m.init_from:
        folder = resolve_project_model(project, m.init_from, "model.init_from", project_text(project)).folder
        model = AutoModelForMaskedLM.from_pretrained(folder, attn_implementation=m.attn_implementation)
        if model.get_input_embeddings().num_embeddings < len(tokenizer):
            model.resize_token_embeddings(padded_vocab_size(len(tokenizer)))
        return model
    config = build_config(project, tokenizer)
    return AutoModelForMaskedLM.from_config(config, attn_implementation=m.attn_implementation)


def flex_attention_available() -> bool:
    """Whether this torch has FlexAttention (torch.nn.attention.flex_attention, torch >= 2.5)."""
    import importlib.util

    try:
        return importlib.util.find_spec("torch.nn.attention.flex_attention") is not None
    except ModuleNotFoundError:  # no torch.nn.attention package at all
        return False


def select_attention(model, documents: bool, device_type: str) -> None:
    """Pick the attention kernel: with document packing on CUDA, switch ``model`` to transformers'
    ``flex_attention`` (a document ``BlockMask``: blocks with no document in common are skipped)
    when torch has FlexAttention; otherwise keep the configured kernel (``[model]
    attn_implementation``), with a materialized block-diagonal mask under document packing."""
    if documents and device_type == "cuda" and flex_attention_available():
        model.set_attn_implementation("flex_attention")


def attention_kernel(model, documents: bool) -> str:
    """The attention kernel ``model`` runs, as ``train_start`` reports it: e.g. "sdpa", "sdpa
    (block-diagonal mask)", "flex_attention (document block mask)"."""
    kernel = model.config._attn_implementation
    if not documents:
        return kernel
    return f"{kernel} (document block mask)" if kernel == "flex_attention" else f"{kernel} (block-diagonal mask)"


def document_inputs(model, segments: torch.Tensor) -> dict:
    """``attention_mask`` and ``position_ids`` for the encoder of ``model`` on rows of packed documents.

    Args:
        segments: int64 (B, T), equal ids on the tokens of one document (0 on padding, which
            then attends to padding only).

    Returns:
        attention_mask: what transformers' mask factory builds for the model's attention
        implementation with a token attending to the tokens of its own document only (for
        ModernBERT a dict of the global and the sliding-window mask); position_ids (B, T): the
        index of each token within its document, offset by ``pad_token_id + 1`` for RoBERTa
        (whose positions start there).
    """
    from transformers.masking_utils import (create_bidirectional_mask, create_bidirectional_sliding_window_mask,
                                            packed_sequence_mask_function)

    batch, length = segments.shape
    index = torch.arange(length, device=segments.device).expand(batch, length)
    starts = torch.ones_like(segments, dtype=torch.bool)
    starts[:, 1:] = segments[:, 1:] != segments[:, :-1]
    positions = index - torch.where(starts, index, 0).cummax(dim=1).values
    if model.base_model_prefix == "roberta":
        positions = positions + model.config.pad_token_id + 1
    # the factory reads only the batch size, length, dtype and device of the embeddings
    shape_only = torch.empty((batch, length, 0), dtype=model.dtype, device=segments.device)
    kwargs = dict(config=model.config, inputs_embeds=shape_only, attention_mask=None,
                  and_mask_function=packed_sequence_mask_function(segments))
    mask = create_bidirectional_mask(**kwargs)
    if model.base_model_prefix == "model":  # ModernBERT: global and local layers
        mask = {"full_attention": mask, "sliding_attention": create_bidirectional_sliding_window_mask(**kwargs)}
    return {"attention_mask": mask, "position_ids": positions}


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

    With ``documents`` (document packing), ``attention_mask`` holds the segment ids of packed
    documents and goes through :func:`document_inputs`.
    """

    def __init__(self, model, documents: bool = False):
        super().__init__()
        self.model = model
        self.encoder = getattr(model, model.base_model_prefix)
        self.head = mlm_head(model)
        self.documents = documents

    def masked_logits(self, input_ids, labels, attention_mask=None, positions=None):
        """(last hidden states (B, T, hidden), logits (n, vocab) of the selected positions, their (n,)
        targets): the encoder on the whole batch, the head on the selected rows only (the
        arguments as :meth:`forward`'s). A distillation's teacher and student both go through it."""
        inputs = {"attention_mask": attention_mask}
        if self.documents and attention_mask is not None:
            inputs = document_inputs(self.model, attention_mask)
        states = self.encoder(input_ids=input_ids, **inputs).last_hidden_state
        if positions is None:
            selected = labels != IGNORE_INDEX
            hidden, targets = states[selected], labels[selected]
        else:
            hidden, targets = states.flatten(0, 1).index_select(0, positions), labels
        return states, self.head(hidden), targets

    def forward(self, input_ids, labels, attention_mask=None, positions=None, accuracy=True):
        _, logits, targets = self.masked_logits(input_ids, labels, attention_mask, positions)
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
