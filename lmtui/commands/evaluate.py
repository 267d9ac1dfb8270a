"""`lmtui eval FILE|RUN` (evaluate a run's model, a checkpoint or any model folder) and
`lmtui compare RUN RUN...` (their results side by side).

`eval` checks the [eval] section and the task files first (errors name the file and line), then
starts the evaluation worker detached and follows its events until it ends; Ctrl-C asks it to
stop (finished parts are kept), a second Ctrl-C kills it. See docs/evaluation.md.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

from rich.markup import escape

from lmtui.errors import LmtuiError, RunError
from lmtui.numbers import option

EXIT = {"finished": 0, "failed": 1, "crashed": 1, "stopped": 130}


def _search_dirs(args) -> list:
    from lmtui.runs.catalog import Catalog

    return Catalog(list(args.dir or [])).run_search_dirs()


def _is_project_file(target: str) -> bool:
    p = Path(target)
    return p.is_file() and p.suffix == ".toml" and not (p.parent / "run.json").is_file()


def _run_project(run, overrides: list[str]):
    """The run's frozen project with ``section.key=value`` overrides applied (an error about an
    overridden key names its ``--set`` argument)."""
    from lmtui.project.freeze import apply_overrides
    from lmtui.project.load import build_project, parse_project
    from lmtui.runs.launcher import naming_overrides

    file = str(run.project_file)
    text = run.project_file.read_text(encoding="utf-8")
    project = parse_project(text, file, file)
    if overrides:
        with naming_overrides(file, overrides):
            project = build_project(apply_overrides(project.raw, overrides, file), text, file, file)
    return project


def resolve_target(target: str, overrides: list[str], search_dirs: list):
    """(run or None, project) for a project file (its latest run) or a run reference."""
    from lmtui.runs import launcher
    from lmtui.runs.rundir import find_run

    if _is_project_file(target):
        project = launcher.load_with_overrides(target, overrides)
        return launcher.latest_run(project), project
    run = find_run(target, search_dirs)
    return run, _run_project(run, overrides)


def _has_model(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def eval_only_run(project, model_dir: Path, next_to=None):
    """A new run directory holding only the evaluation of an existing model folder."""
    from lmtui.fsutil import atomic_write_text
    from lmtui.project.paths import output_dir
    from lmtui.runs.launcher import frozen_project_text
    from lmtui.runs.rundir import RunDir, host, new_run_id

    out = Path(next_to.path.parent if next_to is not None else output_dir(project))
    out.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "-", model_dir.name).strip("-.") or "model"
    run = RunDir(out / new_run_id(f"{name}-eval", out))
    run.path.mkdir()
    atomic_write_text(run.project_file, frozen_project_text(project))
    source = next_to.read_state().get("project_path") if next_to is not None else project.path
    run.update_state(version=1, run_id=run.run_id, kind="eval", model=str(model_dir),
                     project_name=f"{project.project.name}@{name}", project_path=source, status="queued",
                     stage="evaluate", created=time.time(), host=host())
    return run


def describe(event: dict) -> str | None:
    """One printed line for an evaluation event, or None."""
    t = event.get("type")
    if t == "eval_start":
        parts = ", ".join(p[5:] if p.startswith("task:") else p for p in event["parts"])
        return f"evaluating {event['label']} ({event['model']}) on {event['device']}: {parts}"
    if t == "finetune" and event["state"] == "start":
        return (f"{event['task']} seed {event['seed']}: fine-tuning on {event['train_examples']} examples, "
                f"{event['max_steps']} steps")
    if t == "finetune" and event["state"] == "end":
        return f"{event['task']} seed {event['seed']}: fine-tuned and scored in {event['seconds']:.1f} s"
    if t == "eval_result":
        from lmtui.evaluation.metrics import CHANCE_NOTE
        from lmtui.evaluation.results import fmt_metric

        task, m = event["task"], event.get("metrics") or {}
        if task == "perplexity":
            return (f"perplexity {m['perplexity']:.2f} (loss {m['loss']:.4f}, masked accuracy "
                    f"{fmt_metric('accuracy', m['accuracy'])}, {m['tokens']} masked tokens)")
        if task == "pseudo_perplexity":
            return f"pseudo-perplexity {m['pseudo_perplexity']:.2f} ({m['tokens']} tokens, {m['samples']} documents)"
        if task == "probes":
            return "\n".join(f"probe: {p['text']} -> " + " | ".join(", ".join(x["token"] for x in preds)
                                                                    for preds in p["predictions"])
                             for p in event.get("probes", []))
        if event.get("summary"):
            if len(event.get("seeds", [])) < 2:
                return None
            shown = ", ".join(f"{k} {fmt_metric(k, v['mean'], v['std'])}" for k, v in m.items()
                              if k != "majority_accuracy")
            note = f"; {event['note']}" if event.get("note") else ""
            return f"{task} {event['split']} over seeds {event['seeds']}: {shown}{note}"
        shown = ", ".join(f"{k} {fmt_metric(k, v)}" for k, v in m.items()
                          if k not in ("examples", "truncated_words", "majority_accuracy") and isinstance(v, float))
        note = (f"; {CHANCE_NOTE} ({fmt_metric('accuracy', m['majority_accuracy'])})"
                if m.get("no_better_than_majority") else "")
        return f"{task} seed {event['seed']} {event['split']}: {shown} ({m.get('examples')} examples){note}"
    if t == "eval_end":
        return f"evaluation {event['status']}" + (f": {event['error']}" if event.get("error") else "")
    return None


def finetune_progress(event: dict) -> str:
    """The numbers of a ``finetune`` step event for a progress row: epoch, loss and training
    accuracy since the last report, ETA (fields a worker did not write are left out)."""
    from lmtui.fmt import fmt_clock, fmt_percent

    parts = []
    if event.get("epoch") is not None:
        parts.append(f"epoch {event['epoch']:.2f}" + (f"/{event['epochs']:g}" if event.get("epochs") else ""))
    parts.append(f"loss {event['loss']:.4f}")
    if event.get("train_accuracy") is not None:
        parts.append(f"train accuracy {fmt_percent(event['train_accuracy'])}")
    if event.get("eta_s") is not None:
        parts.append(f"ETA {fmt_clock(event['eta_s'])}")
    return "  ".join(parts)


def show_finetune(event: dict, progress, rows: dict, console) -> None:
    """Move the progress row of a ``finetune`` event's task and seed (one row each, added as it
    starts, filled at its end); a console that is not a terminal shows no bars, so it prints a
    line per step event instead: ``sst2 seed 42: step 10/40  epoch 1.00/3  loss 0.6931  ...``."""
    key = (event.get("request_id"), event["task"], event["seed"])
    name = f"{event['task']} seed {event['seed']}"
    if key not in rows:  # (row id, steps)
        rows[key] = (progress.add_task(escape(name), total=event.get("max_steps"), info=""), event.get("max_steps"))
    row, steps = rows[key]
    if event["state"] == "step":
        info = finetune_progress(event)
        progress.update(row, completed=event["step"], total=event["max_steps"], info=info)
        if not console.is_terminal:
            console.print(escape(f"{name}: step {event['step']}/{event['max_steps']}  {info}"))
    elif event["state"] == "end":
        progress.update(row, completed=steps or 0, info=f"done in {event['seconds']:.1f} s")


def follow(run, request_id: str, console, offset: int) -> str:
    """Print the request's events until its ``eval_end``; returns its status (or ``crashed``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from lmtui.evaluation import results as res
    from lmtui.procs import pid_alive
    from lmtui.runs.events import read_events

    interrupts = {"n": 0}

    def on_interrupt(signum, frame):
        interrupts["n"] += 1
        force = interrupts["n"] > 1
        console.print("[red]killing the evaluation[/]" if force else
                      "[yellow]stopping the evaluation (Ctrl-C again to kill it)[/]")
        stop_eval(run, force=force)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), console=console, disable=not console.is_terminal)
    rows: dict = {}
    try:
        with progress:
            while True:
                events, offset = read_events(run.events_file, offset)
                for e in events:
                    if e.get("request_id") != request_id:
                        continue
                    line = describe(e)
                    if line:
                        progress.console.print(escape(line))
                    if e["type"] == "finetune":
                        show_finetune(e, progress, rows, console)
                    elif e["type"] == "eval_end":
                        return e["status"]
                state = res.read_state(run.path)
                alive = (pid_alive(state.get("pid"), state.get("pid_start_time"))
                         or pid_alive(state.get("worker_pid"), state.get("worker_start_time")))
                if not alive and not read_events(run.events_file, offset)[0]:
                    res.write_state(run.path, status="crashed", ended=time.time())
                    return "crashed"
                time.sleep(0.2)
    finally:
        signal.signal(signal.SIGINT, previous)


def stop_eval(run, *, force: bool = False) -> bool:
    """SIGINT (or SIGKILL with ``force``) to the process group of the run's running evaluation."""
    from lmtui.evaluation import results as res
    from lmtui.procs import pid_alive

    state = res.read_state(run.path)
    pid = state.get("pid")
    if state.get("status") != "running" or not pid_alive(pid, state.get("pid_start_time")):
        return False
    try:
        if state.get("detached", True):
            os.killpg(pid, signal.SIGKILL if force else signal.SIGINT)
        else:
            os.kill(state.get("worker_pid") or pid, signal.SIGKILL if force else signal.SIGINT)
    except ProcessLookupError:
        return False
    return True


def print_entry(console, run, label: str) -> None:
    """The metrics table and probe predictions of one results entry."""
    from rich.table import Table

    from lmtui.evaluation import results as res

    entry = res.load_results(run.path)["models"].get(label)
    if not entry:
        return
    titles, rows = res.comparison([(label, entry)])
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("metric")
    table.add_column(escape(titles[0]), justify="right")
    for title, cells, _ in rows:
        table.add_row(escape(title), escape(cells[0]))
    console.print(table)
    for text, predictions in res.probe_lines(entry):
        console.print(f"{text}\n  -> {predictions}", markup=False)
    console.print(f"results: {res.results_file(run.path)}", markup=False)


def cmd_eval(args) -> int:
    from rich.console import Console

    from lmtui.evaluation import results as res
    from lmtui.evaluation.hub_tasks import load_task
    from lmtui.evaluation.stage import final_step, plan, request_summary, resolved_specs, spawn

    console = Console(highlight=False, soft_wrap=True)
    run, project = resolve_target(args.target, args.set, _search_dirs(args))
    if args.stop:
        if run is None or not stop_eval(run):
            raise RunError("no evaluation of this run is running", hint="`lmtui runs` lists runs")
        console.print(f"asked the evaluation of {run.run_id} to stop", markup=False)
        return 0
    manage = False
    if args.model:  # the one model-reference resolver of init_from and [distill] teacher too
        from lmtui.runs.modelref import resolve_model

        model_dir = resolve_model(args.model, base=Path.cwd(), search_dirs=_search_dirs(args), name="--model").folder
        if not any((model_dir / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt")):
            raise LmtuiError(f"no tokenizer in {model_dir}",
                             hint="save the tokenizer into the model folder (tokenizer.save_pretrained(folder))")
        if args.checkpoint is not None:
            raise LmtuiError("--model and --checkpoint exclude each other", hint="give one of them")
        label, step = "model", None
    elif run is None:
        raise RunError(f"project {args.target} has no run yet", file=args.target,
                       hint=f"train it with `lmtui run {args.target}`, or evaluate another model with --model PATH")
    elif args.checkpoint is not None:
        model_dir = run.checkpoints_dir / f"step-{args.checkpoint}" / "model"
        if not _has_model(model_dir):
            steps = [s for s, p in run.checkpoints() if _has_model(p / "model")]
            raise RunError(f"run {run.run_id} has no checkpoint at step {args.checkpoint} with a model",
                           file=str(run.checkpoints_dir),
                           hint=f"available: {', '.join(map(str, steps))}" if steps else "it has no checkpoints yet")
        label, step = f"step-{args.checkpoint}", args.checkpoint
    else:
        model_dir = run.model_dir
        if not _has_model(model_dir):
            steps = [s for s, p in run.checkpoints() if _has_model(p / "model")]
            raise RunError(f"run {run.run_id} has no final model yet", file=str(run.path),
                           hint=(f"evaluate a checkpoint with --checkpoint N (available: {', '.join(map(str, steps))})"
                                 if steps else "wait for pretraining to finish"))
        label, step = "final", final_step(run)

    _, specs = resolved_specs(run, project)
    for spec in specs:
        if not args.only or spec.name in args.only:
            load_task(spec)
    if args.model:
        run = eval_only_run(project, model_dir, next_to=run if not _is_project_file(args.target) else None)
        manage = True
    request = plan(run, project, label=label, model_dir=model_dir, step=step, force=args.force, only=args.only,
                   manage_run_state=manage)
    if request is None:
        console.print(f"{run.run_id} {label}: every part is up to date (--force recomputes)", markup=False)
        print_entry(console, run, label)
        return 0
    offset = run.events_file.stat().st_size if run.events_file.exists() else 0
    spawn(run, request, detached=True)
    console.print(f"evaluating {run.run_id} {request_summary(request)}\n  log: {run.log_file}", markup=False)
    if args.detach:
        console.print(f"detached; results will be in {res.results_file(run.path)}", markup=False)
        return 0
    status = follow(run, request["request_id"], console, offset)
    if status != "finished":
        error = res.read_state(run.path).get("error") or "the evaluation ended without a result"
        console.print(f"[red]{status}[/]: {escape(error)}\n  log: {escape(str(run.log_file))}" if status != "stopped" else
                      "[yellow]stopped[/]; finished parts are kept, run the same command to finish")
    print_entry(console, run, label)
    if args.json:
        print(json.dumps(res.load_results(run.path)["models"].get(label, {}), indent=2))
    return EXIT.get(status, 1)


def with_pretraining_eval(run, columns: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """``columns`` of ``run`` (its results entries) with the held-out MLM numbers of its last
    pretraining evaluation (the ``eval`` event) where its default entry has no perplexity of
    its own: the column title then says ``pretraining eval @ step N``."""
    last = run.last_event("eval")
    if not last or last.get("perplexity") is None or len(columns) != 1 or columns[0][1].get("perplexity"):
        return columns
    title, entry = columns[0]
    part = {k: last[k] for k in ("loss", "perplexity", "accuracy") if k in last}
    return [(f"{title} (pretraining eval @ step {last.get('step')})", {**entry, "perplexity": part})]


def cmd_compare(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from lmtui.distill.compare import run_retention
    from lmtui.evaluation import results as res

    columns, retained = [], []  # retained: a distillation's student against its teacher (lmtui.distill.compare)
    named: dict = {}  # run directory -> the argument that named it
    for target in args.runs:
        run, _ = resolve_target(target, [], _search_dirs(args))
        if run is None:
            raise RunError(f"project {target} has no run yet", file=target, hint=f"`lmtui run {target}` first")
        key = run.path.resolve()
        if key in named:
            raise RunError(f"{target!r} and {named[key]!r} are the same run, {run.run_id}: a comparison needs "
                           "different runs", hint="name each run once (`lmtui runs` lists them)")
        named[key] = target
        columns.extend(with_pretraining_eval(run, res.entries_for(run.path, all_models=args.all)))
        retained.extend((run.run_id, title, text) for title, text in run_retention(run.path))
    titles, rows = res.comparison(columns)
    if args.json:
        print(json.dumps({"columns": titles, "rows": [{"metric": t, "values": c, "best": b} for t, c, b in rows],
                          "retention": [{"run": r, "metric": t, "student": x} for r, t, x in retained]}, indent=2))
        return 0
    console = Console(highlight=False)
    if not rows:
        console.print("no evaluation results yet: run `lmtui eval RUN` first")
        return 0
    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("metric")
    for title in titles:
        table.add_column(escape(title), justify="right")
    for title, cells, best in rows:
        table.add_row(escape(title), *[f"[bold green]{escape(c)}[/]" if i == best else escape(c)
                                       for i, c in enumerate(cells)])
    console.print(table)
    for run_id, title, text in retained:
        console.print(f"{run_id} student: {title}: {text}", markup=False)
    return 0


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a run's model, a checkpoint or any model folder ([eval] section)")
    p.add_argument("target", metavar="FILE|RUN", help="a project file (its latest run), or a run id, prefix, directory or project name")
    p.add_argument("--checkpoint", type=option(int, minimum=0), metavar="N", help="evaluate the checkpoint of step N")
    p.add_argument("--model", metavar="MODEL", help="evaluate this model instead: a model folder, a run (id, prefix, "
                                                    "directory) or project name (its final model), or a Hub id in "
                                                    "the local cache (results go to a new run directory, to compare "
                                                    "against)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a project key, e.g. eval.max_train_examples=500 (repeatable)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="evaluate only this part: perplexity, pseudo_perplexity, probes or a task name (repeatable)")
    p.add_argument("--force", action="store_true", help="recompute parts whose results are up to date")
    p.add_argument("--detach", action="store_true", help="start the evaluation and return at once")
    p.add_argument("--stop", action="store_true", help="ask the run's running evaluation to stop")
    p.add_argument("--json", action="store_true", help="also print the results entry as JSON")
    p.add_argument("--dir", action="append", metavar="DIR", help="also look for runs in DIR")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("compare", help="print the evaluation results of runs side by side")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run ids, prefixes, directories or project names, or project files (latest run)")
    p.add_argument("--all", action="store_true", help="one column per evaluated model (checkpoints too)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.add_argument("--dir", action="append", metavar="DIR", help="also look for runs in DIR")
    p.set_defaults(func=cmd_compare)
