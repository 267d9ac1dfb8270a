"""Recipe presets: the published pretraining hyperparameters of four masked language models.

``[training] recipe = NAME`` sets the keys of :data:`RECIPES` [NAME]; a key written in the
project's ``[training]`` table (or given with ``--set``) wins over the preset
(:func:`apply_recipe`, called by :func:`lmtui.project.load.build_project`). A preset sets the
masking, the optimizer's betas, epsilon and weight decay, the warmup, the schedule and the
gradient clipping. It leaves the learning rate, the batch sizes and the number of steps to the
project: those are tied to the model size and the hardware, and each paper tuned them for its
own (BERT-base at batch 256, RoBERTa at batch 8k, ModernBERT at 4.7M tokens a batch).

Sources, one per preset; every value names where it is stated:

- bert: Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers for Language
  Understanding", Section 3.1 (masking) and Appendix A.2 (optimizer); the epsilon and the
  clipping norm are those of the authors' code (google-research/bert ``optimization.py``).
- roberta: Liu et al. 2019, "RoBERTa: A Robustly Optimized BERT Pretraining Approach",
  Section 2 (masking, kept from BERT) and Table 9 (pretraining hyperparameters, the base model).
- cramming: Geiping & Goldstein 2023, "Cramming: Training a Language Model on a Single GPU in
  One Day", the final recipe as released with the paper (JonasGeiping/cramming,
  ``cramming/config/train/bert-o4.yaml``). Its one-cycle schedule rises to the peak learning
  rate over the first 75% of the budget (from 25% of the peak; here from 0) and decays linearly
  to zero; its batch-size ramp is not reproduced.
- modernbert: Warner et al. 2024, "Smarter, Better, Faster, Longer: A Modern Bidirectional
  Encoder" (ModernBERT), Section 2.2 and Appendix A (ModernBERT-base): 30% masking, a
  warmup-stable-decay schedule with a 3B-token warmup and a 1-sqrt decay over the last 50B of
  about 2T tokens, StableAdamW without gradient clipping (lmtui's AdamW takes its betas,
  epsilon and weight decay).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Setting:
    """One preset value and where it is published."""

    value: object
    source: str


_BERT = "Devlin et al. 2019"
_ROBERTA = "Liu et al. 2019, Table 9"
_CRAMMING = "Geiping & Goldstein 2023, train/bert-o4.yaml"
_MODERNBERT = "Warner et al. 2024"

RECIPES: dict[str, dict[str, Setting]] = {
    "bert": {
        "mlm_probability": Setting(0.15, f"{_BERT}, Sec. 3.1: 15% of the tokens"),
        "mask_replace_prob": Setting(0.8, f"{_BERT}, Sec. 3.1: 80% [MASK]"),
        "random_replace_prob": Setting(0.1, f"{_BERT}, Sec. 3.1: 10% random token"),
        "adam_beta1": Setting(0.9, f"{_BERT}, App. A.2"),
        "adam_beta2": Setting(0.999, f"{_BERT}, App. A.2"),
        "adam_epsilon": Setting(1e-6, "google-research/bert optimization.py (epsilon=1e-6)"),
        "weight_decay": Setting(0.01, f"{_BERT}, App. A.2: L2 weight decay 0.01"),
        "warmup_steps": Setting(0, "warmup given as a ratio"),
        "warmup_ratio": Setting(0.01, f"{_BERT}, App. A.2: 10,000 of 1,000,000 steps"),
        "lr_scheduler": Setting("linear", f"{_BERT}, App. A.2: linear decay"),
        "max_grad_norm": Setting(1.0, "google-research/bert optimization.py (clip_norm=1.0)"),
    },
    "roberta": {
        "mlm_probability": Setting(0.15, "Liu et al. 2019, Sec. 2.3 (BERT's masking, dynamic)"),
        "mask_replace_prob": Setting(0.8, "Liu et al. 2019, Sec. 2.3"),
        "random_replace_prob": Setting(0.1, "Liu et al. 2019, Sec. 2.3"),
        "adam_beta1": Setting(0.9, _ROBERTA),
        "adam_beta2": Setting(0.98, _ROBERTA),
        "adam_epsilon": Setting(1e-6, _ROBERTA),
        "weight_decay": Setting(0.01, _ROBERTA),
        "warmup_steps": Setting(0, "warmup given as a ratio"),
        "warmup_ratio": Setting(0.048, f"{_ROBERTA}: 24k of 500k steps (base)"),
        "lr_scheduler": Setting("linear", f"{_ROBERTA}: linear decay"),
        "max_grad_norm": Setting(0.0, f"{_ROBERTA}: gradient clipping 0.0"),
    },
    "cramming": {
        "mlm_probability": Setting(0.25, f"{_CRAMMING}: mlm_probability 0.25"),
        "mask_replace_prob": Setting(0.8, f"{_CRAMMING}: use_80_20_rule"),
        "random_replace_prob": Setting(0.1, f"{_CRAMMING}: use_80_20_rule"),
        "adam_beta1": Setting(0.9, f"{_CRAMMING}: betas [0.9, 0.98]"),
        "adam_beta2": Setting(0.98, f"{_CRAMMING}: betas [0.9, 0.98]"),
        "adam_epsilon": Setting(1e-12, f"{_CRAMMING}: eps 1e-12"),
        "weight_decay": Setting(0.01, f"{_CRAMMING}: weight_decay 0.01"),
        "warmup_steps": Setting(0, "warmup given as a ratio"),
        "warmup_ratio": Setting(0.75, f"{_CRAMMING}: budget-triangle2, peak at 75% of the budget"),
        "lr_scheduler": Setting("linear", f"{_CRAMMING}: budget-triangle2, linear decay to 0"),
        "max_grad_norm": Setting(0.5, f"{_CRAMMING}: gradient_clipping 0.5"),
    },
    "modernbert": {
        "mlm_probability": Setting(0.3, f"{_MODERNBERT}, Sec. 2.2: 30% masking"),
        "mask_replace_prob": Setting(0.8, f"{_MODERNBERT}: BERT's 80/10/10"),
        "random_replace_prob": Setting(0.1, f"{_MODERNBERT}: BERT's 80/10/10"),
        "adam_beta1": Setting(0.9, f"{_MODERNBERT}, App. A: betas (0.90, 0.98)"),
        "adam_beta2": Setting(0.98, f"{_MODERNBERT}, App. A: betas (0.90, 0.98)"),
        "adam_epsilon": Setting(1e-6, f"{_MODERNBERT}, App. A: epsilon 1e-6"),
        "weight_decay": Setting(1e-5, f"{_MODERNBERT}, App. A: weight decay 1e-5"),
        "warmup_steps": Setting(0, "warmup given as a ratio"),
        "warmup_ratio": Setting(0.0015, f"{_MODERNBERT}, Sec. 2.2: 3B of about 2T tokens"),
        "lr_scheduler": Setting("wsd", f"{_MODERNBERT}, Sec. 2.2: warmup-stable-decay"),
        "decay_ratio": Setting(0.025, f"{_MODERNBERT}, Sec. 2.2: 1-sqrt decay over 50B of about 2T tokens"),
        "max_grad_norm": Setting(0.0, f"{_MODERNBERT}, Sec. 2.2: StableAdamW instead of gradient clipping"),
    },
}


def apply_recipe(training, written) -> object:
    """``training`` (a :class:`lmtui.project.sections.core.TrainingSection`) with its recipe's
    values for every key not in ``written`` (the keys of the project's ``[training]`` table);
    unchanged when ``recipe`` is "none"."""
    preset = RECIPES.get(training.recipe, {})
    return replace(training, **{k: s.value for k, s in preset.items() if k not in written})


def resolved_recipe(training, written) -> list[tuple[str, object, str]]:
    """(key, value, origin) for each key a recipe sets, in the section's order: origin is the
    preset value's source, or "written in the project" where the project overrides it; empty
    when ``recipe`` is "none"."""
    preset = RECIPES.get(training.recipe, {})
    return [(f.name, getattr(training, f.name),
             "written in the project" if f.name in written else preset[f.name].source)
            for f in fields(training) if f.name in preset]
