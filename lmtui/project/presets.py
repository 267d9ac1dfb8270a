"""Model size presets and the shape arithmetic shared by validation and model building.

Sizes follow the BERT miniatures table of Turc et al. 2019, "Well-Read Students Learn
Better" (google-research/bert README): L layers, H hidden size, H/64 heads, 4H feed-forward.
ModernBERT uses its own feed-forward ratio of 1.5H (GLU), as in answerdotai/ModernBERT-base.
"""

from __future__ import annotations

SIZES = {  # name: (layers, hidden)
    "tiny": (2, 128),
    "mini": (4, 256),
    "small": (4, 512),
    "medium": (8, 512),
    "base": (12, 768),
    "large": (24, 1024),
}

# Generic names used by lmtui -> DistilBERT's config names.
DISTILBERT_NAMES = {"hidden_size": "dim", "num_hidden_layers": "n_layers",
                    "num_attention_heads": "n_heads", "intermediate_size": "hidden_dim"}

SPECIAL_TOKENS = {
    "byte_level_bpe": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    "unigram": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    "wordpiece": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
}


def position_offset(architecture: str) -> int:
    """Positions a model reserves before the first token: 2 for RoBERTa (padding_idx + 1), else 0."""
    return 2 if architecture == "roberta" else 0


def minimum_vocab_size(kind: str) -> int:
    """Smallest usable vocabulary: the special tokens, plus the 256 byte symbols for byte-level BPE."""
    return len(SPECIAL_TOKENS[kind]) + (256 if kind == "byte_level_bpe" else 1)


def resolve_shape(model, max_seq_length: int) -> dict:
    """The model's shape after the size preset, ``config_overrides`` and derived positions.

    Args:
        model: the project's ``[model]`` section.
        max_seq_length: the training sequence length in tokens.

    Returns:
        dict with generic keys ``num_hidden_layers``, ``hidden_size``, ``num_attention_heads``,
        ``intermediate_size``, ``max_position_embeddings`` (DistilBERT names in the overrides
        are mapped back to these).
    """
    layers, hidden = SIZES[model.size]
    ff = hidden * 3 // 2 if model.architecture == "modernbert" else 4 * hidden
    shape = {"num_hidden_layers": layers, "hidden_size": hidden, "num_attention_heads": max(1, hidden // 64),
             "intermediate_size": ff,
             "max_position_embeddings": max_seq_length + position_offset(model.architecture)}
    reverse = {v: k for k, v in DISTILBERT_NAMES.items()}
    for name, value in (model.config_overrides or {}).items():
        generic = reverse.get(name, name)
        if generic in shape:
            shape[generic] = value
    return shape
