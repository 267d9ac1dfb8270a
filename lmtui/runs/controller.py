"""The sweep controller: ``python -m lmtui.runs.controller RECORD``, started detached by `lmtui sweep`.

It drives one Optuna sweep (docs/sweeps.md) through the study in ``<output_dir>/sweeps/<id>.db``
(:mod:`lmtui.runs.search`), with the ask-and-tell interface:

- while fewer trials run than ``parallel`` allows and fewer were asked than ``trials``, it asks
  the study for a trial (``study.ask``: its values are drawn and stored at once) and launches it:
  one lmtui run through the one launch path (:func:`lmtui.runs.launcher.validate`, then
  :func:`lmtui.runs.launcher.prepared` and :func:`lmtui.runs.launcher.start_driver`), the trial's
  values as ``--set`` overrides, in the run directory ``<output_dir>/<sweep id>-t<number>``. The
  name comes from the trial number, so whoever finds a running trial finds its run;
- it follows every running trial's ``events.jsonl``: each ``eval`` event's held-out metric goes
  to ``trial.report(value, step)``, then ``trial.should_prune()`` asks the pruner. A pruned trial
  is told ``PRUNED`` first, then stopped as `lmtui stop` stops a run (SIGINT to its process
  group: the trainer checkpoints and exits, the driver frees its slot or GPUs); once its driver
  has exited the run's status is set to ``pruned`` and a ``pruned`` event names the step and the
  reason. It can be resumed by hand later (`lmtui resume RUN`);
- a trial whose run finished is told its final metric, a run that failed (or whose project fails
  the checks with these values) is a ``FAIL`` trial, and the sweep goes on.

Crash safety: every decision is read back from the study and the run directories at each poll,
nothing from the controller's memory, so a controller killed at any point (kill -9 included)
and started again (`lmtui sweep resume ID`) continues: trials that were running kept running
(each run is its own detached driver) and are followed again, their reports replayed (a step
reported before is skipped); a trial asked but not launched is launched; a run directory that
exists is never launched again (the ``mkdir`` of its name fails); a pruned trial whose run was
not yet stopped or marked is stopped and marked. The controller holds an exclusive lock on
``<sweeps>/<id>.lock`` for its whole life (a second controller of the sweep exits with code 2,
:mod:`lmtui.runs.sweep_lock`) and writes its pid into the record.

Plain Python plus Optuna: no torch (the launcher's checks import it inside their own calls).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from lmtui.errors import LmtuiError, ProjectError, RunError
from lmtui.fsutil import atomic_write_json
from lmtui.procs import process_start_time
from lmtui.runs import launcher, search
from lmtui.runs.events import read_events
from lmtui.runs.rundir import ACTIVE, RunDir, RunLocked
from lmtui.runs.sweep_lock import take_lock
from lmtui.runs.sweep import axes_of, metric_value, read_sweep

POLL_SECONDS = float(os.environ.get("LMTUI_SWEEP_POLL", "1.0"))


class Stop(Exception):
    """SIGINT or SIGTERM: the controller ends (its trials go on; `lmtui sweep resume` continues)."""


def _on_signal(signum, frame):
    raise Stop(signal.Signals(signum).name)


def run_path(record: dict, number: int) -> Path:
    """The run directory of trial ``number``: ``<output_dir>/<sweep id>-t<number>``."""
    return Path(record["output_dir"]) / f"{record['sweep_id']}-t{number}"


class Controller:
    """One sweep's controller (see the module's docstring); :meth:`poll` is one pass."""

    def __init__(self, record_file: str | os.PathLike):
        self.record_file = Path(record_file)
        self.record = read_sweep(record_file)
        axes = axes_of(self.record)
        self.study = search.load(self.record, axes)
        self.dists = search.distributions(axes)
        self.offsets: dict[int, int] = {}
        self.stop_sent: set[int] = set()

    def live(self, trial) -> optuna.trial.Trial:
        """The trial (a FrozenTrial of the study, or a Trial) as a Trial to report to and ask about."""
        return optuna.trial.Trial(self.study, trial._trial_id)

    def tell(self, trial, value: float | None = None, state: TrialState | None = None) -> None:
        """``study.tell`` once per trial. A grid sampler whose grid is used up asks the study to stop
        from ``tell`` (``Study.stop``, a RuntimeError outside ``optimize``) after the trial's state
        is stored: the controller stops by itself once every trial has ended."""
        try:
            self.study.tell(trial.number, value, state=state, skip_if_finished=True)
        except RuntimeError:
            if not self.study._storage.get_trial(trial._trial_id).state.is_finished():
                raise

    def say(self, message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    # one trial -------------------------------------------------------------------
    def value_of(self, event: dict) -> float | None:
        value = event.get(self.record["metric"])
        return float(value) if isinstance(value, (int, float)) else None

    def overrides(self, trial: optuna.trial.FrozenTrial, path: Path) -> list[str]:
        values = [f"{k}={search.override_text(v)}" for k, v in trial.params.items()]
        out = list(self.record.get("set", [])) + values + [f"project.name={path.name}"]
        staged = launcher.load_with_overrides(self.record["project_path"], out)
        from lmtui.runs.queue import need_of

        if need_of(staged) is None:  # a run that reserves nothing takes one CPU slot, so trials queue
            out.append("hardware.slots=1")
        return out

    def launch(self, trial) -> None:
        """Launch the run of a trial that has none; a project the checks refuse is a failed trial."""
        path = run_path(self.record, trial.number)
        try:
            project, _ = launcher.validate(self.record["project_path"], self.overrides(trial, path))
            with launcher.prepared(project, fresh=True, run_path=path) as (run, _):
                launcher.start_driver(run)
        except ProjectError as exc:
            self.fail(trial, f"the project with these values fails its checks: {exc.format()}")
            return
        except RunError as exc:
            if RunDir(path).exists():
                return  # launched meanwhile: followed from the next poll
            self.fail(trial, exc.format())
            return
        self.live(trial).set_user_attr("run", str(run.path))
        values = ", ".join(f"{k}={search.override_text(v)}" for k, v in trial.params.items())
        self.say(f"trial {trial.number}: launched {run.run_id} with {values}")

    def fail(self, trial, error: str) -> None:
        self.live(trial).set_user_attr("error", error)
        self.tell(trial, state=TrialState.FAIL)
        self.say(f"trial {trial.number}: failed: {error}")

    def follow(self, trial: optuna.trial.FrozenTrial, run: RunDir) -> bool:
        """Report the run's new ``eval`` events to the trial (``trial.report(value, step)``), asking the
        pruner after each (``trial.should_prune()``) while the run trains; True when it is pruned."""
        offset = self.offsets.get(trial.number, 0)
        reported = dict(trial.intermediate_values)
        live = self.live(trial)
        active = run.status() in ACTIVE
        while True:
            events, nxt = read_events(run.events_file, offset)
            for e in events:
                step, value = e.get("step"), self.value_of(e)
                if e.get("type") != "eval" or not isinstance(step, int) or value is None or step in reported:
                    continue
                live.report(value, step)
                reported[step] = value
                if active and step < int(self.record["max_steps"]) and live.should_prune():
                    self.offsets[trial.number] = nxt
                    self.prune(trial, live, run, step, value)
                    return True
            if nxt == offset:
                break
            offset = nxt
        self.offsets[trial.number] = offset
        return False

    def prune(self, trial, live: optuna.trial.Trial, run: RunDir, step: int, value: float) -> None:
        """Tell the study the trial is pruned (the reason and step in its user attributes), then stop its run."""
        others = [t.intermediate_values[step] for t in self.study.get_trials(deepcopy=False)
                  if t.number != trial.number and step in t.intermediate_values]
        best = (min if self.study.direction == optuna.study.StudyDirection.MINIMIZE else max)(others) if others else None
        reason = (f"{search.PRUNER_NAMES[self.record['prune']]}: held-out {self.record['metric']} {value:.4f} at step "
                  f"{step}" + (f", the best trial had {best:.4f} there" if best is not None else ""))
        live.set_user_attr("pruned_step", step)
        live.set_user_attr("pruned_reason", reason)
        self.tell(trial, state=TrialState.PRUNED)
        self.say(f"trial {trial.number}: pruned at step {step} ({reason})")
        self.finish_pruned(trial.number, run, step, reason)

    def finish_pruned(self, number: int, run: RunDir, step, reason) -> None:
        """Stop a pruned trial's run once (as `lmtui stop`); mark it ``pruned`` once it has stopped."""
        status = run.status()
        if status in ACTIVE:
            if number not in self.stop_sent:
                self.stop_sent.add(number)
                launcher.stop(run)
            return
        if status == "stopped":
            run.update_state(status="pruned", pruned_step=step)
            run.emit("pruned", step=step, reason=reason, sweep_id=self.record["sweep_id"], trial=number)

    def settle(self, trial: optuna.trial.FrozenTrial) -> None:
        """One pass over a running trial: launch it, follow it, or tell the study how it ended."""
        path = Path(trial.user_attrs.get("run") or run_path(self.record, trial.number))
        run = RunDir(path)
        if not run.exists():
            self.launch(trial)
            return
        if "run" not in trial.user_attrs:  # launched by a controller killed before it could say so
            self.live(trial).set_user_attr("run", str(run.path))
        if self.follow(trial, run):
            return
        status = run.status()
        if status in ACTIVE:
            return
        if status == "finished":
            value = metric_value(run.path, self.record["metric"])
            if value is None:
                self.fail(trial, f"run {run.run_id} finished without a {self.record['metric']}")
                return
            self.tell(trial, value)
            self.say(f"trial {trial.number}: finished, {self.record['metric']} {value:.4f}")
            return
        if status == "crashed" and not run.events_file.exists():
            try:  # its launch died before the driver started: start it now
                launcher.resume(run)
            except (RunLocked, launcher.RunActiveError):
                return  # the driver it did start has just taken the run's lock
            self.say(f"trial {trial.number}: started the driver of {run.run_id}")
            return
        error = run.read_state().get("error") or status
        self.fail(trial, f"run {run.run_id} {status}" + (f": {error}" if error != status else ""))

    # the sweep -------------------------------------------------------------------
    def poll(self) -> bool:
        """One pass: settle running trials, finish pruned ones, ask for new ones; False once the sweep is done."""
        trials = self.study.get_trials(deepcopy=False)
        for t in trials:
            if t.state == TrialState.RUNNING:
                try:
                    self.settle(t)
                except LmtuiError as exc:  # e.g. a restart the launcher refuses: this trial fails, the sweep goes on
                    self.fail(t, exc.format())
            elif t.state == TrialState.PRUNED and t.user_attrs.get("run"):
                run = RunDir(t.user_attrs["run"])
                if run.status() != "pruned":
                    self.finish_pruned(t.number, run, t.user_attrs.get("pruned_step"), t.user_attrs.get("pruned_reason"))
        trials = self.study.get_trials(deepcopy=False)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        while running < int(self.record["parallel"]) and len(trials) < int(self.record["trials"]):
            trial = self.study.ask(self.dists)
            self.say(f"trial {trial.number}: asked {trial.params}")
            self.launch(trial)
            trials = self.study.get_trials(deepcopy=False)
            running = sum(t.state == TrialState.RUNNING for t in trials)
        self.write(trials)
        unsettled = [t for t in trials if t.state == TrialState.PRUNED and t.user_attrs.get("run")
                     and RunDir(t.user_attrs["run"]).status() in ACTIVE]
        return running > 0 or bool(unsettled) or len(trials) < int(self.record["trials"])

    def write(self, trials) -> None:
        """The record's view of the study (points, best, importances), for `lmtui sweep status` and the TUI."""
        points = []
        for t in trials:
            path = Path(t.user_attrs.get("run") or run_path(self.record, t.number))
            points.append({"trial": t.number, "name": path.name, "run_id": path.name, "run": str(path),
                           "values": {k: search.override_text(v) for k, v in t.params.items()},
                           "state": t.state.name.lower(), "value": t.value,
                           "pruned_step": t.user_attrs.get("pruned_step"),
                           "pruned_reason": t.user_attrs.get("pruned_reason"), "error": t.user_attrs.get("error")})
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        importance = self.record.get("importance", {})
        if len(complete) != self.record.get("complete_seen"):
            importance = search.importances(self.study)
        update = {"points": points, "importance": importance, "complete_seen": len(complete)}
        if any(self.record.get(k) != v for k, v in update.items()):
            self.record.update(update)
            atomic_write_json(self.record_file, self.record)

    def set_state(self, state: str) -> None:
        self.record.update(controller={"pid": os.getpid(), "pid_start_time": process_start_time(os.getpid()),
                                       "state": state, "updated": time.time()})
        atomic_write_json(self.record_file, self.record)


def main(record_file: str) -> int:
    """Drive the sweep of ``record_file`` until every trial has ended; 0 when done or stopped,
    1 on an error, 2 when another controller holds the sweep's lock."""
    try:
        lock = take_lock(record_file)
    except RunLocked as exc:
        print(f"error: {exc.format()}", file=sys.stderr, flush=True)
        return exc.exit_code
    with lock:
        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        controller = Controller(record_file)
        controller.set_state("running")
        controller.say(f"controller of sweep {controller.record['sweep_id']} (pid {os.getpid()})")
        try:
            while controller.poll():
                time.sleep(POLL_SECONDS)
        except Stop as stop:
            controller.set_state("stopped")
            controller.say(f"stopped ({stop}); the running trials go on: `lmtui sweep resume "
                           f"{controller.record['sweep_id']}` follows them again")
            return 0
        except LmtuiError as exc:
            controller.set_state("failed")
            controller.say(f"error: {exc.format()}")
            return 1
        controller.set_state("finished")
        controller.say("every trial has ended")
        return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
