"""The stages of a run, in order: tokenizer, dataset, pretrain, evaluate, publish.

Each :class:`Stage` has a ``name``, ``wanted(project)`` (does this project ask for it),
``done(run, project)`` (its output exists for the same inputs, so the driver skips it and says
so in events) and ``run(run, project)``. The driver (:mod:`lmtui.driver`) walks
:data:`STAGES`; a stage writes its outputs into the run directory and its progress as events.

- tokenizer: train one (or load ``[tokenizer] path`` / the ``init_from`` model's), cached by
  fingerprint and copied to ``<run>/tokenizer``; it always runs, since the cache check is
  cheap and the ``tokenizer`` event starts every session's log.
- dataset: the memory-mapped token cache (:mod:`lmtui.data.token_cache`), same; both write
  ``dataset_progress`` events while they read the corpus. For a mixture of sources the run's
  ``dataset_dir`` is a view of the cache with the run's weights (:func:`lmtui.data.mixture.write_view`).
- pretrain: ``python -m lmtui.train.pretrain`` (through ``accelerate launch`` or ``torchrun`` for
  several processes) as a child in the driver's process group (:mod:`lmtui.train.launch`); done when the final model exists and pretraining ended
  ``finished``. A failure is reported with the trainer's exception (its ``train_error``
  event) or the signal that killed it (:func:`trainer_failure`), not just an exit code.
- evaluate (:mod:`lmtui.evaluation.stage`) when ``[eval]`` asks for more than perplexity;
  it skips the parts whose results are current itself.
- publish (:mod:`lmtui.hub.stage`) when ``[hub] push_at_end`` is set.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Callable

from lmtui.errors import LmtuiError
from lmtui.evaluation import stage as evaluate_stage
from lmtui.fsutil import atomic_folder
from lmtui.hub import stage as publish_stage
from lmtui.procs import wait_group
from lmtui.runs.events import iter_events
from lmtui.runs.rundir import RunDir


class Stopped(Exception):
    """The run was asked to stop (SIGINT/SIGTERM reached the driver, or the trainer stopped)."""


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline (see the module docstring)."""

    name: str
    wanted: Callable[[object], bool]
    done: Callable[[RunDir, object], bool]
    run: Callable[[RunDir, object], None]


def always(project) -> bool:
    return True


def never_done(run: RunDir, project) -> bool:
    return False


def _log(message: str) -> None:
    print(message, flush=True)


# Weights and other model files beside a tokenizer (an init_from model folder, a teacher): not copied.
MODEL_FILE_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".ckpt", ".onnx", ".gguf")


def _not_tokenizer_files(folder: str, names: list[str]) -> list[str]:
    """``shutil.copytree``'s ignore: the sub-folders and model weights among ``names``."""
    return [n for n in names if os.path.isdir(os.path.join(folder, n)) or n.endswith(MODEL_FILE_SUFFIXES)]


def _preview_check(value) -> str | None:
    """preview.json is a list of lists of strings (the pieces of the first documents)."""
    if not isinstance(value, list) or not all(isinstance(r, list) and all(isinstance(p, str) for p in r) for r in value):
        return "it is not a list of lists of strings"
    return None


def run_tokenizer(run: RunDir, project) -> None:
    """Prepare the project's tokenizer and copy its files into the run (kept once checkpoints exist;
    never the weights of a model folder it comes from); warn when the trained vocabulary is smaller
    than ``[tokenizer] vocab_size`` (a small corpus runs out of merges)."""
    from transformers import AutoTokenizer

    from lmtui.data.fingerprint import file_digest
    from lmtui.data.tokenizer import prepare_tokenizer

    if run.read_state().get("verify"):  # the restart of a crashed run: trust no remembered digest
        from lmtui.data.sources import verify_corpus_digests
        from lmtui.project.paths import cache_dir

        n = verify_corpus_digests(project, cache_dir(project))
        _log(f"resuming a crashed run: verified the digests of {n} corpus file(s) in full")
    folder, cached = prepare_tokenizer(project, log=_log, progress=lambda p: run.emit("dataset_progress", **p))
    current = run.tokenizer_dir / "tokenizer.json"
    # A run keeps the tokenizer its checkpoints were trained with; before the first checkpoint
    # it follows the project (the corpus may have been fixed after a failed start).
    if current.is_file() and not run.checkpoints() and file_digest(current) != file_digest(folder / "tokenizer.json"):
        shutil.rmtree(run.tokenizer_dir)
    if not current.is_file():
        with atomic_folder(run.tokenizer_dir, ".tmp-tokenizer") as tmp:
            shutil.copytree(folder, tmp, dirs_exist_ok=True, ignore=_not_tokenizer_files)
    tokenizer = AutoTokenizer.from_pretrained(run.tokenizer_dir)
    from lmtui.state import read_json_cache

    pieces = read_json_cache(folder / "preview.json", _preview_check, what="the tokenizer preview",
                             rebuild="computing it again", on_invalid=lambda m: _log(f"warning: {m}"))
    if pieces is None:
        from lmtui.data.tokenizer import first_documents, preview

        pieces = preview(tokenizer, first_documents(project))
    for row in pieces:
        _log("tokenizer preview: " + " ".join(row))
    pretrained = bool(project.tokenizer.path or project.model.init_from or project.distill.teacher)
    if not pretrained and len(tokenizer) < project.tokenizer.vocab_size:
        message = (f"warning: [tokenizer] vocab_size is {project.tokenizer.vocab_size:,} but the corpus gave "
                   f"{len(tokenizer):,} pieces (lower vocab_size or min_frequency, or give more text)")
        _log(message)
        run.emit("log", level="warning", message=message)
    run.emit("tokenizer", kind="pretrained" if pretrained else project.tokenizer.kind,
             vocab_size=len(tokenizer), cached=cached, path=str(folder), preview=pieces)


def run_dataset(run: RunDir, project) -> None:
    """Build (or find cached, or resume) the token cache and record it in run.json's ``dataset_dir``
    (for a mixture, a view of it with the run's token shares); the ``dataset`` event gives the
    tokens of each source."""
    from lmtui.data.mixture import token_shares, write_view
    from lmtui.data.sources import project_sources
    from lmtui.data.token_cache import prepare_dataset

    t0 = time.perf_counter()
    verify = bool(run.read_state().get("verify"))
    before = run.last_event("dataset") if verify and run.checkpoints() else None
    folder, meta, cached = prepare_dataset(project, run.tokenizer_dir, log=_log,
                                           progress=lambda p: run.emit("dataset_progress", **p), verify=verify)
    if before and before.get("fingerprint") and before["fingerprint"] != folder.name:
        from lmtui.errors import CorpusError

        raise CorpusError(f"the corpus of run {run.run_id} changed since its token cache was built (found by "
                          "the full verification of a crashed run's restart): its checkpoints were trained on the "
                          "old files", file=str(run.path), hint="start a new run with `lmtui run --fresh` (the "
                                                                "old run is kept), or put the old corpus files back")
    if verify:
        run.update_state(verify=None)
    sources = [{"name": s["name"], "train_tokens": s["train"]["tokens"][1] - s["train"]["tokens"][0],
                "validation_tokens": s["validation"]["tokens"][1] - s["validation"]["tokens"][0],
                "train_documents": s["train"]["documents"][1] - s["train"]["documents"][0]}
               for s in meta["sources"]]
    dataset_dir = folder
    if len(sources) > 1:
        shares = token_shares(project_sources(project), [s["train_tokens"] for s in sources])
        for s in sources:
            s["share"] = round(shares[s["name"]], 6)
        dataset_dir = run.path / "dataset"
        write_view(dataset_dir, folder, meta, shares)
    run.update_state(dataset_dir=str(dataset_dir))
    L = project.training.max_seq_length
    run.emit("dataset", cached=cached, seconds=round(time.perf_counter() - t0, 3), fingerprint=folder.name,
             train_tokens=meta["train_tokens"], validation_tokens=meta["validation_tokens"],
             train_sequences=meta["train_documents"] if project.training.line_by_line else meta["train_tokens"] // L,
             validation_sequences=(meta["validation_documents"] if project.training.line_by_line
                                   else max(1, meta["validation_tokens"] // L)),
             documents=meta["documents"], corpus_bytes=meta["corpus_bytes"], corpus_files=meta["corpus_files"],
             invalid_utf8_lines=meta["invalid_utf8_lines"], duplicates_dropped=meta["duplicates_dropped"],
             sources=sources)
    if meta["duplicates_dropped"]:
        _log(f"deduplication dropped {meta['duplicates_dropped']:,} duplicate documents")
    if meta["invalid_utf8_lines"]:
        _log(f"warning: {meta['invalid_utf8_lines']} corpus lines had invalid UTF-8 (replaced)")


def pretrain_done(run: RunDir, project=None) -> bool:
    """Whether pretraining finished: the final model exists and a ``train_end`` says finished."""
    end = run.last_event("train_end")
    return run.model_dir.joinpath("config.json").is_file() and bool(end) and end.get("status") == "finished"


def run_pretrain(run: RunDir, project) -> None:
    """Start the trainer in this process group and wait for all of it.

    Raises:
        Stopped: the trainer stopped on request (after writing its checkpoint), or a stop came
            while it was starting (it exits, interrupted, before training a step).
        LmtuiError: it exited before finishing (:func:`trainer_failure` says why).
    """
    from lmtui.train.launch import launch_command

    cmd = launch_command(project, run.path)
    _log("$ " + " ".join(cmd))
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    events_start, log_start = _size(run.events_file), _size(run.log_file)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env)
    try:
        code = wait_group(proc)
        stop_requested = False
    except Stopped:  # the signal reached the whole group; wait for the trainer's checkpoint and exit
        stop_requested = True
        code = wait_group(proc, keep_waiting_on=(Stopped,))
    session = list(iter_events(run.events_file, events_start))
    end = next((e for e in reversed(session) if e.get("type") == "train_end"), None)
    if end and end.get("status") == "stopped":
        raise Stopped("stop requested")
    if stop_requested and not pretrain_done(run):  # stopped during start-up, before the first step
        _log("stopped while the trainer was starting (before its first step; nothing to checkpoint)")
        raise Stopped("stop requested during start-up")
    if not pretrain_done(run):
        raise trainer_failure(run, code, session, _read_from(run.log_file, log_start))


LOG_TAIL_BYTES = 64 << 10
OOM_HINT = ("lower [training] micro_batch_size (gradient accumulation keeps batch_size) or max_seq_length, "
            "or use a smaller model")
# The line a launcher prints for a rank killed by a signal: accelerate launch re-raises the
# subprocess.CalledProcessError of its child; torchrun's ChildFailedError names the signal.
KILLED_LINES = (re.compile(r"died with <Signals\.(SIG[A-Z0-9]+): \d+>"),
                re.compile(r"Signal \d+ \((SIG[A-Z0-9]+)\) received by PID"))


def trainer_failure(run: RunDir, code: int, session: list[dict], log_text: str) -> LmtuiError:
    """Why the trainer exited with ``code`` before finishing, as the run's error.

    In order: the first ``train_error`` event of this session (``session``: the events written
    since the trainer started), with its exception, message, file, key and hint; the signal
    that killed the trainer (:func:`killed_by`), SIGKILL being what the kernel's out-of-memory
    killer sends; else the exit code, pointing at train.log.
    """
    error = next((e for e in session if e.get("type") == "train_error"), None)
    if error:
        oom = error.get("exception") == "OutOfMemoryError"
        hint = error.get("hint") or (OOM_HINT if oom else f"read the traceback at the end of {run.log_file}")
        message = f"{error.get('exception')}: {error['message']}" if error.get("message") else error.get("exception")
        return LmtuiError(f"pretraining failed: {message}",
                          file=error.get("file"), line=error.get("line"),
                          key=error.get("key") or ("training.micro_batch_size" if oom else None), hint=hint)
    name = killed_by(code, log_text)
    if name == "SIGKILL":
        return LmtuiError("the trainer was killed by SIGKILL (out of memory?)", file=str(run.log_file),
                          hint="if no one killed it, memory ran out (`dmesg` names the OOM killer): " + OOM_HINT)
    if name:
        return LmtuiError(f"the trainer was killed by {name}", file=str(run.log_file),
                          hint="read the end of train.log for what came before")
    return LmtuiError(f"pretraining exited with code {code} before finishing",
                      file=str(run.log_file), hint="read the end of train.log for the cause")


def killed_by(code: int, log_text: str) -> str | None:
    """The name of the signal that killed the trainer, or None.

    ``code`` is the launcher's exit status: negative for a process killed by a signal
    (``subprocess``'s convention), 128 + N as a shell reports it (137: SIGKILL). A launcher
    killed by nothing but whose rank was (``accelerate launch`` and ``torchrun`` both exit 1
    then) names the signal in its output, ``log_text``: see :data:`KILLED_LINES`.
    """
    number = -code if code < 0 else code - 128 if 128 < code <= 128 + signal.NSIG else None
    if number is not None:
        try:
            return signal.Signals(number).name
        except ValueError:
            return f"signal {number}"
    found = [m.group(1) for pattern in KILLED_LINES for m in pattern.finditer(log_text)]
    return found[-1] if found else None


def _size(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _read_from(path, offset: int) -> str:
    """The text of ``path`` from byte ``offset``, its last :data:`LOG_TAIL_BYTES` at most."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(offset, _size(path) - LOG_TAIL_BYTES))
            return fh.read(LOG_TAIL_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


STAGES: tuple[Stage, ...] = (
    Stage("tokenizer", always, never_done, run_tokenizer),
    Stage("dataset", always, never_done, run_dataset),
    Stage("pretrain", always, pretrain_done, run_pretrain),
    Stage("evaluate", evaluate_stage.wanted, never_done, evaluate_stage.run_stage),
    Stage("publish", publish_stage.wanted, never_done, publish_stage.run_stage),
)
