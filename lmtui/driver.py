"""The run driver: ``python -m lmtui.driver RUN_DIR``, started detached by :mod:`lmtui.runs.launcher`.

Walks the stages of :data:`lmtui.stages.STAGES` in order, each skipped when its output exists
for the same inputs. It owns ``run.json``: status, stage, times, exit code and error.

SIGINT/SIGTERM (``lmtui stop``) reach every process of the group: the trainer checkpoints
and exits; the driver waits for it and marks the run ``stopped``.

Before the first stage it waits for its turn in the run queue (:func:`lmtui.runs.queue.wait_turn`)
when the run reserves GPUs or CPU slots, and drops its place when it exits, however it ends.

It holds the run's lock (:meth:`lmtui.runs.rundir.RunDir.lock`) for its whole life, waiting up
to :data:`HANDOVER_SECONDS` for the launcher that started it to let go. When another process
still holds it (a second driver of the same run), it exits with code 2 and a message, leaving
run.json and events.jsonl alone.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback

from lmtui.errors import LmtuiError
from lmtui.project.load import parse_project
from lmtui.runs import queue
from lmtui.runs.rundir import RunDir, RunLocked
from lmtui.stages import STAGES, Stopped

HANDOVER_SECONDS = 10.0


def _on_signal(signum, frame):
    raise Stopped(signal.Signals(signum).name)


def main(run_path: str) -> int:
    """Drive the run at ``run_path`` under its lock; 0 when finished or stopped, 1 when failed,
    2 when another process holds the lock."""
    run = RunDir(run_path)
    try:
        lock = run.lock(wait=HANDOVER_SECONDS)
    except RunLocked as exc:
        print(f"error: {exc.format()}", file=sys.stderr, flush=True)
        return exc.exit_code
    with lock:
        try:
            return _drive(run)
        finally:
            queue.Queue().release(run.path)


def _take_devices(run: RunDir) -> None:
    """Wait in the queue for the devices the frozen project reserves (none: return at once)."""
    project = parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file),
                            str(run.project_file))

    def notify(message: str) -> None:
        print(message, flush=True)
        run.emit("log", level="info", message=message)

    queue.wait_turn(run, queue.need_of(project), notify=notify)


def _drive(run: RunDir) -> int:
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        _take_devices(run)
    except Stopped:
        run.update_state(status="stopped", ended=time.time(), exit_code=0, error="cancelled while queued")
        run.emit("end", status="stopped", error="cancelled while queued")
        print("run cancelled while queued", flush=True)
        return 0
    except LmtuiError as exc:
        return _failed(run, exc.format())
    except Exception as exc:  # the queue's files (a full disk, a read-only state folder): never left queued
        return _failed(run, f"the run queue failed: {type(exc).__name__}: {exc}")
    run.update_state(status="running", pid=os.getpid(), started=time.time(), ended=None, error=None, exit_code=None)
    resumed = run.events_file.exists()
    run.emit("run_start", run_id=run.run_id, resumed=resumed, host=run.read_state().get("host"))
    try:
        project = parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file),
                                str(run.project_file))
        for stage in STAGES:
            if not stage.wanted(project):
                continue
            if stage.done(run, project):
                run.emit("stage", stage=stage.name, state="skipped")
                continue
            run.update_state(stage=stage.name)
            run.emit("stage", stage=stage.name, state="start")
            t0 = time.perf_counter()
            stage.run(run, project)
            run.emit("stage", stage=stage.name, state="done", seconds=round(time.perf_counter() - t0, 3))
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
