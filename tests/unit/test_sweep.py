"""Sweep planning (grid, random search, [sweep] section), its refusals, and the status table's order."""

from __future__ import annotations

import json

import pytest
from support.runs import PROJECT_TOML, write_run

from lmtui.errors import ProjectError
from lmtui.runs import sweep


@pytest.fixture
def project_file(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("some text\n")
    path = tmp_path / "wiki.toml"
    path.write_text(PROJECT_TOML.format(name="wiki", out=tmp_path / "runs", corpus=corpus, max_steps=10))
    return path


def test_grid_points_are_every_combination_named_by_values(project_file):
    plan = sweep.plan(str(project_file), ["training.learning_rate=1e-4,3e-4", "model.size=mini,small"])
    assert [p.name for p in plan.points] == [
        "wiki-learning_rate_1e-4-size_mini", "wiki-learning_rate_1e-4-size_small",
        "wiki-learning_rate_3e-4-size_mini", "wiki-learning_rate_3e-4-size_small"]
    assert plan.points[1].overrides() == ["training.learning_rate=1e-4", "model.size=small"]
    assert plan.metric == "loss"


def test_random_search_is_seeded_and_in_range(project_file):
    args = (str(project_file), ["training.seed=1,2"], ["training.learning_rate=1e-5:1e-3:log",
                                                       "training.warmup_steps=0:10"], 6, 7)
    plan = sweep.plan(*args)
    assert [p.values for p in plan.points] == [p.values for p in sweep.plan(*args).points]
    assert len(plan.points) == 6
    for point in plan.points:
        assert 1e-5 <= float(point.values["training.learning_rate"]) <= 1e-3
        assert 0 <= int(point.values["training.warmup_steps"]) <= 10
        assert point.values["training.seed"] in ("1", "2")


def test_sweep_section(project_file):
    project_file.write_text(project_file.read_text() + '\n[sweep]\ngrid = { "model.size" = ["mini", "small"] }\n'
                            'metric = "perplexity"\n')
    plan = sweep.plan(str(project_file))
    assert [p.values for p in plan.points] == [{"model.size": '"mini"'}, {"model.size": '"small"'}]
    assert plan.metric == "perplexity"


@pytest.mark.parametrize("grid, ranges, samples, message", [
    (["training.learnin_rate=1e-4"], [], None, "is not a project key"),
    (["training.learning_rate=abc"], [], None, "expected a number, got a string ('abc'): value abc of --grid"),
    (["model.size=mini,huge"], [], None, "unknown value 'huge'"),
    (["training.learning_rate="], [], None, "no values"),
    (["training.learning_rate"], [], None, "is not KEY=VALUES"),
    ([], [], None, "nothing to sweep"),
    ([], ["training.learning_rate=1e-3:1e-5"], 3, "LOW is not below HIGH"),
    ([], ["training.learning_rate=0:1e-3:log"], 3, "must be above 0"),
    ([], ["training.learning_rate=1e-5:1e-3"], None, "needs --samples"),
    (["model.size=mini", "model.size=small"], [], None, "given twice"),
    (["project.name=a,b"], [], None, "a sweep names each run by its values"),
])
def test_bad_sweeps_are_refused(project_file, grid, ranges, samples, message):
    with pytest.raises(ProjectError) as info:
        sweep.plan(str(project_file), grid, ranges, samples)
    assert message in info.value.message


def test_bad_section_names_its_line(project_file):
    project_file.write_text(project_file.read_text() + '\n[sweep]\ngrid = { "model.size" = [] }\n')
    with pytest.raises(ProjectError, match="non-empty list") as info:
        sweep.plan(str(project_file))
    assert info.value.key == "sweep.grid" and info.value.line == project_file.read_text().splitlines().index(
        'grid = { "model.size" = [] }') + 1


def test_unknown_metric(project_file):
    with pytest.raises(ProjectError, match="unknown sweep metric 'f1'"):
        sweep.plan(str(project_file), ["model.size=mini"], metric="f1")


def test_rows_sorted_by_metric_best_marked(tmp_path):
    points = []
    for name, loss0 in (("a", 9.0), ("b", 7.0), ("c", 8.0)):
        run = write_run(tmp_path, f"wiki-{name}", loss0=loss0)
        points.append({"name": name, "values": {"training.seed": name}, "run_id": run.run_id, "run": str(run.path)})
    write_run(tmp_path, "wiki-d", status="failed", steps=20)  # failed before its first evaluation
    points.append({"name": "d", "values": {}, "run_id": "wiki-d", "run": str(tmp_path / "wiki-d")})
    record = {"sweep_id": "wiki-sweep-1", "metric": "loss", "keys": ["training.seed"], "points": points}
    rows = sweep.rows(record)
    assert [r["name"] for r in rows] == ["b", "c", "a", "d"]
    assert [r["best"] for r in rows] == [True, False, False, False]
    assert rows[3]["status"] == "failed" and rows[3]["metric"] is None
    assert rows[0]["loss"] == rows[0]["metric"] < rows[1]["loss"]
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "wiki-sweep-1.json").write_text(json.dumps(record))
    assert sweep.find_sweep("wiki", [tmp_path]).name == "wiki-sweep-1.json"
    assert sweep.find_sweep("wiki-sw", [tmp_path]).name == "wiki-sweep-1.json"


def test_rows_by_a_task_metric_higher_is_better(tmp_path):
    points = []
    for name, acc in (("a", 0.7), ("b", 0.9)):
        run = write_run(tmp_path, f"wiki-{name}")
        (run.eval_dir).mkdir()
        (run.eval_dir / "results.json").write_text(json.dumps({"models": {"final": {"tasks": {"sst2": {
            "metrics_order": ["accuracy"], "splits": {"validation": {"accuracy": {"mean": acc}}}}}}}}))
        points.append({"name": name, "values": {}, "run_id": run.run_id, "run": str(run.path)})
    rows = sweep.rows({"points": points}, "task:sst2:validation:accuracy")
    assert [(r["name"], r["metric"], r["best"]) for r in rows] == [("b", 0.9, True), ("a", 0.7, False)]


def test_a_point_breaking_a_cross_key_rule_is_named_by_its_values(project_file):
    plan = sweep.plan(str(project_file), ["training.batch_size=16,24"])
    with pytest.raises(ProjectError) as info:
        sweep.validate_points(plan, deep=False)
    assert info.value.message == ("sweep point training.batch_size=24: batch_size 24 is not divisible by "
                                  "micro_batch_size 16 x 1 process(es)")


def test_set_applies_to_every_point_and_may_not_set_a_swept_key(project_file):
    plan = sweep.plan(str(project_file), ["training.learning_rate=1e-4,3e-4"], overrides=["training.max_steps=20"])
    assert plan.overrides == ["training.max_steps=20"]
    assert {p.training.max_steps for _, p in sweep.validate_points(plan, deep=False)} == {20}
    with pytest.raises(ProjectError) as info:
        sweep.plan(str(project_file), ["training.learning_rate=1e-4,3e-4"], overrides=["training.learning_rate=1e-3"])
    assert info.value.message == ("--set training.learning_rate=1e-3 sets training.learning_rate, which the sweep "
                                  "varies (--grid training.learning_rate=1e-4,3e-4)")
    with pytest.raises(ProjectError, match="from --set training.max_steps=abc"):
        sweep.plan(str(project_file), ["training.learning_rate=1e-4"], overrides=["training.max_steps=abc"])


def test_a_range_is_checked_at_both_ends(project_file):
    with pytest.raises(ProjectError) as info:
        sweep.plan(str(project_file), [], ["training.warmup_ratio=0:1.5"], points=False)
    assert "value 1.5 of --range training.warmup_ratio=0:1.5" in info.value.message


def test_axes_become_optuna_distributions_and_pruners_count_steps(project_file):
    import optuna

    from lmtui.runs import search

    plan = sweep.plan(str(project_file), ["model.size=mini,small"], ["training.learning_rate=1e-4:3e-3:log",
                                                                    "training.warmup_steps=0:10"], points=False)
    dists = search.distributions(plan.axes)
    assert dists["model.size"] == optuna.distributions.CategoricalDistribution(["mini", "small"])
    assert dists["training.learning_rate"] == optuna.distributions.FloatDistribution(1e-4, 3e-3, log=True)
    assert dists["training.warmup_steps"] == optuna.distributions.IntDistribution(0, 10)
    assert [search.override_text(v) for v in ("mini", 7, 0.00031)] == ["mini", "7", "0.00031"]
    asha = search.make_pruner("asha", 25, 300)
    assert isinstance(asha, optuna.pruners.SuccessiveHalvingPruner) and asha._min_resource == 25
    hyperband = search.make_pruner("hyperband", 25, 300)
    assert (hyperband._min_resource, hyperband._max_resource) == (25, 300)
    with pytest.raises(ValueError, match="grid axes only"):
        search.make_sampler("grid", plan.axes, 0)


def test_every_run_status_has_its_colour_and_filter():
    """The statuses of run.json (``pruned`` included) in `lmtui runs` and the TUI."""
    from lmtui.commands.runs import STATUS_STYLE as CLI_STYLE
    from lmtui.runs.rundir import STATUSES
    from lmtui.tui.screens.runs import STATUS_STYLE as TUI_STYLE

    from lmtui.cli import build_parser

    assert "pruned" in STATUSES
    assert set(CLI_STYLE) == set(TUI_STYLE) == set(STATUSES)
    parser = build_parser()[0]
    for status in STATUSES:  # `lmtui runs --status S` takes every status
        assert parser.parse_args(["runs", "--status", status]).status == [status]
