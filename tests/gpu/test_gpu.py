"""What lmtui does on a GPU, checked on the device itself (bench/gpu_check.sh runs ``pytest -m gpu tests/gpu``).

Each check is one function run on every device of :data:`DEVICES`: the CPU (here and in CI, so
the test's own logic is proven where no GPU is) and CUDA, marked ``gpu`` and skipped without a
CUDA device. The models, the loss, the optimizer, the checkpoints and the queue are lmtui's own
(:mod:`lmtui.train.model`, :mod:`lmtui.train.optim`, :mod:`lmtui.train.checkpoint`,
:mod:`lmtui.runs.inventory`, :mod:`lmtui.runs.queue`), built from a project text as a run builds
them; the text is the Python Language Reference (``pydoc_data.topics``, on every Python install).

Tolerances, fp32 unless said (TF32 stays off: torch's default for matmuls):
- document packing: a packed row's logits against each document run alone, largest absolute
  difference at most 1e-5 on the CPU (SDPA with a block-diagonal mask) and 1e-4 on CUDA
  (FlexAttention with a document BlockMask, the kernel the trainer picks there);
- bf16 autocast (accelerate's ``mixed_precision = "bf16"``, as the trainer runs): the MLM loss
  within 2% of the fp32 loss (bf16 keeps 8 bits of mantissa, about 0.4% per rounding);
- a checkpoint resumed: parameters and AdamW moments equal to the saved ones (exactly), and the
  next step's loss equal to the uninterrupted run's within 1e-6.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch
from pydoc_data.topics import topics

from lmtui.data.tokenizer import train_tokenizer
from lmtui.project.load import parse_project
from lmtui.train.model import MaskedLMObjective, attention_kernel, build_model, document_inputs, select_attention

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (bench/gpu_check.sh runs it)")
DEVICES = [pytest.param("cpu", id="cpu"), pytest.param("cuda", id="cuda", marks=[pytest.mark.gpu, CUDA])]
ARCHITECTURES = ("bert", "roberta", "modernbert")
SEQ = 256  # two FlexAttention blocks of 128: the documents of a row cross a block boundary
TOKENIZER = {"bert": "wordpiece", "roberta": "byte_level_bpe", "modernbert": "byte_level_bpe"}
# local_attention 16 < the documents' lengths: ModernBERT's sliding-window layers are exercised too
OVERRIDES = {"bert": "", "roberta": "", "modernbert": "config_overrides = { local_attention = 16 }"}


def paragraphs() -> list[str]:
    """The Language Reference as paragraphs (blank-line separated), in a fixed order."""
    return [p.strip() for key in sorted(topics) for p in topics[key].split("\n\n") if len(p.strip()) > 80]


@pytest.fixture(scope="module")
def tokenizers() -> dict:
    """One tokenizer per kind, trained on the Language Reference (about a second each)."""
    return {kind: train_tokenizer(paragraphs(), kind, vocab_size=2000, model_max_length=SEQ)
            for kind in set(TOKENIZER.values())}


def project(arch: str, **training):
    """A tiny ``arch`` project, parsed as ``lmtui run`` parses one (size preset "tiny")."""
    keys = "\n".join(f"{k} = {v!r}" for k, v in {"max_seq_length": SEQ, **training}.items())
    return parse_project(f"""
[corpus]
train_files = ["reference.txt"]
[tokenizer]
kind = "{TOKENIZER[arch]}"
vocab_size = 2000
[model]
architecture = "{arch}"
size = "tiny"
{OVERRIDES[arch]}
[training]
{keys}
""", f"{arch}.toml")


def model_on(arch: str, tokenizer, device: str, seed: int = 0):
    """lmtui's ``*ForMaskedLM`` for the tiny ``arch`` project, in eval mode on ``device``."""
    torch.manual_seed(seed)
    return build_model(project(arch), tokenizer).to(device).eval()


def documents(tokenizer, lengths=(70, 90, 96)) -> list[torch.Tensor]:
    """Real documents: paragraphs of the Reference cut to ``lengths`` tokens (their sum is :data:`SEQ`)."""
    out, texts = [], iter(paragraphs())
    for n in lengths:
        ids = []
        while len(ids) < n:
            ids = tokenizer(next(texts))["input_ids"]
        out.append(torch.tensor(ids[:n]))
    return out


def masked(row: torch.Tensor, tokenizer, every: int = 7) -> torch.Tensor:
    """MLM labels (-100 except every ``every``-th position) with those inputs set to the mask token."""
    labels = torch.full_like(row, -100)
    labels[:, ::every] = row[:, ::every]
    row[:, ::every] = tokenizer.mask_token_id
    return labels


@pytest.fixture
def fresh_accelerate():
    """accelerate keeps one process-wide state; each test that makes an Accelerator starts clean."""
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    yield
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_document_packed_logits_equal_each_document_alone(arch, device, tokenizers):
    tokenizer = tokenizers[TOKENIZER[arch]]
    model = model_on(arch, tokenizer, device)
    select_attention(model, True, device)  # as the trainer does: FlexAttention on CUDA, SDPA on the CPU
    docs = [d.to(device) for d in documents(tokenizer)]
    row = torch.cat(docs)[None]
    segments = torch.cat([torch.full((len(d),), k + 1, device=device) for k, d in enumerate(docs)])[None]
    with torch.no_grad():
        packed = model(input_ids=row, **document_inputs(model, segments)).logits[0]
        alone = torch.cat([model(input_ids=d[None]).logits[0] for d in docs])
        across = model(input_ids=row).logits[0]  # no document mask: the documents see each other
    tolerance = 1e-4 if device == "cuda" else 1e-5
    expected = "flex_attention (document block mask)" if device == "cuda" else "sdpa (block-diagonal mask)"
    assert attention_kernel(model, True) == expected
    assert (packed - alone).abs().max().item() <= tolerance
    assert (across - alone).abs().max().item() > 100 * tolerance  # the check can tell the two apart


@pytest.mark.parametrize("device", DEVICES)
def test_bf16_autocast_loss_is_the_fp32_loss_within_two_percent(device, tokenizers, fresh_accelerate):
    from accelerate import Accelerator

    tokenizer = tokenizers["byte_level_bpe"]
    accelerator = Accelerator(mixed_precision="bf16", cpu=device == "cpu")
    assert accelerator.device.type == device
    objective = MaskedLMObjective(model_on("roberta", tokenizer, device))
    rows = torch.stack([torch.cat(documents(tokenizer, (SEQ,)))] * 2).to(device)
    rows[1] = rows[1].roll(17)
    labels = masked(rows, tokenizer)
    with torch.no_grad():
        fp32, _, count = objective(rows, labels)
        with accelerator.autocast():
            _, logits, _ = objective.masked_logits(rows, labels)
            bf16, _, _ = objective(rows, labels)
    assert logits.dtype == torch.bfloat16  # autocast is on: the check compares two precisions
    assert count == int((labels != -100).sum())
    assert torch.isfinite(bf16) and abs(bf16.item() - fp32.item()) <= 0.02 * fp32.item()


def _holder(device: str) -> subprocess.Popen:
    """A process in a session of its own (pid = process group, as a run's driver) holding ``device``
    until it is killed; it prints "ready" once it holds it."""
    code = ("import sys, time, torch; x = torch.ones(1 << 20, device=sys.argv[1]); "
            "print('ready', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, device], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("device", DEVICES)
def test_inventory_and_queue_assign_the_real_gpu(device, tmp_path, monkeypatch):
    """NVML lists the device and the process on it; the queue gives the GPU to the run whose process
    holds it and counts every other process on it (none here but this test's own) as foreign.

    On the CPU the inventory is ``LMTUI_FAKE_GPUS="0"`` (one free GPU, no processes)."""
    from lmtui.runs import inventory
    from lmtui.runs.queue import Entry, current_pools, schedule

    if device == "cpu":
        monkeypatch.setenv(inventory.FAKE_GPUS_ENV, "0")
    else:
        monkeypatch.delenv(inventory.FAKE_GPUS_ENV, raising=False)
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    holder = _holder(device)
    try:
        gpus = inventory.gpus()
        if device == "cuda":
            assert len(gpus) == torch.cuda.device_count()
            deadline = time.monotonic() + 10  # NVML lists a new context within moments
            while holder.pid not in gpus[0].pids and time.monotonic() < deadline:
                time.sleep(0.2)
                gpus = inventory.gpus()
            assert holder.pid in gpus[0].pids, f"NVML shows {gpus[0].pids} on GPU 0, not the holder {holder.pid}"
        assert [g.index for g in gpus][:1] == [0]
        others = [p for p in gpus[0].pids if p != holder.pid]  # e.g. this pytest process after a CUDA test
        run = Entry(run=str(tmp_path / "a"), run_id="a", kind="gpu", count=1, pid=holder.pid, enqueued=1.0)
        later = Entry(run=str(tmp_path / "b"), run_id="b", kind="gpu", count=1, pid=os.getpid(), enqueued=2.0)
        pools = current_pools([run])
        schedule([run, later], pools)
        assert all(str(holder.pid) not in why for why in pools.busy.values())  # its own process is not foreign
        if others:
            assert 0 in pools.busy and not run.assigned and "busy: pid" in run.waiting_for
            run.use_busy = True
            schedule([run, later], pools)
        assert run.assigned == [0]
        assert later.assigned is None and "GPU 0 (a)" in later.waiting_for
    finally:
        holder.kill()
        holder.wait()


def _step(objective, optimizer, scheduler, accelerator, rows, labels) -> float:
    with accelerator.autocast():
        loss, _, _ = objective(rows, labels)
    accelerator.backward(loss)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def _training(accelerator, tokenizer, device, seed):
    """lmtui's objective, AdamW (fused on CUDA and the CPU, as the trainer asks) and schedule, prepared."""
    from lmtui.train.optim import pretraining_optimizer, schedule as lr_schedule

    tr = project("roberta", learning_rate=1e-3, warmup_steps=1, max_steps=10).training
    model = model_on("roberta", tokenizer, device, seed).train()
    objective = MaskedLMObjective(model)
    optimizer = pretraining_optimizer(model, tr, fused=device in ("cuda", "cpu"))
    scheduler, _ = lr_schedule(optimizer, tr, 10)
    objective, optimizer = accelerator.prepare(objective, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    return objective, optimizer, scheduler


@pytest.mark.parametrize("device", DEVICES)
def test_checkpoint_saved_and_resumed_on_the_device(device, tokenizers, tmp_path, fresh_accelerate):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    from lmtui.runs.rundir import RunDir
    from lmtui.train.checkpoint import TrainState, checkpoint_problem, resume, save_checkpoint

    tokenizer = tokenizers["byte_level_bpe"]
    rows = torch.stack([torch.cat(documents(tokenizer, (SEQ,)))] * 2)
    rows[1] = rows[1].roll(31)
    labels = masked(rows, tokenizer)
    run = RunDir(tmp_path / "run")
    run.path.mkdir()

    accelerator = Accelerator(cpu=device == "cpu")
    rows, labels = rows.to(accelerator.device), labels.to(accelerator.device)
    objective, optimizer, scheduler = _training(accelerator, tokenizer, device, seed=0)
    state = TrainState(max_steps=10)
    for _ in range(2):
        _step(objective, optimizer, scheduler, accelerator, rows, labels)
        state.advance(int(rows.numel()), 0.1)
    folder = save_checkpoint(accelerator, run, objective, tokenizer, state, keep=2)
    assert folder.name == "step-2" and checkpoint_problem(folder) is None
    saved = {k: v.detach().clone() for k, v in objective.state_dict().items()}
    moments = [optimizer.state[p]["exp_avg"].clone() for group in optimizer.param_groups for p in group["params"]]
    assert moments[0].device.type == device
    next_loss = _step(objective, optimizer, scheduler, accelerator, rows, labels)

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    accelerator = Accelerator(cpu=device == "cpu")
    objective, optimizer, scheduler = _training(accelerator, tokenizer, device, seed=1)  # other weights
    resumed = resume(accelerator, run, 10)
    assert (resumed.step, resumed.tokens) == (2, state.tokens)
    for key, value in objective.state_dict().items():
        assert value.device.type == device and torch.equal(value, saved[key]), key
    again = [optimizer.state[p]["exp_avg"] for group in optimizer.param_groups for p in group["params"]]
    assert all(torch.equal(a, b) for a, b in zip(again, moments, strict=True))
    assert scheduler.last_epoch == 2
    assert abs(_step(objective, optimizer, scheduler, accelerator, rows, labels) - next_loss) <= 1e-6
