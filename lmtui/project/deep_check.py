"""Checks that need transformers: build the model config and count its parameters."""

from __future__ import annotations


def deep_check(project) -> str:
    """Build the architecture's config (validating ``config_overrides``) with a stand-in
    vocabulary of ``[tokenizer] vocab_size`` and return a one-line summary.

    Raises:
        ProjectError: an override is not a field of the config.
    """
    if project.model.init_from:
        return f"continues pretraining {project.model.init_from}"
    import torch
    from transformers import AutoModelForMaskedLM

    from lmtui.train.model import build_config, parameter_counts

    class _Vocab:  # the tokenizer does not exist before the run: its size and ids stand in
        pad_token_id, cls_token_id, sep_token_id = 1, 0, 2

        def __len__(self):
            return project.tokenizer.vocab_size

    config = build_config(project, _Vocab())
    with torch.device("meta"):
        model = AutoModelForMaskedLM.from_config(config)
    total, non_embedding = parameter_counts(model)
    return f"{project.model.architecture}/{project.model.size}: {total / 1e6:.1f}M parameters, " \
           f"{non_embedding / 1e6:.1f}M non-embedding"
