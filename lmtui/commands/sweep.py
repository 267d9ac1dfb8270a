"""`lmtui sweep PROJECT.toml --grid KEY=V1,V2 ...` (one queued run per point),
`lmtui sweep PROJECT.toml --search tpe|random|grid --trials N --prune asha|hyperband|median|none`
(an Optuna study driven by a detached controller that stops losing trials early),
`lmtui sweep status SWEEP` (the points' runs as a table, best first) and
`lmtui sweep resume SWEEP` (start a search's controller again).

Planning, validation and the record of a sweep are in :mod:`lmtui.runs.sweep`; SWEEP is a sweep
id, a unique prefix of one, a project name (its latest sweep) or the record's path, looked up
under ./runs, every known project's output_dir and ``--dir``.
"""

from __future__ import annotations

import json
import sys

from lmtui.errors import LmtuiError
from lmtui.numbers import option


def _find(args):
    from lmtui.runs import sweep
    from lmtui.runs.catalog import Catalog

    return sweep.find_sweep(args.sweep, Catalog(list(args.dir or [])).run_search_dirs())


def cmd_sweep(args) -> int:
    if args.target in ("status", "resume"):
        if not args.sweep:
            raise LmtuiError(f"`lmtui sweep {args.target}` needs a SWEEP", hint=f"write `lmtui sweep {args.target} "
                             "SWEEP_ID` (the id `lmtui sweep` printed, or the project's name for its latest sweep)")
        return _status(args) if args.target == "status" else _resume(args)
    if args.sweep:
        raise LmtuiError(f"unexpected argument {args.sweep!r}", hint="write `lmtui sweep PROJECT.toml --grid KEY=V1,V2` "
                         "or `lmtui sweep status SWEEP`")
    from lmtui.project.load import load_project
    from lmtui.runs import sweep

    section = load_project(args.target, check=False).sweep
    search = args.search or (section.search if section.search != "none" else None)
    if not search and (args.prune or args.trials or args.parallel):
        flag = "--prune" if args.prune else "--trials" if args.trials else "--parallel"
        raise LmtuiError(f"{flag} needs an Optuna search: add --search tpe, random or grid",
                         hint="e.g. `lmtui sweep PROJECT.toml --search tpe --trials 12 --prune asha --range ...`")
    planned = sweep.plan(args.target, args.grid, args.range, args.samples, args.seed, args.metric, args.set,
                         points=not search)
    if search:
        return _search(args, planned, search, section)
    if args.dry_run:
        for point, _ in sweep.validate_points(planned, deep=False):
            print(f"{point.name}: {' '.join(planned.overrides + point.overrides())}")
        print(f"{len(planned.points)} runs (dry run: nothing started)")
        return 0
    record = sweep.launch(planned)
    for point in record["points"]:
        print(f"queued {point['run_id']}")
    print(f"sweep {record['sweep_id']}: {len(record['points'])} runs; see them with "
          f"`lmtui sweep status {record['sweep_id']}` and `lmtui queue`")
    return 0


def _search(args, planned, search: str, section) -> int:
    from lmtui.runs import sweep

    prune = args.prune or section.prune
    trials = args.trials or section.trials or args.samples or section.samples or None
    if args.dry_run:
        keys = ", ".join(f"{a.key} ({', '.join(a.values) if a.values else f'{a.low:g}..{a.high:g}' + (' log' if a.log else '')})"
                         for a in planned.axes)
        print(f"{search} search over {keys}; {trials or 'every grid point as'} trials, prune {prune} "
              f"(dry run: nothing started)")
        return 0
    record_file, record = sweep.start_search(planned, search, trials, prune, args.parallel, args.seed)
    print(f"sweep {record['sweep_id']}: {record['search']} search, {record['trials']} trials, "
          f"{record['parallel']} at a time, prune {record['prune']}; the controller runs detached "
          f"(log {record_file.with_suffix('.log')})")
    print(f"  see it with `lmtui sweep status {record['sweep_id']}`; the study is {record['storage']}")
    return 0


def _resume(args) -> int:
    from lmtui.runs import sweep

    record_file = _find(args)
    pid = sweep.resume_search(record_file)
    print(f"resumed the controller of sweep {record_file.stem} (pid {pid}); "
          f"see it with `lmtui sweep status {record_file.stem}`")
    return 0


def _status(args) -> int:
    from lmtui.runs import sweep

    record_file = _find(args)
    record = sweep.read_sweep(record_file)
    metric = args.metric or record.get("metric") or "loss"
    sweep.check_metric(metric)
    rows = sweep.rows(record, metric)
    searched = bool(record.get("search"))
    driving = sweep.controller_state(record_file, record)
    if args.json:
        print(json.dumps({"sweep_id": record["sweep_id"], "metric": metric, "rows": rows,
                          **({"search": record["search"], "prune": record["prune"], "trials": record["trials"],
                              "controller": driving,
                              "importance": record.get("importance", {}), "storage": record["storage"]}
                             if searched else {})}, indent=2))
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from lmtui.fmt import fmt_number

    title = (f"sweep {escape(record['sweep_id'])}, by {escape(metric)} "
             f"({'lower' if sweep.lower_is_better(metric) else 'higher'} is better)")
    head = None
    if searched:
        head = (f"{record['search']} search, {len(record['points'])} of {record['trials']} trials asked, "
                f"prune {record['prune']}; controller {driving}"
                + (f" (continue it with `lmtui sweep resume {record['sweep_id']}`)"
                   if driving not in ("running", "finished") else ""))
    table = Table(box=None, pad_edge=False, header_style="bold", title=title)
    keys = record.get("keys", [])
    columns = ["", *(["TRIAL"] if searched else []), "RUN", "STATUS", *keys, "LOSS", "PPL"] + (
        [metric.upper()] if metric not in ("loss", "perplexity") else [])
    for col in columns:
        table.add_column(escape(col), no_wrap=True)
    from lmtui.commands.runs import STATUS_STYLE

    for row in rows:
        cells = ["best" if row["best"] else "", *([str(row.get("trial", ""))] if searched else []),
                 escape(row["run_id"]), f"[{STATUS_STYLE.get(row['status'], '')}]{escape(row['status_text'])}[/]",
                 *(escape(str(row["values"].get(k, "-"))) for k in keys), fmt_number(row["loss"]),
                 fmt_number(row["perplexity"])]
        if metric not in ("loss", "perplexity"):
            cells.append(fmt_number(row["metric"]))
        table.add_row(*cells, style="bold" if row["best"] else None)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    if head:
        console.print(escape(head), soft_wrap=True)
    console.print(table)
    if searched and record.get("importance"):
        shares = sorted(record["importance"].items(), key=lambda kv: -kv[1])
        console.print("importance (Optuna, PED-ANOVA): " + ", ".join(f"{escape(k)} {v:.0%}" for k, v in shares),
                      soft_wrap=True)
    return 0


def register(sub) -> None:
    p = sub.add_parser("sweep", help="run a grid or random search over project keys, one queued run per point, or an "
                                     "Optuna search that stops losing trials early (--search, --prune); "
                                     "`lmtui sweep status SWEEP` shows the table, `lmtui sweep resume SWEEP` "
                                     "restarts a search's controller")
    p.add_argument("target", metavar="PROJECT.toml|status|resume", help="the project to sweep, or `status`/`resume`")
    p.add_argument("sweep", nargs="?", metavar="SWEEP",
                   help="with status or resume: a sweep id, a unique prefix, or a project name")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a project key for every point (repeatable), e.g. training.max_steps=100; "
                        "not a swept key")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="sweep a project key over these values (repeatable; every combination runs)")
    p.add_argument("--range", action="append", default=[], metavar="KEY=LOW:HIGH[:log]",
                   help="random search: draw the key uniformly (or log-uniformly) in the range (needs --samples, "
                        "or --search tpe|random with --trials)")
    p.add_argument("--samples", type=option(int, minimum=0), metavar="N", help="random search: draw N points instead of the full grid")
    p.add_argument("--seed", type=option(int), metavar="N", help="seed of the random search (default: [sweep] seed)")
    p.add_argument("--metric", metavar="METRIC", help="sort by loss (default), perplexity, accuracy or "
                                                      "task:NAME:SPLIT:METRIC")
    p.add_argument("--search", choices=("tpe", "random", "grid"),
                   help="an Optuna search: TPE, random or grid sampler, one trial at a time per free slot or GPU "
                        "(default: [sweep] search; none: every point queued at once)")
    p.add_argument("--trials", type=option(int, minimum=1), metavar="N", help="search: how many trials (grid: at most its size)")
    p.add_argument("--prune", choices=("asha", "hyperband", "median", "none"),
                   help="search: stop losing trials early on the held-out evaluation (default: [sweep] prune)")
    p.add_argument("--parallel", type=option(int, minimum=1), metavar="N",
                   help="search: trials at once (default: what the queue can run: CPU slots or GPUs per trial)")
    p.add_argument("--dry-run", action="store_true", help="print the points and their overrides; start nothing")
    p.add_argument("--json", action="store_true", help="status: print JSON instead of a table")
    p.add_argument("--dir", action="append", metavar="FOLDER", help="status: also look for sweeps in FOLDER/sweeps")
    p.set_defaults(func=cmd_sweep)
