"""Checks that need torch or transformers: the device the project asks for, and the model config
built with its parameter count. Both import lazily, so importing this module stays cheap."""

from __future__ import annotations


def check_device(project, text: str = "") -> None:
    """Refuse ``[hardware] device = "cuda"`` on a machine where torch sees no CUDA device
    (:func:`lmtui.train.devices.require_device`). ``auto`` and ``cpu`` always work, so torch is
    imported only for ``cuda``.

    Raises:
        ProjectError: naming the file, ``hardware.device`` and its line in ``text``.
    """
    if project.hardware.device != "cuda":
        return
    from lmtui.train.devices import require_device

    require_device(project, text)


def deep_check(project, text: str = "") -> str:
    """Check the device (:func:`check_device`), build the architecture's config (validating
    ``config_overrides``) with a stand-in vocabulary of ``[tokenizer] vocab_size``, and return a
    one-line summary.

    Args:
        project: the loaded project.
        text: its file's text, for line numbers in messages.

    Raises:
        ProjectError: ``device = "cuda"`` without a CUDA device, or an override that is not a
            field of the config.
    """
    check_device(project, text)
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
