"""`lmtui sweep PROJECT.toml --grid KEY=V1,V2 ...` (one queued run per point) and
`lmtui sweep status SWEEP` (the points' runs as a table, best first).

Planning, validation and the record of a sweep are in :mod:`lmtui.runs.sweep`; SWEEP is a sweep
id, a unique prefix of one, a project name (its latest sweep) or the record's path, looked up
under ./runs, every known project's output_dir and ``--dir``.
"""

from __future__ import annotations

import json
import sys

from lmtui.errors import LmtuiError
from lmtui.numbers import option


def cmd_sweep(args) -> int:
    if args.target == "status":
        if not args.sweep:
            raise LmtuiError("`lmtui sweep status` needs a SWEEP", hint="write `lmtui sweep status SWEEP_ID` "
                             "(the id `lmtui sweep` printed, or the project's name for its latest sweep)")
        return _status(args)
    if args.sweep:
        raise LmtuiError(f"unexpected argument {args.sweep!r}", hint="write `lmtui sweep PROJECT.toml --grid KEY=V1,V2` "
                         "or `lmtui sweep status SWEEP`")
    from lmtui.runs import sweep

    planned = sweep.plan(args.target, args.grid, args.range, args.samples, args.seed, args.metric)
    if args.dry_run:
        for point, _ in sweep.validate_points(planned, deep=False):
            print(f"{point.name}: {' '.join(point.overrides())}")
        print(f"{len(planned.points)} runs (dry run: nothing started)")
        return 0
    record = sweep.launch(planned)
    for point in record["points"]:
        print(f"queued {point['run_id']}")
    print(f"sweep {record['sweep_id']}: {len(record['points'])} runs; see them with "
          f"`lmtui sweep status {record['sweep_id']}` and `lmtui queue`")
    return 0


def _status(args) -> int:
    from lmtui.runs import sweep
    from lmtui.runs.catalog import Catalog

    record = sweep.read_sweep(sweep.find_sweep(args.sweep, Catalog(list(args.dir or [])).run_search_dirs()))
    metric = args.metric or record.get("metric") or "loss"
    sweep.check_metric(metric)
    rows = sweep.rows(record, metric)
    if args.json:
        print(json.dumps({"sweep_id": record["sweep_id"], "metric": metric, "rows": rows}, indent=2))
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from lmtui.fmt import fmt_number

    table = Table(box=None, pad_edge=False, header_style="bold",
                  title=f"sweep {escape(record['sweep_id'])}, by {escape(metric)} "
                        f"({'lower' if sweep.lower_is_better(metric) else 'higher'} is better)")
    keys = record.get("keys", [])
    columns = ["", "RUN", "STATUS", *keys, "LOSS", "PPL"] + ([metric.upper()] if metric not in ("loss", "perplexity") else [])
    for col in columns:
        table.add_column(escape(col), no_wrap=True)
    from lmtui.commands.runs import STATUS_STYLE

    for row in rows:
        cells = ["best" if row["best"] else "", escape(row["run_id"]),
                 f"[{STATUS_STYLE.get(row['status'], '')}]{row['status']}[/]",
                 *(escape(str(row["values"].get(k, "-"))) for k in keys), fmt_number(row["loss"]),
                 fmt_number(row["perplexity"])]
        if metric not in ("loss", "perplexity"):
            cells.append(fmt_number(row["metric"]))
        table.add_row(*cells, style="bold" if row["best"] else None)
    Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)
    return 0


def register(sub) -> None:
    p = sub.add_parser("sweep", help="run a grid or random search over project keys, one queued run per point; "
                                     "`lmtui sweep status SWEEP` shows the table")
    p.add_argument("target", metavar="PROJECT.toml|status", help="the project to sweep, or `status`")
    p.add_argument("sweep", nargs="?", metavar="SWEEP", help="with status: a sweep id, a unique prefix, or a project name")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="sweep a project key over these values (repeatable; every combination runs)")
    p.add_argument("--range", action="append", default=[], metavar="KEY=LOW:HIGH[:log]",
                   help="random search: draw the key uniformly (or log-uniformly) in the range (needs --samples)")
    p.add_argument("--samples", type=option(int, minimum=0), metavar="N", help="random search: draw N points instead of the full grid")
    p.add_argument("--seed", type=option(int), metavar="N", help="seed of the random search (default: [sweep] seed)")
    p.add_argument("--metric", metavar="METRIC", help="sort by loss (default), perplexity, accuracy or "
                                                      "task:NAME:SPLIT:METRIC")
    p.add_argument("--dry-run", action="store_true", help="print the points and their overrides; start nothing")
    p.add_argument("--json", action="store_true", help="status: print JSON instead of a table")
    p.add_argument("--dir", action="append", metavar="FOLDER", help="status: also look for sweeps in FOLDER/sweeps")
    p.set_defaults(func=cmd_sweep)
