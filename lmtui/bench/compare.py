"""Side-by-side training benchmark: the Hugging Face ``run_mlm.py`` pipeline against lmtui.

One invocation trains the same model shape on the same corpus with the same tokenizer files,
first with the baseline (:mod:`lmtui.bench.baseline`: run_mlm.py's datasets.map tokenization,
group_texts or line_by_line [+ pad_to_max_length], DataCollatorForLanguageModeling, Trainer),
then with lmtui's own pipeline (token cache + ``lmtui.driver``, the process ``lmtui run``
starts), and prints one table: real (non-padding) tokens per second, preprocessing time (cold,
and cached for lmtui), peak memory, held-out MLM loss after the same number of steps (so the
same number of sequences), and the ratios.

The corpus is the Python Language Reference by default (:mod:`lmtui.bench.corpora`: on every
machine, 5% of its documents held out), or the ``TRAIN[,VALIDATION]`` text files named. Both
tools load one byte-level BPE tokenizer (:mod:`lmtui.bench.tokenizer`) trained on the training
file, plus the standard library's docstrings when that file alone gives fewer pieces than the
vocabulary asks for.

Both tools get the Trainer's default recipe (AdamW lr 5e-5, betas 0.9/0.999, eps 1e-8, no
weight decay, no warmup, linear decay, clipping at 1.0, dropout 0.1, 15% masking with 80/10/10),
so that the loss column compares implementations, not recipes (``bench/quality.py`` gives the
baseline a tuned recipe). Each tool evaluates the first ``max_eval_samples`` sequences of the
same validation file with its own masks.

Measured the same way for both tools:
- real tokens/s: the tool's count of non-padding training tokens over its training time
  (baseline: ``real_tokens / train_s`` as it prints them; lmtui: the last ``train`` event's
  ``tokens / elapsed_s``; neither counts evaluation, model building or process start);
- preprocessing: the baseline's ``preprocess_s`` (load_dataset + datasets.map); lmtui's
  ``dataset`` stage from a fresh cache folder (cold), then the same stage again (cached);
- peak memory: the largest resident set of any process of the tool (``wait4`` rusage), and on
  CUDA the peak device memory in use while it ran (NVML, when ``nvidia-ml-py`` is installed);
- MFU (CUDA): real tokens/s x lmtui's FLOPs per token / the GPU's dense bf16 peak.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from lmtui.errors import LmtuiError
from lmtui.fsutil import atomic_write_text

DEFAULT_CORPUS = "language-reference"

# Model shapes: the seed's CPU test shape and BERT-base (Devlin et al. 2019) for a GPU.
SHAPES = {
    "seed": dict(hidden_size=128, intermediate_size=512, num_attention_heads=4, num_hidden_layers=2,
                 max_seq_length=128, vocab_size=8000, batch=32, steps=100, precision="fp32"),
    "bert-base": dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                      max_seq_length=128, vocab_size=32000, batch=256, steps=300, precision="bf16"),
}

# Data modes: (baseline flags, lmtui line_by_line).
MODES = {
    "group_texts": ([], False),
    "line_by_line_padded": (["--line_by_line", "--pad_to_max_length"], True),  # the seed workflow's mode
    "line_by_line": (["--line_by_line"], True),  # baseline pads each batch to its longest line
}

@dataclass
class Corpus:
    """Training and validation text files, and the files the tokenizer is trained on."""

    name: str
    train: Path
    validation: Path
    tokenizer_files: list = field(default_factory=list)


@dataclass
class Result:
    """One tool's measurements in one data mode."""

    tool: str
    mode: str
    real_tokens: int = 0
    train_s: float = 0.0
    tokens_per_s: float = 0.0
    preprocess_s: float | None = None
    preprocess_cached_s: float | None = None
    peak_rss_mb: float | None = None
    peak_gpu_mb: float | None = None
    eval_loss: float | None = None
    params: int | None = None
    mfu: float | None = None
    wall_s: float = 0.0
    load_average: float | None = None  # 1-minute load average when the run ended (other work on the machine)
    log: str = ""
    model: str | None = None  # the saved model folder (baseline runs given output_dir)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def resolve_corpus(name: str, work: Path, max_lines: int = 0) -> Corpus:
    """The corpus files for ``name``: ``language-reference`` or ``TRAIN[,VALIDATION]`` text files.

    ``language-reference`` is written to ``work`` (:func:`lmtui.bench.corpora.language_reference`).
    A TRAIN file named alone is split: every 20th line to a validation file in ``work``. With
    ``max_lines``, both files are cut to their first ``max_lines`` lines (copies in ``work``).

    Raises:
        LmtuiError: a named file does not exist (exit code 2).
    """
    from lmtui.bench.corpora import VALIDATION_EVERY, language_reference

    if name == DEFAULT_CORPUS:
        train, valid = language_reference(work)
    else:
        first, _, second = name.partition(",")
        train = Path(first).expanduser().resolve()
        _require(train, "--corpus")
        if second:
            valid = Path(second).expanduser().resolve()
            _require(valid, "--corpus")
        else:
            lines = _lines(train)
            keep = [ln for i, ln in enumerate(lines) if i % VALIDATION_EVERY != VALIDATION_EVERY - 1]
            held = [ln for i, ln in enumerate(lines) if i % VALIDATION_EVERY == VALIDATION_EVERY - 1]
            train, valid = work / f"{train.stem}-train.txt", work / f"{train.stem}-validation.txt"
            atomic_write_text(train, "".join(keep))
            atomic_write_text(valid, "".join(held))
    if max_lines:
        cut_train, cut_valid = work / f"train-{max_lines}.txt", work / f"valid-{max_lines}.txt"
        atomic_write_text(cut_train, "".join(_lines(train)[:max_lines]))
        atomic_write_text(cut_valid, "".join(_lines(valid)[:max_lines]))
        train, valid = cut_train, cut_valid
    return Corpus(name, train, valid, [train])


def _require(path: Path, option: str) -> None:
    if not path.is_file():
        raise LmtuiError(f"{option}: no such file", file=str(path),
                         hint=f"{option} TRAIN.txt[,VALIDATION.txt] names text files, one document per line "
                              f"(default: {DEFAULT_CORPUS}, on every machine)")


def make_tokenizer(corpus: Corpus, vocab_size: int, out: Path, log, extra: bool = True) -> tuple[Path, int]:
    """Train the benchmark's byte-level BPE (:func:`lmtui.bench.tokenizer.train_bpe`) once; every tool loads it.

    It is trained on ``corpus.tokenizer_files``; when those give fewer than ``vocab_size``
    pieces and ``extra`` is true, it is trained again with the standard library's docstrings
    added (:func:`lmtui.bench.corpora.stdlib_docstrings`), which are then appended to
    ``corpus.tokenizer_files``. The vocabulary may still fall short of ``vocab_size`` (the text
    has no more pairs seen twice): both tools size their models by the tokenizer. Returns the
    tokenizer folder and its number of pieces; ``out.files.json`` beside it records both.
    """
    from lmtui.bench.corpora import stdlib_docstrings
    from lmtui.bench.tokenizer import train_bpe

    note = out.with_name(out.name + ".files.json")
    if (out / "tokenizer.json").is_file() and note.is_file():
        known = json.loads(note.read_text())
        corpus.tokenizer_files = [Path(f) for f in known["files"]]
        return out, known["size"]
    size = train_bpe(corpus.tokenizer_files, vocab_size, out)
    if size < vocab_size and extra:
        log(f"tokenizer: {size:,} pieces from {corpus.train.name} alone; adding the standard library's docstrings")
        corpus.tokenizer_files = [*corpus.tokenizer_files, stdlib_docstrings(out.parent)]
        size = train_bpe(corpus.tokenizer_files, vocab_size, out)
    atomic_write_text(note, json.dumps({"files": [str(f) for f in corpus.tokenizer_files], "size": size}))
    log(f"tokenizer: {out} ({size:,} pieces of {vocab_size:,} asked, byte-level BPE)")
    return out, size


class GpuMemorySampler:
    """Peak device memory in use (MiB) above the level at start, sampled every 0.2 s through NVML.

    Does nothing (``peak_mb`` None) without CUDA or ``nvidia-ml-py``.
    """

    def __init__(self):
        self.peak_mb = None
        self._stop = threading.Event()
        self._thread = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(int(os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0] or 0))
        except Exception:  # no NVML library, no GPU, or no nvidia-ml-py: nothing to sample
            self._nvml = None

    def __enter__(self):
        if self._nvml is not None:
            base = self._used()
            self.peak_mb = 0.0

            def loop():
                while not self._stop.wait(0.2):
                    self.peak_mb = max(self.peak_mb, (self._used() - base) / 2 ** 20)

            self._thread = threading.Thread(target=loop, daemon=True)
            self._thread.start()
        return self

    def _used(self) -> int:
        return self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.peak_mb = round(self.peak_mb, 1)


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def run_measured(cmd: list[str], log_path: Path, cwd: Path, env: dict | None = None) -> tuple[int, float, float, float | None]:
    """Run ``cmd`` with output to ``log_path``; returns (exit code, wall seconds, peak RSS MiB, peak GPU MiB).

    The command runs in a session of its own, as the launcher starts a run's driver (the driver
    waits for every process of its group before it finishes). The peak RSS is ``ru_maxrss``
    from ``wait4``: the largest resident set of the process or any descendant it waited for.
    A SIGTERM to this process (``timeout``) ends the command's session too, as Ctrl-C does: its
    own session would otherwise outlive us, holding the CPU or GPU.
    """
    with open(log_path, "ab") as out, GpuMemorySampler() as gpu:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(cwd),
                                env=dict(os.environ, **(env or {})), start_new_session=True)
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _terminated)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C, SIGTERM or an error here: stop the tool's processes, never leave them behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
    rss = usage.ru_maxrss / (2 ** 20 if sys.platform == "darwin" else 1024)
    return proc.returncode, wall, round(rss, 1), gpu.peak_mb


def fingerprint_of(path: Path) -> str:
    """A short name for a corpus file in folder names: its stem and 8 hex digits of its path."""
    import hashlib

    return f"{path.stem}-{hashlib.blake2b(str(path).encode(), digest_size=4).hexdigest()}"


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


@dataclass(frozen=True)
class Recipe:
    """The baseline's optimisation options (TrainingArguments names). The default is the
    Trainer's own recipe, the one ``lmtui bench`` gives both tools."""

    learning_rate: float = 5e-5
    warmup_steps: float = 0.0  # steps, or below 1 the ratio of the total steps
    lr_scheduler_type: str = "linear"
    weight_decay: float = 0.0
    seed: int = 42


def baseline_command(corpus: Corpus, tokenizer: Path, shape: dict, mode: str, args, recipe: Recipe = Recipe(),
                     output_dir: Path | None = None) -> list[str]:
    """The ``python -m lmtui.bench.baseline`` command of one run: ``shape``'s RoBERTa, ``args.steps``
    steps of ``args.batch`` sequences, ``args.precision`` and ``args.compile``, in data ``mode``."""
    overrides = ",".join(f"{k}={shape[k]}" for k in ("hidden_size", "intermediate_size", "num_attention_heads",
                                                     "num_hidden_layers"))
    overrides += f",max_position_embeddings={shape['max_seq_length'] + 2}"
    cmd = [sys.executable, "-m", "lmtui.bench.baseline", "--train_file", str(corpus.train),
           "--validation_file", str(corpus.validation), "--tokenizer_name", str(tokenizer), "--model_type", "roberta",
           "--config_overrides", overrides, "--max_seq_length", str(shape["max_seq_length"]),
           "--per_device_train_batch_size", str(args.batch), "--max_steps", str(args.steps),
           "--max_eval_samples", str(args.max_eval_samples), "--learning_rate", repr(recipe.learning_rate),
           "--warmup_steps", repr(recipe.warmup_steps), "--lr_scheduler_type", recipe.lr_scheduler_type,
           "--weight_decay", repr(recipe.weight_decay), "--seed", str(recipe.seed), *MODES[mode][0]]
    if args.precision == "bf16":
        cmd.append("--bf16")
    if getattr(args, "compile", False):
        cmd.append("--torch_compile")
    if output_dir is not None:
        cmd += ["--output_dir", str(output_dir)]
    return cmd


def run_baseline(corpus: Corpus, tokenizer: Path, shape: dict, mode: str, args, work: Path,
                 recipe: Recipe = Recipe(), name: str = "", save: bool = False) -> Result:
    """Train with :mod:`lmtui.bench.baseline` (a child process, measured) and parse the JSON line it prints.

    The log is ``work/baseline-{name or mode}.log`` (``work/{name}.log`` for a name starting
    with "baseline"); with ``save``, the final model is saved beside it, ``...-model``
    (``Result.model``).

    Raises:
        LmtuiError: the baseline exited non-zero or printed no result (the log is named).
    """
    stem = name if name.startswith("baseline") else f"baseline-{name or mode}"
    log = work / f"{stem}.log"
    log.unlink(missing_ok=True)
    model = work / f"{stem}-model" if save else None
    code, wall, rss, gpu = run_measured(baseline_command(corpus, tokenizer, shape, mode, args, recipe, model), log,
                                        work)
    text = log.read_text(errors="replace")
    line = next((ln for ln in reversed(text.splitlines()) if ln.startswith('{"tool"')), None)
    if code != 0 or line is None:
        raise LmtuiError(f"the baseline failed (exit code {code}) in mode {mode}", file=str(log),
                         hint="read the end of the log")
    out = json.loads(line)
    return Result(out["tool"], mode, real_tokens=out["real_tokens"], train_s=out["train_s"],
                  tokens_per_s=out["real_tokens_per_s"], preprocess_s=out["preprocess_s"], peak_rss_mb=rss,
                  peak_gpu_mb=gpu, eval_loss=out["eval_loss"], params=out["params"], wall_s=round(wall, 1),
                  load_average=_load_average(), log=str(log), model=out.get("model"))


def lmtui_project_text(corpus: Corpus, tokenizer: Path, shape: dict, line_by_line: bool, args) -> str:
    """The lmtui project that matches the baseline run: same files, shape and Trainer-default recipe."""
    micro = args.micro_batch or args.batch // args.processes
    return f"""# written by `lmtui bench`: the baseline's model shape and Trainer-default recipe
[project]
name = "bench"
output_dir = "runs"
cache_dir = "cache"

[corpus]
train_files = [{json.dumps(str(corpus.train))}]
validation_files = [{json.dumps(str(corpus.validation))}]
format = "text"

[tokenizer]
path = {json.dumps(str(tokenizer))}

[model]
architecture = "roberta"
config_overrides = {{ hidden_size = {shape['hidden_size']}, intermediate_size = {shape['intermediate_size']}, \
num_attention_heads = {shape['num_attention_heads']}, num_hidden_layers = {shape['num_hidden_layers']} }}

[training]
max_seq_length = {shape['max_seq_length']}
line_by_line = {str(line_by_line).lower()}
batch_size = {args.batch}
micro_batch_size = {micro}
max_steps = {args.steps}
learning_rate = 5e-5
weight_decay = 0.0
adam_beta1 = 0.9
adam_beta2 = 0.999
adam_epsilon = 1e-8
warmup_steps = 0
warmup_ratio = 0.0
lr_scheduler = "linear"
max_grad_norm = 1.0
logging_steps = {max(1, args.steps // 10)}
eval_steps = {args.steps}
save_steps = {args.steps}
max_eval_samples = {args.max_eval_samples}
compile = {str(args.compile).lower()}

[hardware]
mixed_precision = "{'bf16' if args.precision == 'bf16' else 'no'}"
dataloader_num_workers = {args.workers}
num_processes = {args.processes}
"""


def run_lmtui(corpus: Corpus, tokenizer: Path, shape: dict, mode: str, args, work: Path) -> Result:
    """Train with lmtui's pipeline (the driver ``lmtui run`` starts) from a fresh cache and read its events."""
    from lmtui.data.token_cache import prepare_dataset
    from lmtui.project.load import load_project
    from lmtui.runs import launcher

    folder = work / f"lmtui-{mode}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = folder / "bench.toml"
    path.write_text(lmtui_project_text(corpus, tokenizer, shape, MODES[mode][1], args))
    project = load_project(str(path))
    run, _ = launcher.prepare_run(project, fresh=True)
    code, wall, rss, gpu = run_measured([sys.executable, "-m", "lmtui.driver", str(run.path)], run.log_file, run.path,
                                        env={"PYTHONUNBUFFERED": "1"})
    last = {e["type"]: e for e in run.events()}
    if code != 0 or last.get("end", {}).get("status") != "finished":
        raise LmtuiError(f"the lmtui run failed (exit code {code}) in mode {mode}: {run.read_state().get('error')}",
                         file=str(run.log_file), hint="read the end of the log")
    t0 = time.perf_counter()
    _, _, cached = prepare_dataset(project, run.tokenizer_dir, log=lambda m: None)
    cached_s = time.perf_counter() - t0
    if not cached:
        raise LmtuiError("the second dataset stage rebuilt the token cache instead of reusing it",
                         file=str(run.log_file), hint="a bug: report it with this log")
    train, start = last["train"], last["train_start"]
    tps = train["tokens"] / max(train["elapsed_s"], 1e-9)
    mfu = tps * start["flops_per_token"] / start["peak_flops"] if start.get("peak_flops") else None
    return Result("lmtui", "line_by_line" if MODES[mode][1] else "group_texts", real_tokens=train["tokens"], train_s=train["elapsed_s"], tokens_per_s=round(tps, 1),
                  preprocess_s=last["dataset"]["seconds"], preprocess_cached_s=round(cached_s, 3), peak_rss_mb=rss,
                  peak_gpu_mb=gpu, eval_loss=last["eval"]["loss"], params=start["params"],
                  mfu=None if mfu is None else round(mfu, 4), wall_s=round(wall, 1), load_average=_load_average(),
                  log=str(run.log_file))


def environment() -> dict:
    """Versions and hardware, for the report."""
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    env = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
           "cpu": cpu, "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "gpu": None}
    if torch.cuda.is_available():  # asked in a child process: a CUDA context here would hold GPU memory throughout
        env["gpu"] = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.get_device_name())"],
                                    capture_output=True, text=True).stdout.strip() or "cuda"
    return env


def _fmt(x, spec: str = ",.0f", none: str = "-") -> str:
    return none if x is None else format(x, spec)


def best_runs(runs: list[Result]) -> list[Result]:
    """The fastest run of each (tool, mode), in first-run order, with the shortest preprocessing of any.

    Other work on the machine only ever slows a run down, so the best of several interleaved
    runs is the least disturbed measurement of each tool.
    """
    out = []
    for key in dict.fromkeys((r.tool, r.mode) for r in runs):
        group = [r for r in runs if (r.tool, r.mode) == key]
        shortest = {name: min((getattr(r, name) for r in group if getattr(r, name) is not None), default=None)
                    for name in ("preprocess_s", "preprocess_cached_s")}
        out.append(replace(max(group, key=lambda r: r.tokens_per_s), **shortest))
    return out


def _lmtui_for(results: list[Result], mode: str) -> Result | None:
    """lmtui's result in the data mode (packed or line_by_line) of baseline ``mode``."""
    return next((r for r in results if r.tool == "lmtui" and MODES[r.mode][1] == MODES[mode][1]), None)


def table(results: list[Result], gpu: bool) -> str:
    """The results as a markdown table; each baseline row carries lmtui's speed-up over it.

    ``load`` is the machine's 1-minute load average as the run ended: above the number of
    cores, other work shared the CPU and the absolute rates (less so the ratios) suffer.
    """
    head = ["mode", "tool", "real tokens/s", "lmtui speed-up", "prep cold s", "prep cached s", "peak RSS MiB"]
    if gpu:
        head += ["peak GPU MiB", "MFU"]
    head += ["real tokens", "eval loss", "load"]
    rows = [head, ["---"] * len(head)]
    for r in results:
        ours = _lmtui_for(results, r.mode)
        ratio = "" if r.tool == "lmtui" or ours is None else f"{ours.tokens_per_s / max(r.tokens_per_s, 1e-9):.2f}x"
        row = [r.mode, r.tool, _fmt(r.tokens_per_s), ratio, _fmt(r.preprocess_s, ".2f"),
               _fmt(r.preprocess_cached_s, ".3f", "n/a"), _fmt(r.peak_rss_mb)]
        if gpu:
            row += [_fmt(r.peak_gpu_mb), _fmt(r.mfu, ".1%")]
        row += [_fmt(r.real_tokens), _fmt(r.eval_loss, ".4f"), _fmt(r.load_average, ".1f")]
        rows.append(row)
    return "\n".join("| " + " | ".join(map(str, row)) + " |" for row in rows)


def ratios(results: list[Result]) -> list[dict]:
    """For each baseline row: lmtui's speed-up, preprocessing speed-up and loss difference in the same data mode."""
    out = []
    for base in (r for r in results if r.tool != "lmtui"):
        ours = _lmtui_for(results, base.mode)
        if ours is None:
            continue
        out.append({"mode": base.mode, "tokens_per_s": round(ours.tokens_per_s / max(base.tokens_per_s, 1e-9), 2),
                    "preprocess": round(base.preprocess_s / max(ours.preprocess_s, 1e-9), 2),
                    "eval_loss_difference": None if None in (ours.eval_loss, base.eval_loss)
                    else round(ours.eval_loss - base.eval_loss, 4)})
    return out


def run_benchmark(args, log=print) -> dict:
    """Run the baseline and lmtui in every requested mode; returns the report (also written as JSON)."""
    shape = dict(SHAPES[args.shape])
    args.batch = args.batch or shape["batch"]
    args.steps = args.steps or shape["steps"]
    if args.precision == "auto":
        args.precision = shape["precision"]
    vocab = args.vocab_size or shape["vocab_size"]
    modes = args.modes.split(",")
    for m in modes:
        if m not in MODES:
            raise LmtuiError(f"unknown mode {m!r}", hint=f"choose from {', '.join(MODES)}")
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)

    corpus = resolve_corpus(args.corpus, work, args.max_lines)
    env = environment()
    if args.precision == "bf16" and not env["gpu"]:
        log("note: bf16 on a CPU runs both tools under CPU autocast")
    label = corpus.name if corpus.name == DEFAULT_CORPUS else fingerprint_of(corpus.train)
    tokenizer, pieces = make_tokenizer(corpus, vocab, work / f"tokenizer-{label}-{vocab}-{args.max_lines}", log)
    log(f"shape {args.shape}, corpus {corpus.train} / {corpus.validation}, {args.steps} steps of {args.batch} "
        f"sequences, precision {args.precision}{', torch.compile' if args.compile else ''}, modes {', '.join(modes)}")
    if args.levers:
        return run_levers(corpus, tokenizer, shape, modes, args, work, env, log)
    runs: list[Result] = []
    for mode in modes:
        for attempt in range(1, args.repeat + 1):
            tag = f"[{mode}]" + (f" run {attempt}/{args.repeat}:" if args.repeat > 1 else "")
            log(f"{tag} baseline ...")
            r = run_baseline(corpus, tokenizer, shape, mode, args, work)
            log(f"{tag} baseline: {r.tokens_per_s:,.0f} real tokens/s, loss {r.eval_loss}")
            runs.append(r)
            ours = [x for x in runs if x.tool == "lmtui" and MODES[x.mode][1] == MODES[mode][1]]
            if len(ours) < attempt:  # one lmtui line_by_line run serves both line_by_line baselines
                log(f"{tag} lmtui ...")
                r = run_lmtui(corpus, tokenizer, shape, mode, args, work)
                log(f"{tag} lmtui: {r.tokens_per_s:,.0f} real tokens/s, loss {r.eval_loss}")
                runs.append(r)
    results = best_runs(runs)
    report = {"command": args.command_line, "shape": {"name": args.shape, **shape}, "vocab_size": vocab,
              "tokenizer_size": pieces,
              "corpus": {"train": str(corpus.train), "validation": str(corpus.validation),
                         "tokenizer_files": [str(f) for f in corpus.tokenizer_files]},
              "steps": args.steps, "batch": args.batch, "precision": args.precision, "compile": args.compile,
              "environment": env, "repeat": args.repeat, "results": [asdict(r) for r in results],
              "runs": [asdict(r) for r in runs],
              "ratios": ratios(results),
              "table": table(results, gpu=bool(env["gpu"]))}
    atomic_write_text(work / "results.json", json.dumps(report, indent=2))
    return report


def run_levers(corpus: Corpus, tokenizer: Path, shape: dict, modes: list[str], args, work: Path, env: dict,
               log) -> dict:
    """``--levers``: time lmtui's training step with one speed lever changed at a time (see
    :mod:`lmtui.bench.levers`), for packed sequences and/or line_by_line as ``modes`` ask."""
    from lmtui.bench.levers import measure
    from lmtui.project.load import load_project

    folder = work / "levers"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench.toml"
    tables = {}
    for line_by_line in sorted({MODES[m][1] for m in modes}):
        path.write_text(lmtui_project_text(corpus, tokenizer, shape, line_by_line, args))
        name = "line_by_line" if line_by_line else "group_texts"
        log(f"[{name}] levers: {args.steps} steps of {args.batch} sequences, {args.threads} thread(s)")
        rows = measure(load_project(str(path)), tokenizer, line_by_line=line_by_line, steps=args.steps,
                       threads=args.threads, log=log)
        lines = ["| lever | real tokens per CPU-second | vs lmtui step |", "| --- | --- | --- |"]
        lines += [f"| {r['lever']} | {r['tokens_per_cpu_s']:,.0f} | {r['vs_lmtui']:.2f}x |" for r in rows]
        tables[name] = {"rows": rows, "table": "\n".join(lines)}
    report = {"command": args.command_line, "shape": {"name": args.shape, **shape}, "steps": args.steps,
              "batch": args.batch, "precision": args.precision, "threads": args.threads, "environment": env,
              "levers": tables,
              "table": "\n\n".join(f"{name}:\n\n{t['table']}" for name, t in tables.items())}
    atomic_write_text(work / "levers.json", json.dumps(report, indent=2))
    return report
