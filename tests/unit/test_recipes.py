"""[training] recipe presets, the wsd schedule, and the packing key's rules.

The expected values below are copied from the cited sources, independently of
lmtui/project/recipes.py: a preset that drifts from its paper fails here.
"""

from __future__ import annotations

import types

import pytest
import torch
from support.cli import DATA, write_project

from lmtui.errors import ProjectError
from lmtui.project.freeze import frozen_text
from lmtui.project.load import load_project, parse_project
from lmtui.train.optim import schedule, wsd_phases

PUBLISHED = {
    # Devlin et al. 2019: Sec. 3.1 (15%, 80/10/10), App. A.2 (Adam 0.9/0.999, L2 0.01, warmup 10k
    # of 1M steps, linear decay); google-research/bert optimization.py (epsilon 1e-6, clip 1.0)
    "bert": dict(mlm_probability=0.15, mask_replace_prob=0.8, random_replace_prob=0.1, adam_beta1=0.9,
                 adam_beta2=0.999, adam_epsilon=1e-6, weight_decay=0.01, warmup_ratio=10_000 / 1_000_000,
                 lr_scheduler="linear", max_grad_norm=1.0),
    # Liu et al. 2019, Table 9 (base): warmup 24k of 500k steps, eps 1e-6, betas 0.9/0.98, decay 0.01,
    # clipping 0.0, linear decay; masking as BERT (Sec. 2.3)
    "roberta": dict(mlm_probability=0.15, mask_replace_prob=0.8, random_replace_prob=0.1, adam_beta1=0.9,
                    adam_beta2=0.98, adam_epsilon=1e-6, weight_decay=0.01, warmup_ratio=24_000 / 500_000,
                    lr_scheduler="linear", max_grad_norm=0.0),
    # Geiping & Goldstein 2023, cramming/config/train/bert-o4.yaml: mlm 0.25 with the 80/10/10 rule,
    # AdamW betas [0.9, 0.98], eps 1e-12, weight decay 0.01, clipping 0.5, budget-triangle2
    # (falloff 0.25: the peak at 75% of the budget, then linear decay)
    "cramming": dict(mlm_probability=0.25, mask_replace_prob=0.8, random_replace_prob=0.1, adam_beta1=0.9,
                     adam_beta2=0.98, adam_epsilon=1e-12, weight_decay=0.01, warmup_ratio=1 - 0.25,
                     lr_scheduler="linear", max_grad_norm=0.5),
    # Warner et al. 2024 (ModernBERT-base): 30% masking, betas (0.90, 0.98), eps 1e-6, weight decay
    # 1e-5, warmup 3B tokens, 1-sqrt decay over 50B, of about 2T tokens; StableAdamW, no clipping
    "modernbert": dict(mlm_probability=0.30, mask_replace_prob=0.8, random_replace_prob=0.1, adam_beta1=0.9,
                       adam_beta2=0.98, adam_epsilon=1e-6, weight_decay=1e-5, warmup_ratio=3e9 / 2e12,
                       lr_scheduler="wsd", decay_ratio=50e9 / 2e12, max_grad_norm=0.0),
}

BASE = f"""
[corpus]
train_files = ["{DATA}/prose/train.txt"]

[training]
max_steps = 10
"""


def _training(extra: str):
    return parse_project(BASE + extra, "p.toml").training


@pytest.mark.parametrize("recipe", list(PUBLISHED))
def test_each_preset_resolves_to_its_published_values(recipe):
    tr = _training(f'recipe = "{recipe}"\n')
    for key, value in PUBLISHED[recipe].items():
        assert getattr(tr, key) == pytest.approx(value), (recipe, key)
    assert tr.warmup_steps == 0  # the ratio, not a step count, carries the warmup


def test_keys_written_in_the_project_override_the_preset_and_the_rest_stay_default():
    tr = _training('recipe = "modernbert"\nmlm_probability = 0.15\nlr_scheduler = "cosine"\n')
    assert (tr.mlm_probability, tr.lr_scheduler, tr.weight_decay) == (0.15, "cosine", 1e-5)
    assert tr.learning_rate == 5e-4  # learning rate and batch sizes are not part of a preset
    none = _training("")
    assert (none.recipe, none.mlm_probability, none.adam_beta2) == ("none", 0.15, 0.98)


def test_the_frozen_project_keeps_the_resolved_recipe(tmp_path):
    path = write_project(tmp_path, "r", BASE + 'recipe = "cramming"\nadam_epsilon = 1e-8\n')
    frozen = parse_project(frozen_text(load_project(path)), "frozen.toml").training
    assert (frozen.recipe, frozen.mlm_probability, frozen.adam_epsilon, frozen.max_grad_norm) == \
        ("cramming", 0.25, 1e-8, 0.5)


def test_lmtui_check_prints_the_resolved_recipe_with_sources(tmp_path, capsys):
    from lmtui.cli import main

    path = write_project(tmp_path, "r", BASE + 'recipe = "roberta"\nadam_beta2 = 0.999\n')
    assert main(["check", "--no-deep", str(path)]) == 0
    out = capsys.readouterr().out
    assert "recipe roberta:" in out
    assert [line.split() for line in out.splitlines() if "adam_beta2" in line] == \
        [["adam_beta2", "=", "0.999", "written", "in", "the", "project"]]
    assert any(line.split()[:3] == ["warmup_ratio", "=", "0.048"] and "Liu et al. 2019, Table 9" in line
               for line in out.splitlines())


def test_document_packing_with_line_by_line_is_refused(tmp_path):
    path = write_project(tmp_path, "p", BASE + 'line_by_line = true\npacking = "document"\n')
    with pytest.raises(ProjectError) as err:
        load_project(path)
    line = path.read_text().splitlines().index('packing = "document"') + 1
    assert err.value.format().startswith(f"{path}:{line}: [training.packing]")


def test_document_packing_with_a_distillation_is_refused(tmp_path):
    path = write_project(tmp_path, "p", BASE + f'packing = "document"\n[distill]\nteacher = "{tmp_path}"\n')
    with pytest.raises(ProjectError) as err:
        load_project(path)
    assert "[training.packing]" in err.value.format() and "[distill]" in err.value.format()


def test_wsd_phases_and_learning_rates():
    assert wsd_phases(100, 10, 0.2) == (10, 70, 20)
    assert wsd_phases(10, 0, 0.025) == (0, 9, 1)  # at least one decay step
    assert wsd_phases(10, 9, 0.5) == (5, 0, 5)  # the decay keeps its share
    optimizer = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=1.0)
    tr = types.SimpleNamespace(warmup_steps=0, warmup_ratio=0.1, lr_scheduler="wsd", decay_ratio=0.2)
    scheduler, warmup = schedule(optimizer, tr, 100)
    lrs = []
    for _ in range(100):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert warmup == 10
    assert lrs[5] == pytest.approx(0.5) and lrs[10:81] == [1.0] * 71
    assert lrs[85] == pytest.approx(1 - (5 / 20) ** 0.5)  # 1-sqrt decay (Hägele et al. 2024)
    assert scheduler.get_last_lr()[0] == 0.0
