"""The teacher of a distillation: where ``[distill] teacher`` leads, its config, and the frozen model.

``teacher`` takes the forms of every model reference (a run directory, a model folder, a run id or
unique prefix, a project name, a Hub model id in the local cache), resolved by the one resolver
(:func:`lmtui.runs.modelref.resolve_project_model`), with the messages naming ``distill.teacher``.
Resolution and the config read need json only; :func:`load_teacher` imports torch and transformers.
"""

from __future__ import annotations

from pathlib import Path

from lmtui.project.lines import line_of
from lmtui.project.paths import resolve_path
from lmtui.runs.modelref import InitSource, read_model_config, resolve_project_model

# model_type -> transformers families whose *ForMaskedLM lmtui's masked-positions head knows
# (lmtui.train.model.mlm_head: base_model_prefix bert, roberta, distilbert, model).
MASKED_LM_TYPES = ("bert", "roberta", "xlm-roberta", "camembert", "distilbert", "modernbert")


def where(project, text: str = "") -> dict:
    """file / key / line of ``distill.teacher``, for a :class:`ProjectError`."""
    return {"file": project.path or "<project>", "key": "distill.teacher",
            "line": line_of(text, "distill", "teacher") or line_of(text, "distill")}


def resolve_teacher(project, text: str = "") -> InitSource:
    """The model folder ``[distill] teacher`` names.

    Raises:
        ProjectError: naming the file, ``distill.teacher`` and its line: the teacher does not exist,
            is a run without a final model, an ambiguous run prefix, a Hub id not in the local cache.
    """
    return resolve_project_model(project, project.distill.teacher, "distill.teacher", text)


def teacher_config(project, text: str = "") -> tuple[InitSource, dict]:
    """(source, config.json as a dict) of the teacher.

    Raises:
        ProjectError: as :func:`resolve_teacher`, or an unreadable config.json.
    """
    source = resolve_teacher(project, text)
    return source, read_model_config(source, where(project, text), name="teacher")


def teacher_layer_count(config: dict) -> int:
    """Encoder layers of a teacher's config.json (``num_hidden_layers``, DistilBERT's ``n_layers``)."""
    return int(config.get("num_hidden_layers", config.get("n_layers", 0)))


def teacher_hidden_size(config: dict) -> int:
    """Hidden size of a teacher's config.json (``hidden_size``, DistilBERT's ``dim``)."""
    return int(config.get("hidden_size", config.get("dim", 0)))


def teacher_tokenizer_folder(project) -> Path:
    """The folder of the tokenizer a distillation uses: ``[tokenizer] path`` when set (checked to
    hold the teacher's vocabulary, :mod:`lmtui.distill.checks`), else the teacher's folder."""
    if project.tokenizer.path:
        return Path(resolve_path(project, project.tokenizer.path))
    return resolve_teacher(project).folder


def load_teacher(folder, device, attn_implementation: str = "sdpa"):
    """The teacher as a :class:`lmtui.train.model.MaskedLMObjective` on ``device``, frozen.

    Its parameters have ``requires_grad = False`` and it is in eval mode (no dropout); it is meant
    to be held outside the trained module (not in its ``state_dict``, the optimizer or DDP), so
    ``.train()`` on the student never reaches it. Weights stay in the stored precision; under
    mixed precision the run's autocast computes its forward in the run's precision.
    """
    from transformers import AutoModelForMaskedLM

    from lmtui.train.model import MaskedLMObjective

    model = AutoModelForMaskedLM.from_pretrained(folder, attn_implementation=attn_implementation)
    model.requires_grad_(False)
    teacher = MaskedLMObjective(model).to(device)
    return teacher.eval()


def teacher_hub_id(folder) -> str | None:
    """The Hub model id a teacher folder stands for, for a model card's ``base_model``: the repository
    of a Hugging Face cache snapshot (``.../models--ORG--NAME/snapshots/REV``), or the repository an
    lmtui run's ``model/`` was pushed to (its run.json ``push.repo_id``); None otherwise."""
    import json
    import re

    folder = Path(folder)
    for part in folder.parts:
        m = re.fullmatch(r"models--(.+)", part)
        if m:
            return m.group(1).replace("--", "/")
    try:
        state = json.loads((folder.parent / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    push = state.get("push") if isinstance(state, dict) else None
    return push.get("repo_id") if isinstance(push, dict) and folder.name == "model" else None
