"""The evaluate stage and the launcher of the evaluation worker.

The driver (:mod:`lmtui.driver`) calls :func:`wanted` to decide whether the stage runs, and
:func:`run_stage` after pretraining; ``lmtui eval`` calls :func:`plan` and :func:`spawn`. Both
start ``accelerate launch -m lmtui.evaluation.worker RUN_DIR REQUEST`` (one process) with its
output appended to the run's train.log and its events appended to the run's events.jsonl.

A *request* (``<run>/eval/request-<label>.json``) says which model to evaluate (the run's final
model, a checkpoint's ``step-N/model``, or any model folder), under which label its results are
stored, which parts to compute (``perplexity``, ``pseudo_perplexity``, ``probes``,
``task:NAME``), and the resolved ``[eval]`` settings. A part whose fingerprint (the model's
weights and config, the part's settings and data files) matches the stored result is skipped,
so re-running a finished project does not fine-tune again.

No torch or transformers here: the CLI and the TUI can plan and start evaluations cheaply.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
import uuid
from dataclasses import asdict
from pathlib import Path

from lmtui.data.fingerprint import digest_bytes
from lmtui.errors import LmtuiError, RunError
from lmtui.evaluation import results as res
from lmtui.procs import pid_alive, process_start_time, spawn_detached
from lmtui.project.sections.eval import EvalSection, TaskSpec, validate
from lmtui.runs.rundir import RunDir

WORKER_MODULE = "lmtui.evaluation.worker"


def section(project) -> EvalSection:
    """The project's ``[eval]`` section (defaults when the file has none)."""
    return project.eval


def wanted(project) -> bool:
    """Whether the evaluate stage runs after pretraining: ``after_pretraining`` and anything beyond
    the held-out perplexity pretraining already reports (probes, pseudo-perplexity, tasks)."""
    ev = section(project)
    return ev.after_pretraining and bool(ev.tasks or ev.probes or ev.pseudo_perplexity_samples)


def paths_project(run: RunDir | None, project):
    """An object whose ``.path`` relative [eval] paths resolve against: the source project file when
    ``project`` is a run's frozen copy (its folder is the run directory), else ``project``."""
    if run is not None and project.path and Path(project.path).resolve().parent == run.path:
        source = run.read_state().get("project_path")
        if source:
            return types.SimpleNamespace(path=source)
    return project


def project_text_of(project) -> str:
    try:
        return Path(project.path).read_text(encoding="utf-8") if project.path else ""
    except OSError:
        return ""


def resolved_specs(run: RunDir | None, project, *, check_files: bool = True) -> tuple[dict, list[TaskSpec]]:
    """(the [eval] table with absolute paths, the validated task specs).

    Raises:
        ProjectError: an invalid task table, probe or missing data file.
    """
    from lmtui.project.paths import resolve_path

    ev = section(project)
    base = paths_project(run, project)
    specs = validate(ev, file=project.path, text=project_text_of(project), resolve=lambda p: resolve_path(base, p),
                     check_files=check_files)
    return ev.resolved(base), specs


def model_fingerprint(model_dir: str | os.PathLike) -> str:
    """Fingerprint of a model folder: config.json's bytes and the weight files' sizes and times."""
    folder = Path(model_dir)
    config = folder / "config.json"
    stamps = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()
                    if p.suffix in (".safetensors", ".bin") and p.is_file())
    return digest_bytes("model-v1", config.read_text(encoding="utf-8") if config.is_file() else "", stamps)


def _file_stamp(path: str) -> list:
    try:
        st = os.stat(path)
        return [path, st.st_size, st.st_mtime_ns]
    except OSError:
        return [path, None, None]


def part_fingerprints(project, table: dict, specs: list[TaskSpec], model_fp: str) -> dict[str, str]:
    """Fingerprint of every part the section asks for: {"perplexity": fp, "task:NAME": fp, ...}."""
    text_source = {"text_files": table["text_files"], "corpus": asdict(project.corpus),
                   "seq_length": project.training.max_seq_length, "line_by_line": project.training.line_by_line}
    out = {}
    if table["perplexity"]:
        out["perplexity"] = digest_bytes("ppl-v3", model_fp, text_source, table["max_sequences"], table["mask_seed"],
                                         project.training.mlm_probability, project.training.mask_replace_prob,
                                         project.training.random_replace_prob, project.training.packing)
    if table["pseudo_perplexity_samples"]:
        out["pseudo_perplexity"] = digest_bytes("pppl-v1", model_fp, text_source, table["pseudo_perplexity_samples"],
                                                table["mask_seed"])
    if table["probes"]:
        out["probes"] = digest_bytes("probes-v1", model_fp, table["probes"], table["top_k"])
    for spec in specs:
        files = [_file_stamp(f) for f in (spec.train_file, spec.validation_file, spec.test_file) if f]
        if spec.dataset and os.path.isdir(spec.dataset):  # a local dataset folder: its files
            files += [_file_stamp(str(p)) for p in sorted(Path(spec.dataset).rglob("*")) if p.is_file()]
        out[f"task:{spec.name}"] = digest_bytes("task-v1", model_fp, asdict(spec), files, table["seed"])
    return out


def _stored_fingerprint(entry: dict, part: str) -> str | None:
    if part.startswith("task:"):
        return ((entry.get("tasks") or {}).get(part[5:]) or {}).get("fingerprint")
    return (entry.get(part) or {}).get("fingerprint")


def plan(run: RunDir, project, *, label: str, model_dir: str | os.PathLike, step: int | None = None,
         force: bool = False, only: list[str] | None = None, manage_run_state: bool = False) -> dict | None:
    """The request for evaluating ``model_dir`` as ``label`` of ``run``, or None when every part is
    up to date.

    Args:
        only: restrict to these parts (``perplexity``, ``pseudo_perplexity``, ``probes``, or task names).
        force: recompute parts even when their stored fingerprint matches.
        manage_run_state: the worker owns run.json (a run directory made for an evaluation only).

    Raises:
        ProjectError: invalid [eval] section; LmtuiError: ``only`` names an unknown part.
    """
    table, specs = resolved_specs(run, project)
    model_dir = str(Path(model_dir).resolve())
    model_fp = model_fingerprint(model_dir)
    fingerprints = part_fingerprints(project, table, specs, model_fp)
    parts = list(fingerprints)
    if only:
        known = {p[5:] if p.startswith("task:") else p: p for p in parts}
        unknown = [o for o in only if o not in known]
        if unknown:
            raise LmtuiError(f"nothing called {', '.join(map(repr, unknown))} to evaluate",
                             hint=f"choose from: {', '.join(known) or '(the [eval] section asks for nothing)'}")
        parts = [known[o] for o in only]
    entry = res.load_results(run.path)["models"].get(label, {})
    if not force and entry.get("model_fingerprint") == model_fp:
        parts = [p for p in parts if _stored_fingerprint(entry, p) != fingerprints[p]]
    if not parts:
        return None
    hw = project.hardware
    return {"request_id": uuid.uuid4().hex[:12], "label": label, "model": model_dir, "step": step,
            "parts": parts, "fingerprints": {p: fingerprints[p] for p in parts}, "model_fingerprint": model_fp,
            "eval": table, "tasks": [asdict(s) for s in specs if f"task:{s.name}" in parts],
            "device": hw.device, "mixed_precision": hw.mixed_precision, "manage_run_state": manage_run_state,
            "created": round(time.time(), 3)}


def launch_command(run: RunDir, request_file: Path) -> list[str]:
    """The evaluation worker's command: one process, which makes its own ``Accelerator`` for the
    request's device and precision (no launcher needed)."""
    return [sys.executable, "-m", WORKER_MODULE, str(run.path), str(request_file)]


def spawn(run: RunDir, request: dict, *, detached: bool) -> subprocess.Popen:
    """Write the request and start the worker; record its pid in ``eval/state.json``.

    ``detached`` (``lmtui eval``): a new session with stdin closed and output appended to
    train.log, so it outlives the terminal. Otherwise (the driver's stage) a child in the
    driver's process group that inherits its output (train.log).

    Raises:
        RunError: another evaluation of this run is running.
    """
    state = res.read_state(run.path)
    if state.get("status") == "running" and pid_alive(state.get("pid"), state.get("pid_start_time")):
        raise RunError(f"an evaluation of run {run.run_id} is already running (pid {state['pid']})",
                       file=str(run.path), hint="wait for it, or stop it with `lmtui eval --stop RUN`")
    run.eval_dir.mkdir(parents=True, exist_ok=True)
    request_file = run.eval_dir / f"request-{request['label']}.json"
    from lmtui.fsutil import atomic_write_json

    atomic_write_json(request_file, request)
    cmd = launch_command(run, request_file)
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    if detached:
        proc = spawn_detached(cmd, run.log_file, cwd=run.path, env=env, header="$ " + " ".join(cmd) + "\n")
    else:
        print("$ " + " ".join(cmd), flush=True)
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env)
    res.write_state(run.path, pid=proc.pid, pid_start_time=process_start_time(proc.pid), label=request["label"],
                    request_id=request["request_id"], status="running", started=time.time(), ended=None, error=None,
                    detached=detached)
    return proc


def wait_for_worker(run: RunDir, proc: subprocess.Popen) -> int:
    """Wait for the launcher and for the worker it started; return the launcher's exit code.

    The single-process ``accelerate launch`` may exit on SIGINT before its child, so the worker is
    waited for by the pid it records in ``eval/state.json``. An exception raised meanwhile by a
    signal handler of the calling process (the driver's stop request) is held until the worker
    has exited (it writes its finished parts and its ``eval_end`` event first), then re-raised.
    """
    held = None
    code = None
    while True:
        try:
            if code is None:
                code = proc.wait()
            state = res.read_state(run.path)
            if not pid_alive(state.get("worker_pid"), state.get("worker_start_time")):
                break
            time.sleep(0.2)
        except Exception as exc:  # noqa: BLE001 - the driver's signal handler raises its own Stopped
            held = exc
    if held is not None:
        raise held
    return code


def end_event(run: RunDir, request_id: str) -> dict | None:
    """The ``eval_end`` event of a request, if written."""
    for event in reversed(run.events(("eval_end",))):
        if event.get("request_id") == request_id:
            return event
    return None


def final_step(run: RunDir) -> int | None:
    end = run.last_event("train_end")
    return end.get("step") if end else None


def run_stage(run: RunDir, project) -> None:
    """The evaluate stage of ``lmtui run``: evaluate the run's final model as ``final``.

    Raises:
        LmtuiError: invalid [eval] section or task data, or the worker failed (its message).
        The driver's stop exception, re-raised after the worker stopped.
    """
    if not run.model_dir.joinpath("config.json").is_file():
        raise LmtuiError("no final model to evaluate", file=str(run.model_dir), hint="pretraining did not finish")
    request = plan(run, project, label="final", model_dir=run.model_dir, step=final_step(run))
    if request is None:
        print("evaluation: every part is up to date", flush=True)
        run.emit("log", level="info", message="evaluation: every part is up to date (results in eval/results.json)")
        return
    proc = spawn(run, request, detached=False)
    try:
        code = wait_for_worker(run, proc)
    finally:
        end = end_event(run, request["request_id"])
        if end is None:
            res.write_state(run.path, status="crashed", ended=time.time())
    if end is None:
        raise LmtuiError(f"the evaluation worker exited with code {code} without a result", file=str(run.log_file),
                         hint="read the end of train.log for the cause")
    if end["status"] == "failed":
        raise LmtuiError(f"evaluation failed: {end.get('error')}", hint="fix it, then `lmtui run` again (pretraining is kept)")
    if end["status"] == "stopped":
        raise LmtuiError("the evaluation was stopped before it finished",
                         hint="`lmtui run` again to finish it (finished parts are kept)")


def request_summary(request: dict) -> str:
    """One line naming what a request evaluates."""
    parts = [p[5:] if p.startswith("task:") else p for p in request["parts"]]
    return f"{request['label']} ({request['model']}): {', '.join(parts)}"


def read_request(path: str | os.PathLike) -> tuple[dict, list[TaskSpec]]:
    """A request file and its task specs."""
    request = json.loads(Path(path).read_text(encoding="utf-8"))
    return request, [TaskSpec(**t) for t in request["tasks"]]
