"""`lmtui export RUN --csv|--parquet|--png [-o PATH]`: a run's metrics for papers and notebooks.

The table has one row per optimizer step and one column per metric, named as the experiment
trackers name them (``train/loss``, ``eval/perplexity``, ...: :mod:`lmtui.train.tracking`),
from the run's ``train`` and ``eval`` events; a step a resumed run logged twice keeps its last
value, as the model card does. ``--png`` draws the loss curves with the model card's renderer
(:func:`lmtui.hub.card.loss_curve_png`). The file is written atomically; ``lmtui runs --json``
stays the scriptable listing of runs.

The first positional argument names a run, or a key of :data:`TARGETS`, whose function then
handles the whole command.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Callable

from lmtui.errors import RunError
from lmtui.fsutil import atomic_write_bytes
from lmtui.numbers import option

FORMATS = ("csv", "parquet", "png")
TARGETS: dict[str, Callable] = {}


def metric_table(run) -> tuple[list[str], list[dict]]:
    """(columns, rows) of ``run``'s ``train`` and ``eval`` events: ``step`` then the metric names
    in order of first appearance; each row is one step, a metric it lacks is None."""
    from lmtui.runs.events import iter_events
    from lmtui.train.tracking import EVAL_FIELDS, TRAIN_FIELDS, metrics

    fields = {"train": TRAIN_FIELDS, "eval": EVAL_FIELDS}
    by_step: dict[int, dict] = {}
    columns: dict[str, None] = {"step": None}
    for e in iter_events(run.events_file):
        kind, step = e.get("type"), e.get("step")
        if kind not in fields or not isinstance(step, int) or isinstance(step, bool):
            continue
        values = metrics(kind, e, fields[kind])
        columns.update(dict.fromkeys(values))
        by_step.setdefault(step, {"step": step}).update(values)
    names = list(columns)
    return names, [{c: by_step[s].get(c) for c in names} for s in sorted(by_step)]


def csv_text(columns: list[str], rows: list[dict]) -> str:
    """The table as CSV (RFC 4180 through the csv module), a header row first, empty cells for None."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def parquet_bytes(columns: list[str], rows: list[dict]) -> bytes:
    """The table as a Parquet file (pyarrow): ``step`` int64, every metric float64 (null when missing)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.int64() if c == "step" else pa.float64()) for c in columns])
    table = pa.Table.from_pylist(rows, schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def export_run(args) -> int:
    """Write the run's table or loss-curve PNG; 0, or a RunError when it logged no metrics."""
    from lmtui.runs.catalog import Catalog
    from lmtui.runs.rundir import find_run

    fmt = next((f for f in FORMATS if getattr(args, f)), None)
    if fmt is None:
        raise RunError("say what to export", hint="add --csv, --parquet or --png")
    run = find_run(args.target, Catalog(list(args.dir or [])).run_search_dirs())
    out = Path(args.output or f"{run.run_id}.{fmt}")
    if out.is_dir():
        out = out / f"{run.run_id}.{fmt}"
    if fmt == "png":
        from lmtui.hub.card import collect, loss_curve_png

        data = loss_curve_png(collect(run), title=f"{run.run_id}: loss")
        if data is None:
            raise RunError(f"run {run.run_id} has logged no loss yet", file=str(run.events_file))
        atomic_write_bytes(out, data)
    else:
        columns, rows = metric_table(run)
        if not rows:
            raise RunError(f"run {run.run_id} has logged no metrics yet", file=str(run.events_file))
        if fmt == "csv":
            from lmtui.fsutil import atomic_write_text

            atomic_write_text(out, csv_text(columns, rows))
        else:
            atomic_write_bytes(out, parquet_bytes(columns, rows))
    print(f"wrote {out}")
    return 0


def export_scaling(args) -> int:
    """`lmtui export slurm|accelerate PROJECT.toml`: the sbatch script or the accelerate config of
    :mod:`lmtui.scaling.slurm`, written atomically (the script executable)."""
    from lmtui.errors import LmtuiError
    from lmtui.fsutil import atomic_write_text
    from lmtui.runs.launcher import load_with_overrides
    from lmtui.scaling import slurm

    if not args.project:
        raise LmtuiError(f"`lmtui export {args.target}` needs a PROJECT.toml",
                         hint=f"write e.g. `lmtui export {args.target} project.toml --nodes 2 --gpus-per-node 8`")
    project = load_with_overrides(args.project, args.set, check=args.target != "slurm")
    if args.target == "slurm":
        if args.nodes is None or args.gpus_per_node is None:
            raise LmtuiError("`lmtui export slurm` needs --nodes and --gpus-per-node",
                             hint="write e.g. --nodes 2 --gpus-per-node 8 (0 GPUs: the nodes' CPUs)")
        from lmtui.project.load import project_text
        from lmtui.checks import require
        from lmtui.runs.launcher import naming_overrides
        from lmtui.runs.queue import Machine

        # the checks of `lmtui run`, the request against the target nodes rather than this machine
        target = Machine(list(range(args.gpus_per_node)), 1, label=f"each target node (--gpus-per-node "
                         f"{args.gpus_per_node})", slots_hint="one run per node")
        with naming_overrides(args.project, args.set):
            require(project, project_text(project), deep=False, target=target)
        text = slurm.slurm_script(project, args.nodes, args.gpus_per_node, args.partition, args.time)
        out = Path(args.output or f"{project.project.name}.sbatch")
    else:
        text = slurm.accelerate_config(project, args.nodes, args.gpus_per_node)
        out = Path(args.output or f"{project.project.name}-accelerate.yaml")
    atomic_write_text(out, text)
    if args.target == "slurm":
        out.chmod(0o755)
    print(f"wrote {out}")
    return 0


TARGETS.update(slurm=export_scaling, accelerate=export_scaling)


def cmd_export(args) -> int:
    return TARGETS.get(args.target, export_run)(args)


def register(sub) -> None:
    p = sub.add_parser("export", help="write a run's metrics as a table (one row per step: --csv, --parquet) "
                                      "or its loss curves (--png)")
    p.add_argument("target", metavar="RUN",
                   help="run id, a unique prefix of one, a run directory, or a project name (its latest finished run)")
    kind = p.add_mutually_exclusive_group()
    for fmt in FORMATS:
        kind.add_argument(f"--{fmt}", action="store_true", help=f"write a .{fmt} file")
    p.add_argument("-o", "--output", metavar="PATH", help="file or folder to write (default: ./RUN_ID.EXT)")
    p.add_argument("--dir", action="append", metavar="FOLDER", help="also look for runs in FOLDER (repeatable)")
    p.add_argument("project", nargs="?", metavar="PROJECT.toml", help="`lmtui export slurm|accelerate PROJECT.toml`: "
                   "an sbatch script or an accelerate config for a multi-node run (docs/scaling.md)")
    p.add_argument("--nodes", type=option(int, minimum=1), metavar="N", help="slurm, accelerate: machines")
    p.add_argument("--gpus-per-node", type=option(int, minimum=0), metavar="N", help="slurm, accelerate: GPUs (processes) per machine")
    p.add_argument("--partition", metavar="NAME", help="slurm: the partition (queue) to submit to")
    p.add_argument("--time", metavar="LIMIT", help="slurm: the time limit, e.g. 04:00:00")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="slurm, accelerate: override a project key (repeatable)")
    p.set_defaults(func=cmd_export)
