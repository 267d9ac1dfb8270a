"""Start, find, stop and resume runs as detached processes.

:func:`launch` is the one way a run starts, from `lmtui run` and the TUI alike: every check
(:func:`validate`, which calls the check layer :func:`lmtui.checks.require`) before the run
directory is written, then the driver. This module sits above :mod:`lmtui.checks`; the rest of
:mod:`lmtui.runs` sits below it.

A run's driver (``python -m lmtui.driver RUN_DIR``) is started in a new session (its own
process group), with stdin closed and its output appended to ``train.log``; it survives the
terminal, the SSH connection and the UI that started it. The driver runs the tokenizer and
dataset stages itself and the pretraining stage as an ``accelerate launch`` child in the same
process group, so one ``killpg`` reaches every process of the run.

The run's lock (:meth:`lmtui.runs.rundir.RunDir.lock`) is held from choosing the run directory
until the driver's pid is in run.json; the driver then takes it for its whole life. So a run
that is ``queued`` with no driver yet is never taken for crashed and resumed a second time.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lmtui.errors import ProjectError, RunError
from lmtui.fsutil import atomic_write_text
from lmtui.procs import pid_alive, process_start_time, spawn_detached
from lmtui.project.freeze import apply_overrides, frozen_text
from lmtui.project.load import build_project, check_consistency, load_project, parse_project, project_text
from lmtui.project.paths import output_dir
from lmtui.project.schema import Project
from lmtui.runs import queue
from lmtui.runs.modelref import resolved_references
from lmtui.runs.rundir import ACTIVE, RunDir, RunLock, create_run_dir, host, list_runs

DRIVER_MODULE = "lmtui.driver"

# Sections whose change makes an existing run's checkpoints meaningless.
TRAINING_SECTIONS = ("corpus", "tokenizer", "model", "training", "distill")


class OverrideError(ProjectError):
    """A launch override is invalid. ``override`` is the ``section.key=value`` item at fault and
    ``detail`` the message without the CLI's ``from --set ...`` (the TUI names its field instead)."""

    def __init__(self, detail: str, *, override: str, **kwargs):
        super().__init__(f"{detail}, from --set {override}", **kwargs)
        self.detail = detail
        self.override = override


class ProjectChangedError(RunError):
    """The latest run cannot be resumed: ``sections`` of the project changed since run ``run_id``
    started (a fresh run is the fix: ``--fresh`` on the CLI, the "fresh run" box in the TUI)."""

    def __init__(self, message: str, *, run_id: str, sections: list[str], **kwargs):
        super().__init__(message, **kwargs)
        self.run_id = run_id
        self.sections = sections


class RunActiveError(RunError):
    """The run to restart is still running (its driver is alive); ``run_id`` names it."""

    def __init__(self, message: str, *, run_id: str, **kwargs):
        super().__init__(message, **kwargs)
        self.run_id = run_id


def _override_of(key: str | None, overrides: list[str]) -> str | None:
    """The ``--set`` argument that set ``key`` (a dotted project key), a key inside it, or a
    table holding it; None when no override touches it."""
    if not key:
        return None
    for item in reversed(overrides):
        name = item.partition("=")[0].strip()
        if key == name or key.startswith(name + ".") or name.startswith(key + "."):
            return item
    return None


@contextmanager
def naming_overrides(path: str, overrides: list[str]):
    """Re-raise a :class:`ProjectError` about an overridden key as an error of its ``--set``
    argument: the line of the project file would point at the value the override replaced."""
    try:
        yield
    except ProjectError as exc:
        item = _override_of(exc.key, overrides)
        if item is None:
            raise
        raise OverrideError(exc.message, override=item, file=str(path), key=exc.key, hint=exc.hint) from None


def load_with_overrides(path: str, overrides: list[str] | None = None, *, check: bool = True) -> Project:
    """Load and validate the project at ``path`` with ``section.key=value`` overrides applied.

    Errors about keys of the file name their line; errors about overridden keys name the
    ``--set`` argument instead (``... from --set training.batch_size=abc``), without a line.
    ``check=False`` leaves the cross-key rules to the caller (:func:`lmtui.checks.require` runs them first).

    Raises:
        ProjectError: the file or an override is invalid (:func:`lmtui.project.load.load_project`).
    """
    project = load_project(path, check=check and not overrides)
    if overrides:
        text = project_text(project)
        with naming_overrides(path, overrides):
            raw = apply_overrides(project.raw, overrides, str(path))
            project = build_project(raw, text, str(path), project.path)
            if check:
                check_consistency(project, text)
    return project


def validate(path: str, overrides: list[str] | None = None) -> tuple[Project, str | None]:
    """Every check a run gets before anything is written: load with overrides
    (:func:`load_with_overrides`), then the one check of every entry point
    (:func:`lmtui.checks.require`: the file's rules, the sampled files, the folders, the device,
    the models, the model config, what it reserves against this machine's GPUs or slots), then
    the publish stage's preflight. `lmtui run`, `lmtui sweep` and the TUI's launch dialog all
    come through here.

    Returns:
        (project, warning): ``warning`` says why the run's publish stage would fail (no token), else None.

    Raises:
        ProjectError: any check fails.
    """
    from lmtui.checks import require
    from lmtui.hub.stage import preflight as publish_preflight

    overrides = list(overrides or [])
    project = load_with_overrides(path, overrides, check=False)
    with naming_overrides(path, overrides):
        require(project, project_text(project))
    return project, publish_preflight(project)


def frozen_project_text(project: Project) -> str:
    """The frozen project.toml of a run of ``project``: its model references (``init_from``,
    ``[distill] teacher``) resolved to the folders they name now
    (:func:`lmtui.runs.modelref.resolved_references`), then :func:`lmtui.project.freeze.frozen_text`."""
    return frozen_text(resolved_references(project))


def latest_run(project: Project) -> RunDir | None:
    """The newest run of ``project`` (same name) in its output_dir, or None."""
    for run in list_runs(output_dir(project)):
        if run.read_state().get("project_name") == project.project.name:
            return run
    return None


def _changed_sections(run: RunDir, project: Project) -> list[str]:
    frozen = parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file),
                           str(run.project_file))
    from lmtui.project.freeze import resolved_tables

    old, new = resolved_tables(frozen), resolved_tables(resolved_references(project))
    return [s for s in TRAINING_SECTIONS if old[s] != new[s]]


def _corpus_changed(run: RunDir, project: Project | None = None) -> bool:
    """Whether the corpus files' contents changed since the run built its token cache: the
    fingerprint of the cache ``project`` (None: the run's frozen project) would use now (corpus
    digests, remembered by file stamp, so an unchanged corpus is not read again) differs from
    the run's last ``dataset`` event. Only a run with checkpoints counts: before its first one,
    a run follows the corpus."""
    dataset = run.last_event("dataset") if run.checkpoints() else None
    if not dataset or not dataset.get("fingerprint") or not (run.tokenizer_dir / "tokenizer.json").is_file():
        return False
    from lmtui.data.token_cache import dataset_fingerprint

    if project is None:
        project = parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file),
                                str(run.project_file))

    return dataset_fingerprint(project, run.tokenizer_dir) != dataset["fingerprint"]


def _corpus_changed_error(run: RunDir, file: str | None) -> ProjectChangedError:
    return ProjectChangedError(f"the corpus of run {run.run_id} changed since its token cache was built (its "
                               "checkpoints were trained on the old files), so it cannot be resumed",
                               file=file, hint="start a new run with --fresh (the old run is kept), or "
                                                       "put the old corpus files back",
                               run_id=run.run_id, sections=["corpus"])


def prepare_run(project: Project, *, fresh: bool = False) -> tuple[RunDir, bool]:
    """Pick the run directory for ``project`` (:func:`prepared`) and release its lock: for a
    caller that starts the driver itself (`lmtui bench`).

    Returns:
        (run, resumed): ``resumed`` is True when an existing run is continued.

    Raises:
        RunError: as :func:`prepared`.
    """
    with prepared(project, fresh=fresh) as picked:
        return picked


@contextmanager
def prepared(project: Project, *, fresh: bool = False,
             run_path: str | os.PathLike | None = None) -> Iterator[tuple[RunDir, bool]]:
    """Pick the run directory for ``project``, the latest unfinished-or-finished run or a new
    one, and hold its lock for the block (start the driver inside it).

    A new run's folder is claimed with one ``mkdir`` (:func:`lmtui.runs.rundir.create_run_dir`)
    and locked before its run.json exists, so no reader sees it unlocked while ``queued``.
    ``run_path`` names the new run's folder instead (a sweep's trial: a name made from the trial
    number, so a restarted controller finds what it launched); a folder of that name without a
    run.json is one whose launch died before it was written, and is taken over.

    Yields:
        (run, resumed): ``resumed`` is True when an existing run is continued.

    Raises:
        RunError: the latest run is still active (its lock is held, or its driver is alive), or
            the project changed in a way that makes its checkpoints unusable, or so did its
            corpus files (:func:`_corpus_changed`): start a new run with ``--fresh``; or
            ``run_path`` holds a run already.
    """
    if run_path is not None:
        run = RunDir(run_path)
        run.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(run.path)
        except FileExistsError:
            if run.exists():
                raise RunError(f"run {run.run_id} exists already", file=str(run.path),
                               hint=f"resume it with `lmtui resume {run.run_id}`") from None
        with run.lock(wait=0):
            if run.exists():  # launched by another process meanwhile
                raise RunError(f"run {run.run_id} exists already", file=str(run.path))
            atomic_write_text(run.project_file, frozen_project_text(project))
            run.update_state(version=1, run_id=run.run_id, project_name=project.project.name,
                             project_path=project.path, status="queued", stage=None, created=time.time(),
                             host=host())
            yield run, False
        return
    run = None if fresh else latest_run(project)
    if run is not None:
        with claim(run):
            changed = _changed_sections(run, project)
            if changed:
                raise ProjectChangedError(f"the project's {', '.join('[' + s + ']' for s in changed)} changed since "
                                          f"run {run.run_id} started, so it cannot be resumed", file=project.path,
                                          hint="start a new run with --fresh (the old run is kept)",
                                          run_id=run.run_id, sections=changed)
            if _corpus_changed(run, project):
                raise _corpus_changed_error(run, project.path)
            atomic_write_text(run.project_file, frozen_project_text(project))
            if crashed(run):
                run.update_state(verify=True)  # its driver verifies every digest (start_driver)
            yield run, True
        return
    run = create_run_dir(project.project.name, output_dir(project))
    with run.lock(wait=0):
        atomic_write_text(run.project_file, frozen_project_text(project))
        run.update_state(version=1, run_id=run.run_id, project_name=project.project.name,
                         project_path=project.path, status="queued", stage=None, created=time.time(), host=host())
        yield run, False


def crashed(run: RunDir) -> bool:
    """Whether a run whose lock the caller holds (:func:`claim`) crashed: run.json still says it
    is active, but its driver is gone. Its restart verifies every corpus and cache digest in full
    (run.json ``verify``, read by the tokenizer and dataset stages), since a crash can leave a
    file changed with its size, mtime and inode as they were."""
    return run.read_state().get("status") in ACTIVE


def claim(run: RunDir) -> RunLock:
    """The lock of an existing run that is not active, taken to restart it.

    Raises:
        RunError: its lock is held (:class:`lmtui.runs.rundir.RunLocked`), or run.json says it is
            active and its driver process is alive (a driver started before runs had a lock).
    """
    lock = run.lock()
    state = run.read_state()
    if state.get("status") in ACTIVE and run.process_alive(state):
        lock.release()
        raise RunActiveError(f"run {run.run_id} is already running (pid {state.get('pid')})", file=str(run.path),
                             hint=f"watch it with `lmtui logs {run.run_id} --follow`, stop it with "
                                  f"`lmtui stop {run.run_id}`", run_id=run.run_id)
    return lock


def start_driver(run: RunDir) -> int:
    """Start the run's driver detached (new session, stdin closed, output to train.log).

    Returns:
        the driver's pid, which is also the process group id of every process of the run.
    """
    run.update_state(status="queued", error=None, exit_code=None, ended=None, queued=time.time(), devices=None)
    proc = spawn_detached([sys.executable, "-m", DRIVER_MODULE, str(run.path)], run.log_file, cwd=run.path,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    run.update_state(pid=proc.pid, pid_start_time=process_start_time(proc.pid), host=host())
    need = queue.need_of(parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file)))
    if need is not None:  # its place in the queue is taken now, in launch order; the driver waits in it
        queue.Queue().enqueue(run.path, need, proc.pid, process_start_time(proc.pid))
    return proc.pid


@dataclass
class Launched:
    """A run started by :func:`launch`.

    Attributes:
        run: its directory.
        resumed: an existing run is continued.
        warning: why its publish stage would fail (show it; the run starts anyway), or None.
        offset: the size in bytes of its events.jsonl before the driver started (follow from there).
        finished: the latest run of the project had finished with this very project: nothing was
            started and the run is untouched (a new run needs ``fresh``).
    """

    run: RunDir
    resumed: bool
    warning: str | None
    offset: int
    finished: bool = False


def finished_run(project: Project) -> RunDir | None:
    """The project's latest run when it finished with this very project (its frozen project.toml is
    the one this project freezes to), else None: running it again would do nothing but rewrite
    its times. A project changed in a section that adds a stage ([eval], [hub]) is not this very
    project, so its finished run is resumed to run that stage."""
    run = latest_run(project)
    if run is None or run.status() != "finished" or not run.project_file.is_file():
        return None
    return run if run.project_file.read_text(encoding="utf-8") == frozen_project_text(project) else None


def launch(project_path: str, *, fresh: bool = False, overrides: list[str] | None = None) -> Launched:
    """Validate the project (:func:`validate`), pick or create its run directory and start the
    driver detached: the one way `lmtui run` and the TUI start a run.

    A finished latest run of this very project (:func:`finished_run`) is returned as it is, with
    ``finished`` set, and nothing starts.

    Raises:
        ProjectError: the project is invalid; nothing is written.
        RunError: the latest run is active or cannot be resumed (:func:`prepare_run`).
    """
    # before the checks that import torch: a finished run is reported at once
    done = None if fresh else finished_run(load_with_overrides(project_path, overrides, check=False))
    if done is not None:
        return Launched(run=done, resumed=False, warning=None, offset=done.events_file.stat().st_size
                        if done.events_file.exists() else 0, finished=True)
    project, warning = validate(project_path, overrides)
    with prepared(project, fresh=fresh) as (run, resumed):
        offset = run.events_file.stat().st_size if run.events_file.exists() else 0
        start_driver(run)
    return Launched(run=run, resumed=resumed, warning=warning, offset=offset)


def resume(run: RunDir) -> int:
    """Restart the driver of a stopped, crashed or failed run; it continues from its last checkpoint.

    Raises:
        RunError: the run is still active (:func:`claim`), or its corpus files changed since it
            built its token cache (:func:`_corpus_changed`, with the run's frozen project).
    """
    with claim(run):
        if _corpus_changed(run):
            raise _corpus_changed_error(run, str(run.project_file))
        if crashed(run):
            run.update_state(verify=True)
        return start_driver(run)


def stop(run: RunDir, *, force: bool = False) -> bool:
    """Ask a run to stop: SIGINT to its process group (the trainer checkpoints and exits).

    With ``force``, SIGKILL the whole group instead and mark the run stopped. Returns False
    when the run was not active.
    """
    state = run.read_state()
    pid = state.get("pid")
    if not pid_alive(pid, state.get("pid_start_time")):
        return False
    try:
        os.killpg(pid, signal.SIGKILL if force else signal.SIGINT)
    except ProcessLookupError:
        return False
    if force:
        run.update_state(status="stopped", ended=time.time(), error="killed by user")
        run.emit("end", status="stopped", error="killed by user")
    return True


def wait_stopped(run: RunDir, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the run's processes to exit; True if they did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not run.is_active():
            return True
        time.sleep(0.2)
    return not run.is_active()
