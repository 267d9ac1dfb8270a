"""A project's summary before it runs: corpus files and sizes, model size, tokens per step, run time.

Estimates only, computed without torch or transformers:

- parameters from the resolved shape (:func:`lmtui.project.presets.resolve_shape`) and the
  standard BERT-family layout: token, position (and type) embeddings, per layer the
  attention projections, two feed-forward matrices and two LayerNorms, and the MLM head's
  transform, LayerNorm and output bias (the output matrix is tied to the embeddings).
  ModernBERT: gated feed-forward, no biases, no position embeddings.
- run time from ``6 x parameters x tokens`` training FLOPs (Kaplan et al. 2020), at the
  throughput measured by this project's latest run when there is one, else at a rough
  device figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lmtui.errors import LmtuiError
from lmtui.project.presets import resolve_shape
from lmtui.project.schema import Project

# The model's embedding matrix is padded to a multiple of this (lmtui.train.model.padded_vocab_size).
VOCAB_MULTIPLE = 64
# Rough sustained training throughput when no run of the project has measured one.
ASSUMED_FLOPS = {"cpu": 1.0e11, "cuda": 1.0e14}
# Without a tokenized corpus, tokens are estimated from bytes (English BPE: about 4 bytes a token).
BYTES_PER_TOKEN = 4.0


def estimate_parameters(project: Project, vocab_size: int | None = None) -> int:
    """Approximate parameter count of the project's model (within about 1% for the presets)."""
    m = project.model
    shape = resolve_shape(m, project.training.max_seq_length)
    h, layers, ff = shape["hidden_size"], shape["num_hidden_layers"], shape["intermediate_size"]
    v = vocab_size or project.tokenizer.vocab_size
    v = -(-v // VOCAB_MULTIPLE) * VOCAB_MULTIPLE
    if m.architecture == "modernbert":
        per_layer = 3 * h * h + h * h + h * (2 * ff) + ff * h + 2 * h
        return v * h + h + layers * per_layer + (h * h + h) + v
    embeddings = v * h + shape["max_position_embeddings"] * h + 2 * h
    if m.architecture in ("bert", "roberta"):
        embeddings += (2 if m.architecture == "bert" else 1) * h
    per_layer = 4 * (h * h + h) + 2 * h + (h * ff + ff) + (ff * h + h) + 2 * h
    head = h * h + h + 2 * h + v
    return embeddings + layers * per_layer + head


def tokens_per_step(project: Project) -> int:
    """Tokens per optimizer step: global batch size x sequence length (an upper bound with line_by_line)."""
    return project.training.batch_size * project.training.max_seq_length


@dataclass
class ProjectSummary:
    """What the projects screen shows beside a project.

    Attributes:
        files: (path, bytes) of the training files, then the validation files in ``validation``.
        parameters: estimated parameter count.
        tokens_per_step: tokens per optimizer step.
        steps: optimizer steps (estimated from the corpus size when the project trains by epochs).
        steps_estimated: whether ``steps`` is an estimate.
        seconds: estimated run time of the pretraining stage.
        throughput_source: where the throughput behind ``seconds`` comes from.
        corpus_error: why the corpus could not be listed, if it could not.
    """

    files: list[tuple[Path, int]] = field(default_factory=list)
    validation: list[tuple[Path, int]] = field(default_factory=list)
    parameters: int = 0
    tokens_per_step: int = 0
    steps: int = 0
    steps_estimated: bool = False
    seconds: float | None = None
    throughput_source: str = ""
    corpus_error: str | None = None

    @property
    def corpus_bytes(self) -> int:
        return sum(size for _, size in self.files)


def summarize(project: Project, *, measured_tokens_per_s: float | None = None,
              device: str | None = None) -> ProjectSummary:
    """Build the summary of ``project``; never raises for corpus problems (they land in ``corpus_error``).

    Args:
        measured_tokens_per_s: throughput of this project's latest run, if any.
        device: ``cuda`` or ``cpu`` for the fallback throughput (default: the project's device
            setting, ``auto`` counting as cuda only when an NVIDIA GPU is visible).
    """
    from lmtui.data.sources import corpus_files

    out = ProjectSummary(parameters=estimate_parameters(project), tokens_per_step=tokens_per_step(project))
    try:
        train, valid = corpus_files(project)
        out.files = [(p, p.stat().st_size) for p in train]
        out.validation = [(p, p.stat().st_size) for p in valid]
    except (LmtuiError, OSError) as exc:
        out.corpus_error = exc.format() if isinstance(exc, LmtuiError) else str(exc)
    tr = project.training
    if tr.max_steps:
        out.steps = tr.max_steps
    elif out.files:
        share = 1.0 if project.corpus.validation_files else 1.0 - project.corpus.validation_split
        tokens = out.corpus_bytes * share / BYTES_PER_TOKEN
        out.steps = max(1, int(tokens * tr.epochs / out.tokens_per_step))
        out.steps_estimated = True
    total_tokens = out.steps * out.tokens_per_step
    if measured_tokens_per_s:
        out.seconds = total_tokens / measured_tokens_per_s
        out.throughput_source = f"at {measured_tokens_per_s:,.0f} tokens/s measured by the latest run"
    elif total_tokens:
        dev = device or _device_guess(project)
        out.seconds = 6 * out.parameters * total_tokens / ASSUMED_FLOPS[dev]
        out.throughput_source = f"rough, at {ASSUMED_FLOPS[dev]:.0e} FLOP/s assumed on {dev}"
    return out


def _device_guess(project: Project) -> str:
    setting = project.hardware.device
    if setting != "auto":
        return setting
    from lmtui.hardware import gpu_count

    return "cuda" if gpu_count() else "cpu"
