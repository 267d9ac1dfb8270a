"""A ModernBERT config built from a size preset keeps one attention type per layer, so it saves.

transformers' ModernBertConfig derives ``layer_types`` (22 entries by default) when it is
created; setting ``num_hidden_layers`` afterwards left 22 types for a 2-layer model, and
``save_pretrained`` (every checkpoint) refused the config.
"""

from __future__ import annotations

from support.cli import DATA

from lmtui.project.load import parse_project
from lmtui.train.model import build_config


class _Tokenizer:
    pad_token_id, cls_token_id, sep_token_id = 1, 0, 2

    def __len__(self) -> int:
        return 1000


def _config(size: str, overrides: str = ""):
    project = parse_project(f"""
[corpus]
train_files = ["{DATA}/prose/train.txt"]
[model]
architecture = "modernbert"
size = "{size}"
{overrides}
""", "mb.toml")
    return build_config(project, _Tokenizer())


def test_layer_types_follow_the_preset_depth_and_the_config_saves(tmp_path):
    config = _config("tiny")
    assert config.layer_types == ["full_attention", "sliding_attention"]
    config.save_pretrained(tmp_path)
    assert len(_config("base").layer_types) == 12


def test_layer_types_from_config_overrides_are_kept():
    config = _config("tiny", 'config_overrides = { layer_types = ["full_attention", "full_attention"] }')
    assert config.layer_types == ["full_attention", "full_attention"]
