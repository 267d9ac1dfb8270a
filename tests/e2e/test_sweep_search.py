"""Optuna sweeps as a user runs them (issue 26): `lmtui sweep --search ... --prune ...`, the detached
controller, a pruned trial stopped and its slot given to the next one, a kill -9 of the controller
and `lmtui sweep resume`, the study read back with ``optuna.load_study``, bad axes refused before
anything starts, and `--set` for every point.

A tiny RoBERTa (size tiny, sequences of 32) on the Python Language Reference
(``pydoc_data.topics``), tens of steps per trial, one CPU slot, so trials run one at a time.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import optuna
import pytest
from pydoc_data.topics import topics
from support.cli import lmtui, wait_for

from lmtui.runs import search, sweep
from lmtui.runs.rundir import RunDir


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("LMTUI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "")  # a CPU machine with one slot: one trial at a time
    monkeypatch.setenv("LMTUI_SLOTS", "1")
    monkeypatch.setenv("LMTUI_SWEEP_POLL", "0.2")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return tmp_path


def tiny_project(folder: Path, max_steps: int = 20) -> Path:
    """The Language Reference's topics as a corpus and a tiny model that evaluates every 5 steps."""
    corpus = folder / "reference.txt"
    corpus.write_text("\n\n".join(topics[k] for k in sorted(topics))[:300_000], encoding="utf-8")
    path = folder / "ref.toml"
    path.write_text(f"""[project]
name = "ref"
output_dir = "runs"

[corpus]
train_files = ["{corpus}"]
document_delimiter = "blank_line"
validation_split = 0.05

[tokenizer]
kind = "byte_level_bpe"
vocab_size = 1000

[model]
architecture = "roberta"
size = "tiny"

[training]
max_seq_length = 32
batch_size = 8
micro_batch_size = 8
max_steps = {max_steps}
logging_steps = 5
eval_steps = 5
save_steps = 100
seed = 1

[hardware]
device = "cpu"
""")
    return path


def started(proc) -> tuple[Path, dict]:
    """The record of the sweep `lmtui sweep` started (the study's path is printed on its second line)."""
    sweep_id = proc.stdout.split()[1].rstrip(":")
    record_file = next(Path(proc.stdout.split("the study is ")[1].strip()).parent.glob(f"{sweep_id}.json"))
    return record_file, json.loads(record_file.read_text())


def record_of(record_file: Path) -> dict:
    return json.loads(record_file.read_text())


def controller_done(record_file: Path) -> bool:
    return (record_of(record_file).get("controller") or {}).get("state") == "finished"


def trial_runs(tmp: Path, sweep_id: str) -> list[str]:
    return sorted(p.name for p in (tmp / "runs").iterdir() if p.name.startswith(f"{sweep_id}-t"))


def test_bad_axes_and_flags_are_refused_before_anything_starts(env):
    path = tiny_project(env)
    cases = [
        (["--search", "tpe", "--trials", "3", "--range", "training.learning_rate=0:1e-3:log"], "must be above 0"),
        (["--search", "grid", "--range", "training.learning_rate=1e-4:1e-3"],
         "a grid search takes --grid axes only; training.learning_rate is a range"),
        (["--search", "tpe", "--range", "training.learning_rate=1e-4:1e-3"], "a tpe search needs --trials N"),
        (["--search", "tpe", "--trials", "2", "--range", "training.mlm_probability=0.1:1.4"],
         "value 1.4 of --range training.mlm_probability=0.1:1.4"),
        (["--prune", "asha", "--grid", "training.learning_rate=1e-4,1e-3"], "--prune needs an Optuna search"),
        (["--search", "grid", "--grid", "training.learning_rate=1e-4,1e-3", "--parallel", "0"],
         "argument --parallel: 0 is below the minimum 1"),
        (["--search", "tpe", "--trials", "2", "--range", "training.learning_rate=1e-4:1e-3",
          "--metric", "task:sst2:validation:accuracy", "--prune", "median"], "--prune median follows the held-out"),
        (["--search", "tpe", "--trials", "2", "--range", "training.learning_rate=1e-4:1e-3",
          "--set", "training.learning_rate=1e-3"], "sets training.learning_rate, which the sweep varies"),
        (["--search", "tpe", "--trials", "2", "--range", "training.learning_rate=1e-4:1e-3",
          "--set", "training.max_steps=abc"], "from --set training.max_steps=abc"),
    ]
    for args, message in cases:
        proc = lmtui("sweep", str(path), *args, cwd=env)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
    assert not (env / "runs").exists() and not list((env / "state").glob("queue-*.json"))


def test_set_fixes_a_key_for_every_point(env):
    path = tiny_project(env)
    proc = lmtui("sweep", str(path), "--grid", "training.learning_rate=1e-3,2e-3", "--set", "training.max_steps=7",
                 "--dry-run", cwd=env, check=True)
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["ref-learning_rate_1e-3: training.max_steps=7 training.learning_rate=1e-3",
                         "ref-learning_rate_2e-3: training.max_steps=7 training.learning_rate=2e-3"]
    message = lmtui("run", str(path), "--set", "training.batch_size=abc", cwd=env).stderr.splitlines()[0]
    assert lmtui("sweep", str(path), "--grid", "training.learning_rate=1e-3", "--set", "training.batch_size=abc",
                 cwd=env).stderr.splitlines()[0] == message


def test_a_pruned_trial_is_stopped_frees_its_slot_and_the_study_loads(env):
    path = tiny_project(env)
    # a good learning rate, then two that barely move the loss (seed 1: the grid sampler's order is
    # 3e-3, 2e-7, 1e-7); ASHA keeps the best third at its first rung (step 5), so both bad ones are pruned
    proc = lmtui("sweep", str(path), "--search", "grid", "--grid", "training.learning_rate=3e-3,1e-7,2e-7",
                 "--prune", "asha", "--seed", "1", cwd=env, check=True)
    record_file, record = started(proc)
    assert (record["search"], record["prune"], record["trials"], record["parallel"]) == ("grid", "asha", 3, 1)
    wait_for(lambda: controller_done(record_file), timeout=400, what="the sweep to end", poll=0.5)
    record = record_of(record_file)
    study = optuna.load_study(study_name=record["sweep_id"], storage=f"sqlite:///{record['storage']}")
    states = {t.number: t.state for t in study.trials}
    assert sorted(states) == [0, 1, 2]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert [t.number for t in pruned] == [1, 2], [(t.number, t.params, t.intermediate_values) for t in study.trials]
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
    assert study.best_trial.params == {"training.learning_rate": "3e-3"}
    for trial in pruned:
        run = RunDir(trial.user_attrs["run"])
        assert run.status() == "pruned" and run.checkpoints()  # stopped like `lmtui stop`: a checkpoint
        event = run.last_event("pruned")
        assert event["step"] == trial.user_attrs["pruned_step"] == 5 and "ASHA" in event["reason"]
        assert [e["type"] for e in run.events()][-2:] == ["end", "pruned"]
        if trial.number < 2:  # the next trial took the slot as soon as this one had stopped
            following = RunDir(study.trials[trial.number + 1].user_attrs["run"]).read_state()
            assert 0 <= following["started"] - run.read_state()["ended"] + 1.0 < 20
    status = json.loads(lmtui("sweep", "status", record["sweep_id"], "--json", cwd=env, check=True).stdout)
    assert status["controller"] == "finished" and status["rows"][0]["best"]
    assert {r["status"] for r in status["rows"]} <= {"finished", "pruned"}
    table = lmtui("sweep", "status", record["sweep_id"], cwd=env, check=True).stdout
    assert f"pruned at step 5" in table
    # a pruned trial can be resumed by hand: it runs on from its checkpoint to the end
    run = RunDir(pruned[0].user_attrs["run"])
    lmtui("resume", run.run_id, "--dir", str(env / "runs"), cwd=env, check=True)
    wait_for(lambda: run.status() == "finished", timeout=200, what="the resumed trial", poll=0.5)


def test_a_killed_controller_is_resumed_and_runs_every_trial_once(env):
    path = tiny_project(env, max_steps=30)
    proc = lmtui("sweep", str(path), "--search", "tpe", "--trials", "3", "--prune", "none", "--seed", "3",
                 "--range", "training.learning_rate=1e-4:3e-3:log", "--range", "training.mlm_probability=0.1:0.4",
                 cwd=env, check=True)
    record_file, record = started(proc)
    sweep_id = record["sweep_id"]
    second = RunDir(env / "runs" / f"{sweep_id}-t1")
    wait_for(lambda: second.last_event("train"), timeout=300, what="trial 1 to train", poll=0.2)
    pid = record_of(record_file)["controller"]["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: json.loads(lmtui("sweep", "status", sweep_id, "--json", cwd=env).stdout)["controller"] == "gone",
             timeout=30, what="the controller to be gone")
    assert f"controller gone (continue it with `lmtui sweep resume {sweep_id}`)" in lmtui(
        "sweep", "status", sweep_id, cwd=env).stdout
    assert second.is_active()  # its own driver: the trial goes on without the controller
    # a controller killed right after `study.ask`, before the launch: the trial is in the study, its run is not
    study = optuna.load_study(study_name=sweep_id, storage=f"sqlite:///{record['storage']}")
    asked = study.ask(search.distributions(sweep.axes_of(record)))
    assert asked.number == 2 and not (env / "runs" / f"{sweep_id}-t2").exists()
    assert lmtui("sweep", "resume", sweep_id, cwd=env, check=True).stdout.startswith(
        f"resumed the controller of sweep {sweep_id}")
    again = lmtui("sweep", "resume", sweep_id, cwd=env)  # one controller at a time
    assert again.returncode == 2 and "is running already" in again.stderr
    wait_for(lambda: controller_done(record_file), timeout=400, what="the sweep to end", poll=0.5)
    assert trial_runs(env, sweep_id) == [f"{sweep_id}-t0", f"{sweep_id}-t1", f"{sweep_id}-t2"]
    for name in trial_runs(env, sweep_id):
        run = RunDir(env / "runs" / name)
        assert [e["type"] for e in run.events()].count("run_start") == 1, name  # launched once
        assert run.status() == "finished"
    study = optuna.load_study(study_name=sweep_id, storage=f"sqlite:///{record['storage']}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert [Path(t.user_attrs["run"]).name for t in study.trials] == trial_runs(env, sweep_id)
    frozen = (env / "runs" / f"{sweep_id}-t2" / "project.toml").read_text()
    assert f"learning_rate = {asked.params['training.learning_rate']!r}" in frozen  # the values it was asked with
    assert set(record_of(record_file)["importance"]) == {"training.learning_rate", "training.mlm_probability"}


def test_a_trial_whose_values_fail_the_checks_is_a_failed_trial_not_a_dead_sweep(env):
    path = tiny_project(env)
    # both ends pass (8 and 16 are multiples of micro_batch_size 8); seed 0 draws 12, 14, 13, which do not
    proc = lmtui("sweep", str(path), "--search", "random", "--trials", "3", "--seed", "0",
                 "--range", "training.batch_size=8:16", cwd=env, check=True)
    record_file, record = started(proc)
    wait_for(lambda: controller_done(record_file), timeout=200, what="the sweep to end", poll=0.5)
    study = optuna.load_study(study_name=record["sweep_id"], storage=f"sqlite:///{record['storage']}")
    assert [t.params["training.batch_size"] for t in study.trials] == [12, 14, 13]
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 3
    assert all("is not divisible by micro_batch_size 8" in t.user_attrs["error"] for t in study.trials)
    assert trial_runs(env, record["sweep_id"]) == []  # nothing was launched for them
    rows = json.loads(lmtui("sweep", "status", record["sweep_id"], "--json", cwd=env, check=True).stdout)["rows"]
    assert [r["status"] for r in rows] == ["failed"] * 3
