"""A checkpoint save does not print accelerate's "Removed shared tensor" warning: the objective
registers the encoder and head of the model it wraps under second names and the decoder is tied
to the embeddings, so the shared tensors are expected."""

from __future__ import annotations

import logging


class _Tokenizer:
    def save_pretrained(self, folder):
        return []


def test_a_checkpoint_save_is_quiet_about_expected_shared_tensors(tmp_path, capfd, caplog):
    from accelerate import Accelerator
    from transformers import BertConfig, BertForMaskedLM

    from lmtui.runs.rundir import RunDir
    from lmtui.train.checkpoint import TrainState, save_checkpoint
    from lmtui.train.model import MaskedLMObjective

    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16)
    accelerator = Accelerator(cpu=True)
    objective = accelerator.prepare(MaskedLMObjective(BertForMaskedLM(config)))
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    caplog.set_level(logging.WARNING)
    folder = save_checkpoint(accelerator, run, objective, _Tokenizer(), TrainState(step=1, max_steps=2), keep=2)
    assert (folder / "trainer_state.json").is_file()
    out, err = capfd.readouterr()
    assert "Removed shared tensor" not in out + err + caplog.text
