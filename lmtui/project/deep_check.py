"""Checks that need torch or transformers: the device the project asks for, and the model config
built with its parameter count (or, with ``init_from``, the loaded model's config.json, read as
json). Both import lazily, so importing this module stays cheap."""

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
    one-line summary. With ``init_from`` nothing is built: the project is checked against the
    loaded model's config.json (:func:`lmtui.project.init_from.check_against_model`, json only)
    and the summary names the model and its shape.

    Args:
        project: the loaded project.
        text: its file's text, for line numbers in messages.

    Raises:
        ProjectError: ``device = "cuda"`` without a CUDA device, an override that is not a
            field of the config, or an ``init_from`` the project contradicts.
    """
    check_device(project, text)
    if project.model.init_from:
        from lmtui.project.init_from import check_against_model, describe

        return describe(*check_against_model(project, text))
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
