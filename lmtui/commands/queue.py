"""`lmtui queue` (the runs holding or waiting for this machine's GPUs or slots) and
`lmtui queue up|pause|unpause|cancel RUN`.

The queue is the state file of :mod:`lmtui.runs.queue`; RUN is a queued run's id, a unique
prefix of one, or its directory.
"""

from __future__ import annotations

import json
import sys

ACTIONS = ("up", "pause", "unpause", "cancel")


def _devices(entry) -> str:
    unit = "GPU" if entry.kind == "gpu" else "slot"
    return f"{unit} {','.join(map(str, entry.assigned))}" if entry.assigned else "-"


def cmd_queue(args) -> int:
    from lmtui.errors import LmtuiError
    from lmtui.runs.queue import Queue

    queue = Queue()
    if args.action:
        if not args.run:
            raise LmtuiError(f"`lmtui queue {args.action}` needs a RUN", hint=f"write `lmtui queue {args.action} RUN_ID`")
        return _act(queue, args.action, args.run)
    entries = queue.entries()
    if args.json:
        print(json.dumps([{"position": i, "run_id": e.run_id, "run": e.run, "state": _state(e),
                           "needs": e.need.describe(), "devices": e.assigned, "waiting_for": e.waiting_for or None,
                           "enqueued": e.enqueued} for i, e in enumerate(entries, 1)], indent=2))
        return 0
    if not entries:
        print("the queue is empty: no run holds or waits for GPUs or slots on this machine")
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("#", "RUN", "STATE", "NEEDS", "HOLDS", "WAITING FOR"):
        table.add_column(col, no_wrap=col != "WAITING FOR", justify="right" if col == "#" else "left")
    for i, e in enumerate(entries, 1):
        table.add_row(str(i), escape(e.run_id), _state(e), e.need.describe(), _devices(e), escape(e.waiting_for or "-"))
    Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)
    return 0


def _state(entry) -> str:
    return "running" if entry.assigned else "paused" if entry.paused else "waiting"


def _act(queue, action: str, ref: str) -> int:
    from lmtui.errors import RunError
    from lmtui.runs import launcher
    from lmtui.runs.rundir import RunDir

    if action == "up":
        entry = queue.move_up(ref)
        print(f"moved {entry.run_id} up to position {[e.run for e in queue.entries()].index(entry.run) + 1}")
    elif action in ("pause", "unpause"):
        entry = queue.set_paused(ref, action == "pause")
        print(f"{entry.run_id} is {'paused: later runs pass it' if entry.paused else 'waiting again in its place'}")
    else:
        entry = queue.find(ref)
        if entry.assigned:
            raise RunError(f"run {entry.run_id} is running, not waiting", hint=f"stop it with `lmtui stop {entry.run_id}`")
        if launcher.stop(RunDir(entry.run)):
            print(f"cancelled {entry.run_id}: its driver leaves the queue and marks the run stopped")
        else:
            queue.release(entry.run)
            print(f"removed {entry.run_id} from the queue (its driver was gone)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("queue", help="the runs holding or waiting for this machine's GPUs or slots; "
                                     "move one up, pause or cancel it")
    p.add_argument("action", nargs="?", choices=ACTIONS,
                   help="up: one place earlier; pause: let later runs pass; unpause; cancel: stop it")
    p.add_argument("run", nargs="?", metavar="RUN", help="a queued run's id, a unique prefix of one, or its directory")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=cmd_queue)
