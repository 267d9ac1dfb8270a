"""Processes of a run: start one detached, wait for a process group, tell whether a pid is still ours.

A pid is stored with its process's start time, so a pid reused by another process after the
run died is not taken for the run (PITFALLS: processes).
"""

from __future__ import annotations

import os
import subprocess

import psutil

QUIET_PROGRESS_ENV = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
                      "TQDM_DISABLE": "1"}
"""The environment that turns off the progress bars of huggingface_hub, transformers (which follows
huggingface_hub), datasets and any other tqdm user: in a log file they are fragments
(``Writing model shards:   0%|...``) at every checkpoint. Every detached process gets it, and
the processes it starts inherit it."""


def process_start_time(pid: int) -> float | None:
    """Creation time of process ``pid`` (seconds since the epoch), or None if it is gone."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def pid_alive(pid: int | None, start_time: float | None) -> bool:
    """Whether ``pid`` is running and is the process started at ``start_time`` (not a reused pid)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:  # a state file of the wrong shape
        return False
    if isinstance(start_time, bool) or not isinstance(start_time, (int, float)):
        start_time = None
    created = process_start_time(pid)
    if created is None:
        return False
    try:
        if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return False
    except psutil.Error:
        return False
    return start_time is None or abs(created - start_time) < 1.0


def spawn_detached(cmd: list[str], log_file: str | os.PathLike, *, cwd: str | os.PathLike,
                   env: dict | None = None, header: str | None = None) -> subprocess.Popen:
    """Start ``cmd`` detached: a new session (its own process group), stdin closed, stdout and
    stderr appended to ``log_file``, so it outlives the terminal, SSH and the UI that started
    it (PITFALLS: processes). ``header`` is appended to the log first. Library progress bars are
    off in it and its children (:data:`QUIET_PROGRESS_ENV`).

    Returns:
        the started process; its pid is also the process group id of everything it starts.
    """
    env = {**(os.environ if env is None else env), **QUIET_PROGRESS_ENV}
    with open(log_file, "ab") as log:
        if header:
            log.write(header.encode())
            log.flush()
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, cwd=str(cwd), close_fds=True)


def process_group(pid: int) -> int | None:
    """The process group id of ``pid``, or None when it is gone."""
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def wait_group(proc: subprocess.Popen, *, keep_waiting_on: tuple[type[BaseException], ...] = ()) -> int:
    """Wait for ``proc`` and then for every other process of the caller's process group; return
    ``proc``'s exit code.

    An exception of a type in ``keep_waiting_on`` raised meanwhile (a signal handler's stop
    request) is swallowed and the wait goes on, so the children can finish writing (a single
    process ``accelerate launch`` exits on SIGINT before its child has written its checkpoint).
    """
    pgid = os.getpgid(0)
    me = os.getpid()
    code = None
    while True:
        try:
            code = proc.wait() if code is None else code
            others = [p for p in psutil.process_iter(["pid"]) if p.pid != me and process_group(p.pid) == pgid
                      and p.status() != psutil.STATUS_ZOMBIE]
            if not others:
                return code
            psutil.wait_procs(others, timeout=1.0)
        except keep_waiting_on:
            continue
