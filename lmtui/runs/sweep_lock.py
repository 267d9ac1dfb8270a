"""A sweep controller's lock, log and state, read without Optuna (the TUI and `lmtui sweep status`),
and its start (``python -m lmtui.runs.controller RECORD``, detached like a run's driver).

The controller of a search sweep (:mod:`lmtui.runs.controller`) holds an exclusive ``flock`` on
``<output_dir>/sweeps/<sweep id>.lock`` for its whole life, as a run's driver holds its run's
``.lock`` (:class:`lmtui.runs.rundir.RunLock`): released when the process exits however it
exits, so a lock nobody holds means no controller runs. Its output goes to ``<sweep id>.log``.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from lmtui.errors import RunError
from lmtui.procs import spawn_detached
from lmtui.runs.rundir import RunLock, RunLocked, lock_held

CONTROLLER_MODULE = "lmtui.runs.controller"


def lock_file(record_file: str | os.PathLike) -> Path:
    """``<sweep id>.lock`` beside the record."""
    return Path(record_file).with_suffix(".lock")


def log_file(record_file: str | os.PathLike) -> Path:
    """``<sweep id>.log`` beside the record: the controller's output."""
    return Path(record_file).with_suffix(".log")


def take_lock(record_file: str | os.PathLike, wait: float = 1.0) -> RunLock:
    """The sweep's exclusive lock (``flock`` on ``<id>.lock``), released when its holder exits;
    tried for up to ``wait`` seconds (a reader's probe, :func:`controller_running`, holds it a moment).

    Raises:
        RunLocked: a controller of the sweep holds it.
    """
    path = lock_file(record_file)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            sweep_id = Path(record_file).stem
            raise RunLocked(f"the controller of sweep {sweep_id} is running" + (f" (pid {holder})" if holder else ""),
                            file=str(path), hint=f"see it with `lmtui sweep status {sweep_id}`") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return RunLock(fd)


def controller_running(record_file: str | os.PathLike) -> bool:
    """Whether a controller holds the sweep's lock (a non-blocking probe)."""
    return lock_held(lock_file(record_file))


def state(record_file: str | os.PathLike, record: dict) -> str:
    """The sweep's controller: ``running`` (it holds the lock), ``finished`` (every trial ended),
    ``stopped`` (SIGINT/SIGTERM), ``failed``, ``not started``, or ``gone`` (it died without a word:
    killed, or the machine rebooted; `lmtui sweep resume` starts it again)."""
    if controller_running(record_file):
        return "running"
    said = (record.get("controller") or {}).get("state")
    return "not started" if said is None else "gone" if said == "running" else said


def start_controller(record_file: str | os.PathLike, wait: float = 30.0) -> int:
    """Start the controller of the sweep record ``record_file`` detached (its own session, output
    appended to ``<id>.log``) and wait until it holds the sweep's lock; returns its pid.

    Raises:
        RunError: a controller of the sweep is running already (found before the start, or by
            the new one, which then exits with code 2), or the new one exited at once.
    """
    sweep_id = Path(record_file).stem
    running = RunError(f"the controller of sweep {sweep_id} is running already", file=str(record_file),
                       hint=f"see it with `lmtui sweep status {sweep_id}`")
    if controller_running(record_file):
        raise running
    proc = spawn_detached([sys.executable, "-m", CONTROLLER_MODULE, str(Path(record_file).resolve())],
                          log_file(record_file), cwd=Path(record_file).parent,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            if code == 2:
                raise running
            if code != 0:
                raise RunError(f"the controller of sweep {sweep_id} exited with code {code}",
                               file=str(log_file(record_file)), hint="its log says why")
            break
        if controller_running(record_file):
            break
        time.sleep(0.05)
    return proc.pid
