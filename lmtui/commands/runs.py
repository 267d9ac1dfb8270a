"""`lmtui runs`, `lmtui logs RUN [--follow]`, `lmtui stop RUN [--force]`, `lmtui resume RUN`.

Headless companions of the terminal UI for scripts and a quick look over SSH. A run is named
by its directory's path, its run id (a unique prefix is enough) or its project's name (the
latest finished run; :func:`lmtui.runs.rundir.find_run`), looked up under ./runs, the
output_dir of every project under ./projects, and the ``--dir`` folders.
"""

from __future__ import annotations

import json
import sys
import time

from lmtui.errors import RunError
from lmtui.numbers import option


def _catalog(args):
    from lmtui.runs.catalog import Catalog

    return Catalog(list(args.dir or []))


def _find(args):
    from lmtui.runs.rundir import find_run

    return find_run(args.run, _catalog(args).run_search_dirs())


STATUS_STYLE = {"running": "green", "queued": "cyan", "finished": "bright_black", "failed": "red",
                "crashed": "red", "stopped": "yellow", "pruned": "magenta"}


def cmd_runs(args) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from lmtui.fmt import fmt_duration, fmt_number, fmt_rate
    from lmtui.runs.tracker import RunTracker

    trackers = []
    for run in _catalog(args).runs():
        tracker = RunTracker(run)
        tracker.catch_up()
        trackers.append(tracker)
    if args.status:
        trackers = [t for t in trackers if t.status in args.status]
    if args.json:
        print(json.dumps([t.summary() for t in trackers], indent=2))
        return 0
    if not trackers:
        print("no runs found (looked in ./runs, the output_dir of ./projects/*.toml and --dir)")
        return 0
    table = Table(box=None, pad_edge=False, header_style="bold")
    # TRAIN LOSS: the last logging interval's; EVAL PPL: the last held-out evaluation's.
    for col in ("RUN", "STATUS", "PROJECT", "STAGE", "STEP", "TRAIN LOSS", "EVAL PPL", "TOK/S", "ELAPSED", "ETA",
                "DEVICE"):
        table.add_column(col, no_wrap=True,
                         justify="right" if col in ("STEP", "TRAIN LOSS", "EVAL PPL", "TOK/S") else "left")
    for t in trackers:
        step = f"{t.step}/{t.max_steps}" if t.max_steps else (str(t.step) if t.step is not None else "-")
        table.add_row(escape(t.run_id), f"[{STATUS_STYLE.get(t.status, '')}]{t.status}[/]", escape(t.project_name),
                      t.stage or "-", step, fmt_number(t.loss), fmt_number(t.perplexity), fmt_rate(t.tokens_per_s),
                      fmt_duration(t.elapsed), fmt_duration(t.eta), escape(t.device or "-"))
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    console.print(table)
    for t in trackers:
        if t.status == "failed" and t.error:
            console.print(f"{t.run_id} failed: {t.error}", markup=False)
    return 0


def cmd_logs(args) -> int:
    from lmtui.runs.tracker import tail_lines

    run = _find(args)
    out = sys.stdout
    if args.tail is not None:
        lines = tail_lines(run.log_file, args.tail, max_bytes=max(16384, args.tail * 400))
        out.write("".join(line + "\n" for line in lines))
        offset = run.log_file.stat().st_size if run.log_file.exists() else 0
    else:
        offset = 0
        offset = _copy_from(run.log_file, offset, out)
    if not args.follow:
        return 0
    while True:
        active = run.is_active()
        new = _copy_from(run.log_file, offset, out)
        if new == offset and not active:
            break
        offset = new
        time.sleep(0.25)
    status = run.status()
    print(f"-- run {run.run_id} {status} --", file=sys.stderr)
    return 0 if status == "finished" else 1


def _copy_from(path, offset: int, out) -> int:
    """Write the bytes of ``path`` from ``offset`` to ``out``; returns the new offset."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            while chunk := fh.read(1 << 20):
                out.write(chunk.decode("utf-8", errors="replace"))
                offset += len(chunk)
    except FileNotFoundError:
        return offset
    out.flush()
    return offset


def cmd_stop(args) -> int:
    from lmtui.runs import launcher

    run = _find(args)
    status = run.status()
    if status not in ("queued", "running"):
        raise RunError(f"run {run.run_id} is not running (it is {status})", file=str(run.path),
                       hint=f"resume it with `lmtui resume {run.run_id}`" if status in ("stopped", "crashed", "pruned") else None)
    if not launcher.stop(run, force=args.force):
        raise RunError(f"run {run.run_id} has no live process", file=str(run.path))
    if args.force:
        print(f"killed run {run.run_id} (every process of its group)")
        return 0
    print(f"asked run {run.run_id} to stop: it writes a checkpoint and exits "
          f"(`lmtui stop {run.run_id} --force` kills it at once)")
    if args.wait:
        if not launcher.wait_stopped(run, args.wait):
            raise RunError(f"run {run.run_id} is still running after {args.wait:g} s",
                           hint=f"kill it with `lmtui stop {run.run_id} --force`")
        print(f"run {run.run_id} {run.status()}")
    return 0


def cmd_resume(args) -> int:
    from lmtui.runs import launcher

    run = _find(args)
    status = run.status()
    if status == "finished":
        raise RunError(f"run {run.run_id} has finished; there is nothing to resume", file=str(run.path),
                       hint="start a new run with `lmtui run PROJECT.toml --fresh`")
    pid = launcher.resume(run)
    print(f"resumed run {run.run_id} (pid {pid}); follow it with `lmtui logs {run.run_id} --follow`")
    return 0


def register(sub) -> None:
    def run_parser(name, help_):
        p = sub.add_parser(name, help=help_)
        p.add_argument("run", metavar="RUN", help="run id, a unique prefix of one, a run directory, or a project name (its latest finished run)")
        p.add_argument("--dir", action="append", metavar="FOLDER", help="also look for runs in FOLDER (repeatable)")
        return p

    p = sub.add_parser("runs", help="list runs with status, step, loss, perplexity, throughput and ETA "
                                    "(and each failed run's error)")
    p.add_argument("--dir", action="append", metavar="FOLDER", help="also look for runs in FOLDER (repeatable)")
    p.add_argument("--status", action="append", metavar="STATUS",
                   choices=("queued", "running", "finished", "failed", "stopped", "pruned", "crashed"),
                   help="only runs with this status (repeatable)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=cmd_runs)

    p = run_parser("logs", "print a run's log (train.log)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until the run ends")
    p.add_argument("-n", "--tail", type=option(int, minimum=0), metavar="N", help="start with the last N lines only")
    p.set_defaults(func=cmd_logs)

    p = run_parser("stop", "stop a run: it writes a checkpoint and exits (--force kills it)")
    p.add_argument("--force", action="store_true", help="kill every process of the run at once (no checkpoint)")
    p.add_argument("--wait", type=option(float, minimum=0), default=0, metavar="SECONDS", help="wait up to SECONDS for it to stop")
    p.set_defaults(func=cmd_stop)

    p = run_parser("resume", "restart a stopped, pruned, failed or crashed run from its last checkpoint")
    p.set_defaults(func=cmd_resume)
