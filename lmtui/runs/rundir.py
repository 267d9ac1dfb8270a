"""The run directory: the only interface between a worker and whoever watches it.

Layout of ``<output_dir>/<run_id>/``::

    project.toml     the resolved project, frozen at launch
    run.json         status, pid, stage, times, exit code, error (rewritten atomically)
    events.jsonl     one JSON object per line, appended (schema: docs/events.md, EVENTS_VERSION)
    train.log        everything the worker processes print
    tokenizer/       the tokenizer (AutoTokenizer.from_pretrained loads it)
    checkpoints/     step-<N>/ accelerate states, written to a temporary name then renamed
    model/           the final model in Hugging Face format (safetensors) with the tokenizer
    eval/            evaluation results
    .lock            flock'ed by whoever prepares or drives the run (:class:`RunLock`)

A run's lock is held by the launcher from preparing the run until the driver's pid is in
run.json, and by the driver for its whole life; an active status reads ``crashed`` only when
nobody holds the lock and the recorded driver is gone.

This module imports neither torch nor transformers: the TUI and the CLI's read-only
commands use it directly.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lmtui.errors import RunError
from lmtui.fsutil import atomic_write_json
from lmtui.procs import pid_alive
from lmtui.runs.events import iter_events

EVENTS_VERSION = 1
ACTIVE = ("queued", "running")
# Every status a run can have: run.json's (``pruned`` is written by a sweep's controller after
# the run it stopped early has exited, docs/sweeps.md), and ``crashed``, which only readers say.
STATUSES = ("queued", "running", "finished", "failed", "stopped", "pruned", "crashed")
LOCK_POLL_SECONDS = 0.05


class RunLocked(RunError):
    """Another process holds a run's lock (:meth:`RunDir.lock`)."""


class RunLock:
    """An exclusive ``flock`` on ``<run>/.lock``, held until :meth:`release` or the process exits.

    The lock belongs to the open file, which is not inherited by child processes (PEP 446), so
    it is released when its holder exits, however it exits. The file holds the holder's pid,
    for messages only; it is never deleted (a deleted lock file would let a second holder in).
    ``fcntl.flock`` rather than the filelock package: :meth:`RunDir.locked` probes with a shared
    lock, which filelock does not offer.
    """

    def __init__(self, fd: int):
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def lock_held(path: str | os.PathLike) -> bool:
    """Whether some process holds an exclusive ``flock`` on ``path``: a non-blocking shared
    probe, False without the file or where the file system refuses locks."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


@dataclass
class RunDir:
    """Paths and state of one run directory."""

    path: Path

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).resolve()

    # paths ---------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def project_file(self) -> Path:
        return self.path / "project.toml"

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def events_file(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def log_file(self) -> Path:
        return self.path / "train.log"

    @property
    def tokenizer_dir(self) -> Path:
        return self.path / "tokenizer"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def eval_dir(self) -> Path:
        return self.path / "eval"

    def exists(self) -> bool:
        return self.run_json.is_file()

    # run.json --------------------------------------------------------------
    def read_state(self) -> dict:
        """run.json as a dict ({} when missing, unreadable mid-rename, or not a JSON object)."""
        try:
            state = json.loads(self.run_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def update_state(self, **changes) -> dict:
        """Merge ``changes`` into run.json and rewrite it atomically; returns the new state."""
        state = self.read_state()
        state.update(changes)
        state["updated"] = time.time()
        atomic_write_json(self.run_json, state)
        return state

    def status(self) -> str:
        """The run's status; an active status reads as ``crashed`` when nobody holds the run's
        lock and its recorded driver process is gone (or was never recorded)."""
        state = self.read_state()
        status = state.get("status", "crashed" if self.path.exists() else "missing")
        if status in ACTIVE and not self.locked() and not self.process_alive(state):
            return "crashed"
        return status

    def is_active(self) -> bool:
        return self.status() in ACTIVE

    def process_alive(self, state: dict | None = None) -> bool:
        """Whether the driver pid recorded in run.json (``state``, read when None) is still that process."""
        state = self.read_state() if state is None else state
        return pid_alive(state.get("pid"), state.get("pid_start_time"))

    # the lock ----------------------------------------------------------------
    def lock(self, wait: float = 1.0) -> RunLock:
        """Take the run's exclusive lock (``flock`` on ``.lock``), trying for up to ``wait`` seconds.

        The wait rides over a reader's momentary probe (:meth:`locked`) and the launcher's hand
        over to the driver it starts.

        Raises:
            RunLocked: another process (or another open of the file) holds it after ``wait`` seconds.
        """
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = self._lock_holder(fd)
                        raise RunLocked(f"run {self.run_id} is already running: its lock {self.lock_file} is held"
                                        + (f" by pid {holder}" if holder else ""), file=str(self.path),
                                        hint=f"watch it with `lmtui logs {self.run_id} --follow`, "
                                             f"stop it with `lmtui stop {self.run_id}`") from None
                    time.sleep(LOCK_POLL_SECONDS)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        return RunLock(fd)

    def locked(self) -> bool:
        """Whether some process holds the run's lock (:func:`lock_held`; the pid decides where the
        file system refuses locks)."""
        return lock_held(self.lock_file)

    @staticmethod
    def _lock_holder(fd: int) -> str:
        try:
            return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            return ""

    # events ----------------------------------------------------------------
    def emit(self, type_: str, **fields) -> dict:
        """Append one event line (``{"v", "time", "type", ...fields}``) to events.jsonl.

        The line is one ``write`` in append mode. When the file does not end with a newline (a
        writer killed mid-line left a torn line), a newline goes first, so the torn fragment
        stays a line of its own that readers skip, and this event is read whole.
        """
        event = {"v": EVENTS_VERSION, "time": round(time.time(), 3), "type": type_, **fields}
        data = (json.dumps(event, separators=(",", ":")) + "\n").encode("utf-8")
        fd = os.open(self.events_file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            os.write(fd, data)
        finally:
            os.close(fd)
        return event

    def events(self, types: tuple[str, ...] | None = None) -> list[dict]:
        """All complete events (a partial last line is ignored), optionally of some types only.

        Read with :func:`lmtui.runs.events.iter_events` (bounded chunks, invalid lines skipped).
        """
        return [e for e in iter_events(self.events_file) if types is None or e.get("type") in types]

    def last_event(self, type_: str) -> dict | None:
        """The last complete event of type ``type_``, or None."""
        last = None
        for event in iter_events(self.events_file):
            if event.get("type") == type_:
                last = event
        return last

    # checkpoints -----------------------------------------------------------
    def checkpoints(self) -> list[tuple[int, Path]]:
        """Complete checkpoints as (step, path), oldest first. Temporary folders are skipped."""
        out = []
        if self.checkpoints_dir.is_dir():
            for p in self.checkpoints_dir.iterdir():
                if p.name.startswith("step-") and (p / "trainer_state.json").is_file():
                    try:
                        out.append((int(p.name[5:]), p))
                    except ValueError:
                        continue
        return sorted(out)


def create_run_dir(project_name: str, output_dir: str | os.PathLike) -> RunDir:
    """Create the folder of a new run ``<project>-<YYYYmmdd-HHMMSS>[-N]`` in ``output_dir``.

    Each name is claimed with one ``os.mkdir``, which fails when the folder exists, so two
    launches in the same second get different runs; the next suffix is tried on a clash.
    """
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_id, n = f"{project_name}-{stamp}", 2
    while True:
        try:
            os.mkdir(root / run_id)
            return RunDir(root / run_id)
        except FileExistsError:
            run_id = f"{project_name}-{stamp}-{n}"
            n += 1


def new_run_id(project_name: str, output_dir: str | os.PathLike) -> str:
    """A fresh run id ``<project>-<YYYYmmdd-HHMMSS>`` not yet used in ``output_dir``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_id = f"{project_name}-{stamp}"
    n = 2
    while (Path(output_dir) / run_id).exists():
        run_id = f"{project_name}-{stamp}-{n}"
        n += 1
    return run_id


def list_runs(output_dir: str | os.PathLike) -> list[RunDir]:
    """Run directories under ``output_dir`` (folders with a run.json), newest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if (p / "run.json").is_file()]
    return sorted(runs, key=lambda r: r.read_state().get("created", 0), reverse=True)


class RunNotFound(RunError):
    """No run matches a reference (:func:`find_run`)."""


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def find_run(ref: str, search_dirs: list[str | os.PathLike], *,
             note: Callable[[str], None] | None = _to_stderr) -> RunDir:
    """Resolve a run reference, the RUN argument of every command, tried in this order:

    1. a run directory path;
    2. an exact run id under ``search_dirs``;
    3. a project name (``project_name`` in run.json): its only run, else its latest finished
       run (newest ``created``), which ``note`` is told about ("using demo-20261201-101500, the
       latest finished run of project demo; ...");
    4. a run id without its ``project-`` prefix, as the TUI's Runs table shows it beside the
       project column (``20261207-233520``), or a unique prefix of one;
    5. a unique prefix of a run id.

    Args:
        ref: what the user typed.
        search_dirs: folders holding run directories (:meth:`lmtui.runs.catalog.Catalog.run_search_dirs`).
        note: called with the message when a project name picks one of several runs; by
            default it is printed to stderr; None says nothing.

    Raises:
        RunNotFound: nothing matches.
        RunError: a project with several runs and none finished, or a prefix matching several
            runs (the candidates listed).
    """
    p = Path(ref)
    if (p / "run.json").is_file():
        return RunDir(p)
    runs: dict[Path, RunDir] = {}
    for d in search_dirs:
        for run in list_runs(d):
            runs.setdefault(run.path, run)
    ordered = sorted(runs.values(), key=lambda r: r.read_state().get("created", 0), reverse=True)
    for run in ordered:
        if run.run_id == ref:
            return run
    of_project = [r for r in ordered if r.read_state().get("project_name") == ref]
    if len(of_project) == 1:
        return of_project[0]
    if of_project:
        finished = [r for r in of_project if r.status() == "finished"]
        if not finished:
            raise RunError(f"project {ref!r} has {len(of_project)} runs and no finished run: "
                           f"{_listing(of_project)}", hint="name one of them by its run id (a unique prefix is enough)")
        if note is not None:
            note(f"using {finished[0].run_id}, the latest finished run of project {ref} "
                 f"({len(of_project)} runs); name another by its run id (see `lmtui runs`)")
        return finished[0]
    compact = [r for r in ordered if r.run_id == f"{r.read_state().get('project_name')}-{ref}"]
    if len(compact) == 1:
        return compact[0]
    matches = compact or [r for r in ordered if r.run_id.startswith(ref)
                          or r.run_id.startswith(f"{r.read_state().get('project_name')}-{ref}")]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise RunError(f"run {ref!r} is ambiguous: {_listing(matches)}",
                       hint="give more of the run id, the run directory's path, or a project name "
                            "(its latest finished run)")
    raise RunNotFound(f"no run {ref!r} found in {', '.join(str(d) for d in search_dirs) or '.'}",
                      hint="list runs with `lmtui runs`, or give the run directory's path")


def _listing(runs: list[RunDir], limit: int = 5) -> str:
    """``id (status), ...`` of the first ``limit`` runs, and how many more."""
    shown = ", ".join(f"{r.run_id} ({r.status()})" for r in runs[:limit])
    return shown + (f" and {len(runs) - limit} more" if len(runs) > limit else "")


def host() -> str:
    return socket.gethostname()
