"""The run driver: ``python -m lmtui.worker RUN_DIR``, started detached by :mod:`lmtui.launcher`.

Runs the stages in order, each skipped when its output exists for the same inputs:
tokenizer (train or load; copied to ``<run>/tokenizer``), dataset (token cache), pretrain
(``accelerate launch -m lmtui.train_worker`` child in this process group), evaluate and
publish (when the project's [eval] / [hub] sections ask for them). It owns ``run.json``:
status, stage, times, exit code and error.

SIGINT/SIGTERM (``lmtui stop``) reach every process of the group: the trainer checkpoints
and exits; the driver waits for it and marks the run ``stopped``.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import psutil

from lmtui.errors import LmtuiError
from lmtui.project.load import parse_project
from lmtui.rundir import RunDir


class Stopped(Exception):
    """The run was asked to stop."""


def _on_signal(signum, frame):
    raise Stopped(signal.Signals(signum).name)


def launch_command(project, run: RunDir) -> list[str]:
    """The command that starts the trainer for ``project``'s [hardware] settings.

    One process or CUDA: ``accelerate launch`` with the matching flags (or the user's
    accelerate config file for DeepSpeed/FSDP). Several CPU processes: ``torchrun`` (PITFALLS:
    ``accelerate launch --cpu --num_processes N`` starts one process on some machines).
    """
    hw = project.hardware
    module = ["-m", "lmtui.train_worker", str(run.path)]
    cpu = hw.device == "cpu" or (hw.device == "auto" and not _cuda_available())
    if cpu and hw.num_processes > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(hw.num_processes),
               "--nnodes", str(hw.num_machines)]
        if hw.num_machines > 1:
            cmd += ["--node_rank", str(hw.machine_rank), "--master_addr", hw.main_process_ip,
                    "--master_port", str(hw.main_process_port)]
        else:
            cmd += ["--standalone"]
        return cmd + module
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if hw.accelerate_config:
        cmd += ["--config_file", hw.accelerate_config]
    else:
        cmd += ["--num_processes", str(hw.num_processes * hw.num_machines), "--num_machines", str(hw.num_machines),
                "--dynamo_backend", "no"]
        if cpu:
            cmd += ["--cpu", "--num_cpu_threads_per_process", str(os.cpu_count() or 1)]
        elif hw.num_processes * hw.num_machines > 1:
            cmd += ["--multi_gpu"]
        if hw.num_machines > 1:
            cmd += ["--machine_rank", str(hw.machine_rank), "--main_process_ip", hw.main_process_ip,
                    "--main_process_port", str(hw.main_process_port)]
        cmd += ["--mixed_precision", _mixed_precision(hw.mixed_precision, cpu)]
    return cmd + module


def _mixed_precision(setting: str, cpu: bool) -> str:
    """``auto`` becomes bf16 on a CUDA device that supports it, else ``no``."""
    if setting != "auto":
        return setting
    if cpu:
        return "no"
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "no"


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _wait_group(proc: subprocess.Popen) -> int:
    """Wait for the trainer launcher and every other process of this group; return its exit code.

    A stop request during the wait is remembered and the wait goes on, so the trainer can
    write its checkpoint (single-process ``accelerate launch`` exits on SIGINT before its child).
    """
    pgid = os.getpgid(0)
    me = os.getpid()
    code = None
    while True:
        try:
            code = proc.wait() if code is None else code
            others = [p for p in psutil.process_iter(["pid"]) if p.pid != me and _pgid(p.pid) == pgid
                      and p.status() != psutil.STATUS_ZOMBIE]
            if not others:
                return code
            psutil.wait_procs(others, timeout=1.0)
        except Stopped:
            continue


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def pretrain_done(run: RunDir) -> bool:
    """Whether pretraining finished: the final model exists and a ``train_end`` says finished."""
    end = run.last_event("train_end")
    return run.model_dir.joinpath("config.json").is_file() and bool(end) and end.get("status") == "finished"


def stage_tokenizer(run: RunDir, project) -> None:
    from lmtui.tokenization import prepare_tokenizer

    from lmtui.fingerprint import file_digest

    folder, cached = prepare_tokenizer(project, log=lambda m: print(m, flush=True))
    current = run.tokenizer_dir / "tokenizer.json"
    # A run keeps the tokenizer its checkpoints were trained with; before the first checkpoint
    # it follows the project (the corpus may have been fixed after a failed start).
    if current.is_file() and not run.checkpoints() and file_digest(current) != file_digest(folder / "tokenizer.json"):
        shutil.rmtree(run.tokenizer_dir)
    if not current.is_file():
        tmp = run.path / ".tmp-tokenizer"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(folder, tmp)
        tmp.rename(run.tokenizer_dir)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(run.tokenizer_dir)
    preview_file = folder / "preview.json"
    if preview_file.is_file():
        pieces = json.loads(preview_file.read_text())
    else:
        from lmtui.corpus import corpus_documents
        from lmtui.tokenization import preview

        pieces = preview(tokenizer, corpus_documents(project)[0])
    for row in pieces:
        print("tokenizer preview:", " ".join(row), flush=True)
    pretrained = bool(project.tokenizer.path or project.model.init_from)
    run.emit("tokenizer", kind="pretrained" if pretrained else project.tokenizer.kind,
             vocab_size=len(tokenizer), cached=cached, path=str(folder), preview=pieces)


def stage_dataset(run: RunDir, project) -> None:
    from lmtui.dataset import prepare_dataset

    t0 = time.perf_counter()
    folder, meta, cached = prepare_dataset(project, run.tokenizer_dir, log=lambda m: print(m, flush=True))
    run.update_state(dataset_dir=str(folder))
    L = project.training.max_seq_length
    run.emit("dataset", cached=cached, seconds=round(time.perf_counter() - t0, 3), fingerprint=folder.name,
             train_tokens=meta["train_tokens"], validation_tokens=meta["validation_tokens"],
             train_sequences=meta["train_documents"] if project.training.line_by_line else meta["train_tokens"] // L,
             validation_sequences=(meta["validation_documents"] if project.training.line_by_line
                                   else max(1, meta["validation_tokens"] // L)),
             documents=meta["documents"], corpus_bytes=meta["corpus_bytes"], corpus_files=meta["corpus_files"],
             invalid_utf8_lines=meta["invalid_utf8_lines"])
    if meta["invalid_utf8_lines"]:
        print(f"warning: {meta['invalid_utf8_lines']} corpus lines had invalid UTF-8 (replaced)", flush=True)


def stage_pretrain(run: RunDir, project) -> None:
    cmd = launch_command(project, run)
    print("$ " + " ".join(cmd), flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env)
    code = _wait_group(proc)
    end = run.last_event("train_end")
    if end and end.get("status") == "stopped":
        raise Stopped("stop requested")
    if not pretrain_done(run):
        raise LmtuiError(f"pretraining exited with code {code} before finishing",
                         file=str(run.log_file), hint="read the end of train.log for the cause")


def _optional_stage(module_name: str):
    """The ``(wanted, run_stage)`` functions of an optional stage module, or None if absent."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if not exc.name or not module_name.startswith(exc.name):
            raise
        return None
    return module.wanted, module.run_stage


def stages(project) -> list[tuple[str, object]]:
    out = [("tokenizer", stage_tokenizer), ("dataset", stage_dataset), ("pretrain", stage_pretrain)]
    for name, module in (("evaluate", "lmtui.evaluation.stage"), ("publish", "lmtui.hub.stage")):
        found = _optional_stage(module)
        if found and found[0](project):
            out.append((name, found[1]))
    return out


def main(run_path: str) -> int:
    run = RunDir(run_path)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    run.update_state(status="running", pid=os.getpid(), started=time.time(), ended=None, error=None, exit_code=None)
    resumed = run.events_file.exists()
    run.emit("run_start", run_id=run.run_id, resumed=resumed, host=run.read_state().get("host"))
    try:
        project = parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file),
                                str(run.project_file))
        for name, fn in stages(project):
            if name == "pretrain" and pretrain_done(run):
                run.emit("stage", stage=name, state="skipped")
                continue
            run.update_state(stage=name)
            run.emit("stage", stage=name, state="start")
            t0 = time.perf_counter()
            fn(run, project)
            run.emit("stage", stage=name, state="done", seconds=round(time.perf_counter() - t0, 3))
    except Stopped:
        run.update_state(status="stopped", ended=time.time(), exit_code=0)
        run.emit("end", status="stopped")
        print("run stopped", flush=True)
        return 0
    except LmtuiError as exc:
        return _failed(run, exc.format())
    except Exception as exc:  # the log keeps the traceback; run.json the one-line cause
        traceback.print_exc()
        return _failed(run, f"{type(exc).__name__}: {exc}")
    final = run.last_event("eval")
    metrics = {k: final[k] for k in ("loss", "perplexity", "accuracy")} if final else None
    run.update_state(status="finished", ended=time.time(), exit_code=0, stage=None)
    run.emit("end", status="finished", metrics=metrics)
    print("run finished", flush=True)
    return 0


def _failed(run: RunDir, message: str) -> int:
    print(f"error: {message}", flush=True)
    run.update_state(status="failed", ended=time.time(), exit_code=1, error=message)
    run.emit("end", status="failed", error=message)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
