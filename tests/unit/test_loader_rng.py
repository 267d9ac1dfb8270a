"""Starting the training loader draws nothing from torch's global random state, so dropout after
a resume (accelerate's load_state restores that state) matches an uninterrupted run bit for bit."""

from __future__ import annotations

from types import SimpleNamespace

import torch


def test_starting_the_loader_leaves_the_global_rng_alone():
    from lmtui.train.pretrain import train_batches

    accelerator = SimpleNamespace(process_index=0, num_processes=1, device=torch.device("cpu"))
    seqs = SimpleNamespace(cache=SimpleNamespace(), length=8)
    t = SimpleNamespace(accelerator=accelerator, train_seqs=seqs, masking=None, accumulation=1,
                        tr=SimpleNamespace(seed=7, batch_size=2, micro_batch_size=2))
    torch.manual_seed(0)
    expected = torch.rand(4)
    torch.manual_seed(0)
    batches = train_batches(t, SimpleNamespace(dataloader_num_workers=0), step=3)
    assert torch.equal(torch.rand(4), expected)
    del batches
