"""Sweeps: one run per point of a grid (or of a random search), queued together, read back as one table.

A sweep is planned from ``--grid KEY=V1,V2`` / ``--range KEY=LOW:HIGH[:log]`` arguments or the
project's ``[sweep]`` section (:func:`plan`). Every point becomes ``--set`` overrides of the
project (:func:`lmtui.runs.launcher.load_with_overrides`) plus a project name made of its values
(``wiki-learning_rate_0.0003-size_mini``), which names its run. Every point is validated before
any run starts (:func:`validate_points`), so bad input queues nothing; then every run is
launched detached (:func:`launch`) and waits in the run queue (:mod:`lmtui.runs.queue`): on a
machine without GPUs a point that reserves nothing takes one CPU slot, so the points run one
after another instead of all at once. A failed point is one failed run; the others go on.

The sweep is recorded in ``<output_dir>/sweeps/<sweep id>.json`` (its points, their values and
run directories). :func:`rows` reads the runs back for `lmtui sweep status` and the TUI, sorted
by the sweep's metric, best first.

Random search draws each key independently (Bergstra and Bengio 2012, "Random Search for
Hyper-Parameter Optimization"): uniform on ``LOW:HIGH``, log-uniform on ``LOW:HIGH:log``,
uniform among a grid key's values.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import os
import random
import re
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from lmtui.errors import ProjectError, RunError
from lmtui.fsutil import atomic_write_json
from lmtui.project.freeze import apply_overrides, toml_value
from lmtui.project.lines import line_of
from lmtui.project.load import build_project, load_project, project_text
from lmtui.project.paths import output_dir
from lmtui.project.schema import SECTIONS, Project

SWEEP_VERSION = 1
LOSS_METRICS = ("loss", "perplexity", "accuracy")  # of the final held-out evaluation


@dataclass
class Axis:
    """One swept key: its values (TOML text each, as ``--set`` takes them) or a random range.

    Attributes:
        key: the dotted project key, ``section.name``.
        values: TOML texts of the values (a grid axis), or empty for a range.
        low, high, log, integer: the range of a random-search axis.
        source: where it was written, for messages (``--grid ...`` or ``[sweep] grid``).
    """

    key: str
    values: list[str] = field(default_factory=list)
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    source: str = ""


@dataclass
class Point:
    """One run of a sweep: its values by key (TOML text) and its run's project name."""

    values: dict[str, str]
    name: str = ""

    def overrides(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.values.items()]


@dataclass
class Plan:
    """A planned sweep: the project file, its points, the metric its table is sorted by, and the
    ``--set`` overrides every point's run gets (``overrides``, before the point's values)."""

    project: Project
    axes: list[Axis]
    points: list[Point]
    metric: str
    overrides: list[str] = field(default_factory=list)


def _known_keys() -> list[str]:
    return [f"{name}.{f.name}" for name, cls in SECTIONS.items() if name != "sweep" for f in fields(cls)]


def _check_key(key: str, source: str, where: dict) -> None:
    if key == "project.name":
        raise ProjectError(f"sweep key {key!r} ({source}): a sweep names each run by its values", **where,
                           hint="sweep other keys; the runs are named <project>-<key>_<value>-...")
    if key in _known_keys():
        return
    guess = difflib.get_close_matches(key, _known_keys(), n=1, cutoff=0.6)
    raise ProjectError(f"sweep key {key!r} ({source}) is not a project key", **where,
                       hint=f"did you mean {guess[0]!r}?" if guess else "write section.key, e.g. training.learning_rate "
                       "(`lmtui keys` lists them)")


def _number(text: str, what: str, where: dict) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ProjectError(f"{what}: {text!r} is not a number", **where, hint="write e.g. 1e-5:1e-3:log") from None
    if not math.isfinite(value):
        raise ProjectError(f"{what}: {text!r} is not a finite number", **where, hint="write e.g. 1e-5:1e-3:log")
    return value


def parse_range(key: str, spec: str, source: str, where: dict) -> Axis:
    """``LOW:HIGH`` or ``LOW:HIGH:log`` as a random-search axis of ``key``.

    Raises:
        ProjectError: not of that form, LOW not below HIGH, or a log range not above 0.
    """
    parts = [p.strip() for p in str(spec).split(":")]
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
        raise ProjectError(f"range {spec!r} of {key} ({source}) is not LOW:HIGH or LOW:HIGH:log", **where,
                           hint="write e.g. 1e-5:1e-3:log")
    low, high = (_number(p, f"range of {key} ({source})", where) for p in parts[:2])
    if low >= high:
        raise ProjectError(f"range {spec!r} of {key} ({source}): LOW is not below HIGH", **where,
                           hint="write LOW:HIGH with LOW < HIGH")
    log = len(parts) == 3
    if log and low <= 0:
        raise ProjectError(f"log range {spec!r} of {key} ({source}) must be above 0", **where,
                           hint="use a plain range LOW:HIGH, or LOW > 0")
    integer = all(re.fullmatch(r"[+-]?\d+", p) for p in parts[:2])
    return Axis(key, low=low, high=high, log=log, integer=integer, source=source)


def axes_from_args(grid: list[str], ranges: list[str], file: str) -> list[Axis]:
    """The axes of ``--grid KEY=V1,V2,...`` and ``--range KEY=LOW:HIGH[:log]`` arguments.

    Raises:
        ProjectError: an argument without ``=``, a key that is not a project key, an empty value
            list, a bad range, or a key swept twice.
    """
    axes = []
    for flag, items in (("--grid", grid), ("--range", ranges)):
        for item in items:
            key, sep, rest = item.partition("=")
            key = key.strip()
            source = f"{flag} {item}"
            where = {"file": file, "key": key or None}
            if not sep or not key:
                raise ProjectError(f"{source} is not KEY=VALUES", file=file,
                                   hint=f"write e.g. {flag} training.learning_rate="
                                        + ("1e-4,3e-4" if flag == "--grid" else "1e-5:1e-3:log"))
            _check_key(key, source, where)
            if flag == "--range":
                axes.append(parse_range(key, rest, source, where))
                continue
            values = [v.strip() for v in rest.split(",") if v.strip()]
            if not values:
                raise ProjectError(f"{source}: no values", **where, hint=f"write e.g. --grid {key}=V1,V2")
            axes.append(Axis(key, values=values, source=source))
    return axes


def axes_from_section(project: Project, text: str) -> list[Axis]:
    """The axes of the project's ``[sweep]`` grid and ranges.

    Raises:
        ProjectError: a key that is not a project key, a grid value that is not a non-empty list,
            a bad range; with the line of the key.
    """
    axes = []
    file = project.path or "<project>"
    for table in ("grid", "ranges"):
        for key, value in getattr(project.sweep, table).items():
            where = {"file": file, "key": f"sweep.{table}", "line": line_of(text, "sweep", table) if text else None}
            source = f"[sweep] {table}"
            _check_key(key, source, where)
            if table == "ranges":
                axes.append(parse_range(key, value, source, where))
            elif not isinstance(value, list) or not value:
                raise ProjectError(f"[sweep] grid {key!r} must be a non-empty list of values, got {value!r}", **where,
                                   hint=f'write e.g. "{key}" = [1, 2]')
            else:
                axes.append(Axis(key, values=[toml_value(v) for v in value], source=source))
    return axes


def _display(text: str) -> str:
    """A value's TOML text as it appears in a run name: quotes dropped, other characters as ``_``."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", text.strip().strip('"').strip("'"))


def _draw(axis: Axis, rng: random.Random) -> str:
    if axis.values:
        return rng.choice(axis.values)
    if axis.integer and axis.log:
        return str(round(math.exp(rng.uniform(math.log(axis.low), math.log(axis.high)))))
    if axis.integer:
        return str(rng.randint(int(axis.low), int(axis.high)))
    if axis.log:
        value = math.exp(rng.uniform(math.log(axis.low), math.log(axis.high)))
    else:
        value = rng.uniform(axis.low, axis.high)
    return f"{float(f'{value:.3g}')!r}"


def points_of(axes: list[Axis], samples: int, seed: int, base: str) -> list[Point]:
    """The sweep's points: every combination of the axes' values, or ``samples`` random draws;
    each named ``<base>-<key>_<value>-...`` after the last part of each key (``-2``, ``-3`` on a repeat)."""
    if samples:
        rng = random.Random(seed)
        combos = [[_draw(a, rng) for a in axes] for _ in range(samples)]
    else:
        combos = [list(c) for c in itertools.product(*(a.values for a in axes))]
    points, seen = [], {}
    for combo in combos:
        point = Point({a.key: v for a, v in zip(axes, combo)})
        name = base + "".join(f"-{a.key.rpartition('.')[2]}_{_display(v)}" for a, v in zip(axes, combo))
        seen[name] = seen.get(name, 0) + 1
        point.name = name if seen[name] == 1 else f"{name}-{seen[name]}"
        points.append(point)
    return points


def _ends(axis: Axis) -> list[str]:
    return [str(int(v)) if axis.integer else repr(float(v)) for v in (axis.low, axis.high)]


def check_values(project: Project, text: str, axes: list[Axis], overrides: list[str] | None = None) -> None:
    """Each grid value and each range's two ends, one at a time, against its key's type,
    choices and range (with the ``--set`` ``overrides`` applied first).

    Raises:
        ProjectError: naming the key and the value's ``--grid`` argument or ``[sweep]`` table.
    """
    file = project.path or "<project>"
    base = apply_overrides(project.raw, list(overrides or []), file)
    for axis in axes:
        for value in axis.values or _ends(axis):
            try:
                build_project(apply_overrides(base, [f"{axis.key}={value}"], file), text, file, project.path)
            except ProjectError as exc:
                line = line_of(text, "sweep", "grid" if axis.values else "ranges") if "[sweep]" in axis.source else None
                raise ProjectError(f"{exc.message}: value {value} of {axis.source}", file=file, key=exc.key or axis.key,
                                   line=line, hint=exc.hint) from None


def check_set(overrides: list[str], axes: list[Axis], file: str) -> None:
    """Refuse a ``--set`` override of a key that is also swept (or of a table holding one).

    Raises:
        ProjectError: naming the ``--set`` argument and the axis.
    """
    for item in overrides:
        name = item.partition("=")[0].strip()
        for axis in axes:
            if name == axis.key or axis.key.startswith(name + ".") or name.startswith(axis.key + "."):
                raise ProjectError(f"--set {item} sets {axis.key}, which the sweep varies ({axis.source})", file=file,
                                   key=axis.key, hint=f"drop {axis.key} from --set, or from the sweep's axes")


def plan(path: str, grid: list[str] | None = None, ranges: list[str] | None = None, samples: int | None = None,
         seed: int | None = None, metric: str | None = None, overrides: list[str] | None = None,
         points: bool = True) -> Plan:
    """Plan the sweep of the project at ``path``: the command-line axes when given, else its
    ``[sweep]`` section; ``samples``, ``seed`` and ``metric`` default to the section's.
    ``overrides`` (``--set section.key=value``, as `lmtui run` takes them) apply to every point.
    Without ``points`` (an Optuna search, whose sampler draws the points) no point is made and
    a range needs no ``samples``.

    Raises:
        ProjectError: the project is invalid, an override is (the messages of `lmtui run --set`)
            or sets a swept key (:func:`check_set`), a key or value is (:func:`axes_from_args`,
            :func:`axes_from_section`, :func:`check_values`), or there is nothing to sweep.
    """
    from lmtui.runs.launcher import load_with_overrides

    overrides = list(overrides or [])
    project = load_project(path, check=False)
    if overrides:
        load_with_overrides(path, overrides)  # its errors name the --set argument, as `lmtui run`'s do
    text = project_text(project)
    s = project.sweep
    axes = axes_from_args(grid or [], ranges or [], str(path)) if grid or ranges else axes_from_section(project, text)
    samples = s.samples if samples is None else samples
    keys = [a.key for a in axes]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ProjectError(f"sweep key {twice[0]} is given twice", file=str(path), key=twice[0],
                           hint="give each key once, with all its values")
    if not axes:
        raise ProjectError("nothing to sweep: no --grid or --range, and no [sweep] grid or ranges", file=str(path),
                           hint="write e.g. --grid training.learning_rate=1e-4,3e-4")
    if points and any(not a.values for a in axes) and not samples:
        raise ProjectError("a random range needs --samples N (or [sweep] samples)", file=str(path),
                           key=next(a.key for a in axes if not a.values),
                           hint="add e.g. --samples 8, or search it with --search tpe --trials 8")
    check_set(overrides, axes, str(path))
    check_values(project, text, axes, overrides)
    metric = metric or s.metric
    check_metric(metric, str(path))
    made = points_of(axes, samples, s.seed if seed is None else seed, project.project.name) if points else []
    return Plan(project, axes, made, metric, overrides)


def check_metric(metric: str, file: str | None = None) -> None:
    """Refuse a metric that is not loss, perplexity, accuracy or ``task:NAME:SPLIT:METRIC``.

    Raises:
        ProjectError: naming the metric.
    """
    if metric in LOSS_METRICS or re.fullmatch(r"task:[^:]+:[^:]+:[^:]+", metric):
        return
    raise ProjectError(f"unknown sweep metric {metric!r}", file=file, key="sweep.metric",
                       hint="use loss, perplexity, accuracy, or task:NAME:SPLIT:METRIC (e.g. task:sst2:validation:accuracy)")


def point_overrides(point: Point, project: Project) -> list[str]:
    """The ``--set`` overrides of ``point``'s run: its values and its name; a point that would
    reserve nothing on this machine takes one CPU slot, so the sweep's runs queue."""
    from lmtui.runs.queue import need_of

    overrides = point.overrides() + [f"project.name={toml_value(point.name)}"]
    if need_of(project) is None:
        overrides.append("hardware.slots=1")
    return overrides


def validate_points(plan_: Plan, *, deep: bool = True) -> list[tuple[Point, Project]]:
    """Every point through the launcher's checks (:func:`lmtui.runs.launcher.validate`; without
    ``deep`` only the project file's, :func:`lmtui.runs.launcher.load_with_overrides`, which need
    no torch), before anything is written.

    Raises:
        ProjectError: the first point that fails, named by its values.
    """
    from lmtui.runs import launcher

    out = []
    path = plan_.project.path
    for point in plan_.points:
        try:
            staged = launcher.load_with_overrides(path, plan_.overrides + point.overrides())
            overrides = plan_.overrides + point_overrides(point, staged)
            project = launcher.validate(path, overrides)[0] if deep else launcher.load_with_overrides(path, overrides)
        except ProjectError as exc:
            values = ", ".join(f"{k}={v}" for k, v in point.values.items())
            # the point's values name the override already
            message = exc.detail if isinstance(exc, launcher.OverrideError) else exc.message
            raise ProjectError(f"sweep point {values}: {message}", file=exc.file, key=exc.key, line=exc.line,
                               hint=exc.hint) from None
        out.append((point, project))
    return out


def sweeps_dir(project: Project) -> Path:
    return Path(output_dir(project)) / "sweeps"


def new_sweep_id(folder: Path, name: str) -> str:
    """A new sweep id ``<name>-sweep-<YYYYmmdd-HHMMSS>[-N]``, claimed by creating its record file
    ``folder/<id>.json`` (empty until written) with ``open(..., "x")``."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp, n = time.strftime("%Y%m%d-%H%M%S"), 1
    while True:
        sweep_id = f"{name}-sweep-{stamp}" + (f"-{n}" if n > 1 else "")
        try:
            (folder / f"{sweep_id}.json").open("x").close()
            return sweep_id
        except FileExistsError:
            n += 1


def launch(plan_: Plan) -> dict:
    """Validate every point, then start one detached run per point, in order (they wait in the
    run queue); returns the sweep record, written to ``<output_dir>/sweeps/<sweep id>.json``.

    Raises:
        ProjectError: a point is invalid (:func:`validate_points`); no run is started.
    """
    from lmtui.runs import launcher

    validated = validate_points(plan_)
    folder = sweeps_dir(plan_.project)
    sweep_id = new_sweep_id(folder, plan_.project.project.name)
    record = {"version": SWEEP_VERSION, "sweep_id": sweep_id, "project": plan_.project.project.name,
              "project_path": plan_.project.path, "created": time.time(), "metric": plan_.metric,
              "keys": [a.key for a in plan_.axes], "set": plan_.overrides, "points": []}
    for point, project in validated:
        with launcher.prepared(project, fresh=True) as (run, _):
            launcher.start_driver(run)
        record["points"].append({"name": point.name, "values": point.values, "run_id": run.run_id,
                                 "run": str(run.path)})
        atomic_write_json(folder / f"{sweep_id}.json", record)
    return record


def axes_of(record: dict) -> list[Axis]:
    """A search sweep record's axes (``record["axes"]``, as :func:`start_search` wrote them)."""
    return [Axis(**a) for a in record["axes"]]


def default_parallel(project: Project) -> int:
    """How many trials the run queue can run at once for ``project`` (with the sweep's slot of a
    run that reserves nothing): this machine's GPUs or CPU slots over what one trial takes."""
    from lmtui.runs import inventory
    from lmtui.runs.queue import need_of

    need = need_of(project)
    if need is None or need.kind == "slot":
        return max(1, inventory.slot_count() // (need.count if need else 1))
    return max(1, len(inventory.gpus()) // max(1, need.count))


def _search_points(plan_: Plan) -> list[dict[str, str]]:
    """The values the checks try before a search starts: the first value of every axis, then
    each other value (and each range's other end) of one axis at a time."""
    first = {a.key: (a.values or _ends(a))[0] for a in plan_.axes}
    out = [dict(first)]
    for a in plan_.axes:
        for value in (a.values or _ends(a))[1:]:
            out.append(dict(first, **{a.key: value}))
    return out


def start_search(plan_: Plan, search: str, trials: int | None, prune: str, parallel: int | None,
                 seed: int | None = None) -> tuple[Path, dict]:
    """Check the sweep, create its Optuna study in ``<output_dir>/sweeps/<sweep id>.db`` and
    start its controller detached (:mod:`lmtui.runs.controller`), which asks, launches, prunes
    and tells the trials.

    Before anything is written, every grid value and both ends of every range go through the
    launcher's checks, one axis at a time (:func:`lmtui.runs.launcher.validate`, the one check
    layer): a bad axis starts nothing. A value the sampler draws later that fails its checks
    makes a failed trial, not a dead sweep.

    Args:
        search: ``tpe``, ``random`` or ``grid`` (:data:`lmtui.runs.search.SEARCHES`).
        trials: how many trials to ask (a grid: at most, and by default, its size).
        prune: ``asha``, ``hyperband``, ``median`` or ``none`` (:data:`lmtui.runs.search.PRUNERS`).
        parallel: trials running at once, at least 1 (None: :func:`default_parallel`).
        seed: the sampler's seed (None: ``[sweep] seed``).

    Returns:
        (record file, record).

    Raises:
        ProjectError: a bad search, pruner, trial count or axis; a metric the pruner cannot
            follow; a point that fails the launcher's checks.
    """
    from lmtui.runs import launcher
    from lmtui.runs import search as optuna_search
    from lmtui.runs.sweep_lock import start_controller

    file = plan_.project.path or "<project>"
    if search not in optuna_search.SEARCHES:
        raise ProjectError(f"unknown search {search!r}", file=file, key="sweep.search",
                           hint=f"use one of {', '.join(optuna_search.SEARCHES)}")
    if prune not in optuna_search.PRUNERS:
        raise ProjectError(f"unknown pruner {prune!r}", file=file, key="sweep.prune",
                           hint=f"use one of {', '.join(optuna_search.PRUNERS)}")
    ranged = [a.key for a in plan_.axes if not a.values]
    if search == "grid" and ranged:
        raise ProjectError(f"a grid search takes --grid axes only; {ranged[0]} is a range", file=file, key=ranged[0],
                           hint="give it values with --grid KEY=V1,V2, or use --search tpe or random")
    size = optuna_search.grid_size(plan_.axes)
    if search == "grid":
        trials = min(trials, size) if trials else size
    if not trials or trials < 1:
        raise ProjectError(f"a {search} search needs --trials N (or [sweep] trials)", file=file, key="sweep.trials",
                           hint="add e.g. --trials 12")
    if parallel is not None and parallel < 1:
        raise ProjectError(f"--parallel {parallel}: at least one trial runs at a time", file=file,
                           hint="give --parallel 1 or more, or leave it out (what the queue can run)")
    if prune != "none" and plan_.metric not in LOSS_METRICS:
        raise ProjectError(f"--prune {prune} follows the held-out evaluation (loss, perplexity, accuracy), "
                           f"not {plan_.metric}", file=file, key="sweep.metric",
                           hint="use --prune none with a task metric, or --metric loss")
    checked = None
    for values in _search_points(plan_):
        point = Point(values)
        try:
            staged = launcher.load_with_overrides(plan_.project.path, plan_.overrides + point.overrides())
            project = launcher.validate(plan_.project.path, plan_.overrides + point_overrides(point, staged))[0]
        except ProjectError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            message = exc.detail if isinstance(exc, launcher.OverrideError) else exc.message
            raise ProjectError(f"sweep point {shown}: {message}", file=exc.file, key=exc.key, line=exc.line,
                               hint=exc.hint) from None
        checked = checked or project
    s = plan_.project.sweep
    folder = Path(output_dir(checked)) / "sweeps"
    sweep_id = new_sweep_id(folder, plan_.project.project.name)
    record = {"version": SWEEP_VERSION, "sweep_id": sweep_id, "project": plan_.project.project.name,
              "project_path": plan_.project.path, "created": time.time(), "metric": plan_.metric,
              "keys": [a.key for a in plan_.axes], "set": plan_.overrides, "points": [],
              "search": search, "prune": prune, "trials": int(trials),
              "parallel": int(parallel or default_parallel(checked)),
              "seed": int(s.seed if seed is None else seed), "axes": [asdict(a) for a in plan_.axes],
              "storage": str(folder / f"{sweep_id}.db"), "output_dir": str(output_dir(checked)),
              "direction": "minimize" if lower_is_better(plan_.metric) else "maximize",
              "eval_steps": checked.training.eval_steps, "max_steps": checked.training.max_steps,
              "importance": {}}
    record_file = folder / f"{sweep_id}.json"
    optuna_search.create(record, plan_.axes)
    atomic_write_json(record_file, record)
    start_controller(record_file)
    return record_file, record


def controller_state(record_file: str | os.PathLike, record: dict) -> str | None:
    """The state of a search sweep's controller (:func:`lmtui.runs.controller.state`); None for a plain sweep.
    Reads the lock and the record only (no Optuna)."""
    if not record.get("search"):
        return None
    from lmtui.runs.sweep_lock import state

    return state(record_file, record)


def resume_search(record_file: str | os.PathLike) -> int:
    """Start the controller of a search sweep again (after a kill, a reboot, `lmtui sweep stop`);
    it follows the running trials and goes on asking. Returns its pid.

    Raises:
        RunError: not a search sweep, or its controller is running.
    """
    from lmtui.runs.sweep_lock import start_controller

    record = read_sweep(record_file)
    if not record.get("search"):
        raise RunError(f"sweep {record.get('sweep_id')} is a plain grid/random sweep: its runs were all queued at "
                       "once and there is no controller to resume", file=str(record_file),
                       hint="resume one of its runs with `lmtui resume RUN`")
    return start_controller(record_file)


def read_sweep(file: str | os.PathLike) -> dict:
    """A sweep record (:func:`launch`).

    Raises:
        RunError: unreadable or not a sweep record.
    """
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("points"), list):
            return data
    except (OSError, ValueError):
        pass
    raise RunError(f"{file} is not a readable sweep record", file=str(file))


def find_sweep(ref: str, search_dirs: list[str | os.PathLike]) -> Path:
    """The record of the sweep named ``ref``: a record's path, a sweep id, a unique prefix of one,
    or a project name (its latest sweep), looked up in ``<dir>/sweeps/`` of each search folder.

    Raises:
        RunError: no sweep matches, or a prefix matches several.
    """
    if Path(ref).is_file():
        return Path(ref)
    found: dict[str, Path] = {}
    for d in search_dirs:
        for f in sorted(Path(d, "sweeps").glob("*.json")):
            found.setdefault(f.stem, f)
    if ref in found:
        return found[ref]
    of_project = sorted((sid for sid in found if sid.rpartition("-sweep-")[0] == ref), reverse=True)
    if of_project:
        return found[of_project[0]]
    matches = [sid for sid in found if sid.startswith(ref)]
    if len(matches) == 1:
        return found[matches[0]]
    if matches:
        raise RunError(f"sweep {ref!r} is ambiguous: {', '.join(sorted(matches))}", hint="give more of the sweep id")
    raise RunError(f"no sweep {ref!r} found in {', '.join(str(Path(d) / 'sweeps') for d in search_dirs) or '.'}",
                   hint="start one with `lmtui sweep PROJECT.toml --grid KEY=V1,V2`")


def metric_value(run_path: str | os.PathLike, metric: str) -> float | None:
    """The run's ``metric``: ``loss``/``perplexity``/``accuracy`` of its last held-out evaluation
    (the ``eval`` events), or ``task:NAME:SPLIT:METRIC`` of its [eval] results (mean over seeds)."""
    from lmtui.evaluation.results import default_label, load_results, metric_rows
    from lmtui.runs.rundir import RunDir

    if metric in LOSS_METRICS:
        final = RunDir(run_path).last_event("eval")
        value = final.get(metric) if final else None
        return float(value) if isinstance(value, (int, float)) else None
    results = load_results(run_path)
    label = default_label(results)
    if label is None:
        return None
    for key, _, value in metric_rows(results["models"][label]):
        if key == metric:
            value = value.get("mean") if isinstance(value, dict) else value
            return float(value) if isinstance(value, (int, float)) else None
    return None


def lower_is_better(metric: str) -> bool:
    from lmtui.evaluation.results import LOWER_IS_BETTER

    return metric.rpartition(":")[2] in LOWER_IS_BETTER


def rows(record: dict, metric: str | None = None) -> list[dict]:
    """The sweep's points with their runs' status and metric, best first (lowest loss or
    perplexity, highest accuracy or task score); points without the metric last, in sweep order.
    Pruned trials come after the others (their metric is from the step they were stopped at) and
    are never the best. The best point has ``best`` True (none while no point has the metric).

    Each row: ``name``, ``values``, ``run_id``, ``run``, ``status`` (a trial not launched yet is
    ``waiting``), ``status_text`` (the status in words: ``pruned at step 40``), ``loss``, ``perplexity``, ``metric`` (the value), ``best``; a search's rows add
    ``trial``, ``state`` (Optuna's: running, complete, pruned, fail), ``pruned_step``,
    ``pruned_reason`` and ``error`` (:mod:`lmtui.runs.controller`).
    """
    from lmtui.runs.rundir import RunDir

    metric = metric or record.get("metric") or "loss"
    out = []
    for point in record["points"]:
        run = RunDir(point["run"])
        if run.exists():
            status = run.status()
        elif point.get("state") == "fail":
            status = "failed"  # its values failed the checks: no run was made
        else:
            status = "waiting" if point.get("trial") is not None else "missing"
        shown = status
        if status == "pruned" or point.get("state") == "pruned":
            step = point.get("pruned_step")
            shown = "pruned" if step is None else f"pruned at step {step}"
            if status not in ("pruned", "stopped"):  # resumed by hand since
                shown = f"{status} ({shown}, resumed)"
        out.append(dict(point, status=status, status_text=shown,
                        loss=metric_value(run.path, "loss"), perplexity=metric_value(run.path, "perplexity"),
                        metric=metric_value(run.path, metric), best=False))
    sign = 1 if lower_is_better(metric) else -1
    out.sort(key=lambda r: (r["metric"] is None, r["status"] == "pruned",
                            sign * r["metric"] if r["metric"] is not None else 0))
    if out and out[0]["metric"] is not None and out[0]["status"] != "pruned":
        out[0]["best"] = True
    return out
