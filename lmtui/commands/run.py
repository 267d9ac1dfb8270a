"""`lmtui run` (the whole pipeline, headless, with progress) and `lmtui prepare` (tokenizer + cache)."""

from __future__ import annotations

import signal
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from lmtui.fmt import fmt_clock, fmt_percent, precision_name
from lmtui.runs import launcher
from lmtui.runs.events import RunEvents, read_events
from lmtui.runs.rundir import ACTIVE, RunDir

PREVIEW_PIECES = 16
"""The pieces of each previewed document that `lmtui run` prints (train.log has them all)."""


def describe(event: dict) -> str | None:
    """One log line for an event worth printing in the headless view, else None."""
    t = event.get("type")
    if t == "stage" and event["state"] != "start":
        extra = f" in {event['seconds']:.1f} s" if event.get("seconds") is not None else ""
        return f"stage {event['stage']}: {event['state']}{extra}"
    if t == "tokenizer":
        if not event.get("preview"):
            return f"tokenizer: vocab {event['vocab_size']}"
        # The pieces of the first documents (up to 5), the first PREVIEW_PIECES of each.
        pieces = [f"\n  document {i}: {' '.join(row[:PREVIEW_PIECES])}{' …' if len(row) > PREVIEW_PIECES else ''}"
                  for i, row in enumerate(event["preview"], 1)]
        return (f"tokenizer: {event['kind']}, vocab {event['vocab_size']}{' (cached)' if event.get('cached') else ''}; "
                f"the pieces of the first {len(pieces)} training document{'s' if len(pieces) > 1 else ''}:"
                + "".join(pieces))
    if t == "dataset":
        return (f"dataset: {event['train_tokens']:,} training / {event['validation_tokens']:,} validation tokens"
                f" ({'cached, ' if event['cached'] else ''}{event['seconds']:.2f} s)")
    if t == "train_start":
        return (f"pretrain: {event['params'] / 1e6:.2f}M parameters on {event['device']} x{event['num_processes']}, "
                f"steps {event['start_step']}->{event['max_steps']}, {precision_name(event['mixed_precision'])}")
    if t == "eval":
        return (f"eval step {event['step']}: loss {event['loss']:.4f}, perplexity {event['perplexity']:.2f}, "
                f"masked accuracy {fmt_percent(event['accuracy'])}")
    if t == "checkpoint":
        return f"checkpoint: {event['path']}"
    if t == "model":
        return f"model: {event['path']}"
    if t == "stopping":
        return "stopping: writing a checkpoint"
    if t == "push":
        if event.get("status") == "done":
            return f"pushed to {event.get('url') or event.get('repo_id')} ({'new commit' if event.get('changed') else 'already up to date'})"
        return f"push failed: {event.get('error')}"
    if t in ("eval_start", "finetune", "eval_result", "eval_end"):
        from lmtui.commands.evaluate import describe as describe_evaluation

        return describe_evaluation(event)
    if t == "log":
        return event.get("message")
    return None


def follow(run: RunDir, console: Console, *, offset: int = 0, stop_on_interrupt: bool = True) -> str:
    """Show the run's progress from its events (from byte ``offset``) until it ends; returns the final status.

    The stage row shows pretraining's steps, loss and ETA; in the evaluate stage every
    fine-tuning (task and seed) gets a row of its own with its steps, epoch, loss and ETA. Without
    a terminal (no bars) the same numbers are printed as lines. Ctrl-C asks the run to stop (it
    checkpoints); a second Ctrl-C kills its process group.
    """
    interrupts = {"n": 0}

    def on_interrupt(signum, frame):
        interrupts["n"] += 1
        if not stop_on_interrupt:
            raise KeyboardInterrupt
        if interrupts["n"] == 1:
            console.print("[yellow]stopping: the run writes a checkpoint (Ctrl-C again to kill it)[/]")
            launcher.stop(run)
        else:
            console.print("[red]killing the run's processes[/]")
            launcher.stop(run, force=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    summary = RunEvents()
    progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), console=console, transient=False,
                        disable=not console.is_terminal)
    task = progress.add_task("starting", total=None, info="")
    finetune_rows: dict = {}
    try:
        with progress:
            while True:
                active = run.is_active()
                events, after = read_events(run.events_file, offset)
                for e in events:
                    summary.apply(e)
                    _show(e, summary, progress, task, console, finetune_rows)
                    if e.get("type") == "end":
                        return summary.status
                if after == offset:
                    if not active:
                        status = run.status()
                        return status if status not in ACTIVE else "crashed"
                    time.sleep(0.2)
                offset = after
    finally:
        signal.signal(signal.SIGINT, previous)


def _show(e: dict, summary: RunEvents, progress: Progress, task, console: Console, finetune_rows: dict) -> None:
    """Print ``e``'s line and move the progress bars (``task`` the stage's, ``finetune_rows`` the
    fine-tunings' by request, task and seed); ``summary`` has already taken ``e`` in."""
    line = describe(e)
    if line:
        progress.console.print(escape(line))
    t = e.get("type")
    if t == "stage" and e["state"] == "start":
        progress.update(task, description=e["stage"], total=None, completed=0, info="")
    elif t == "dataset_progress":
        show_data_progress(e, progress, task)
    elif t == "train_start":
        progress.update(task, total=e["max_steps"], completed=e["start_step"])
    elif t == "train":
        # The training loss is this interval's; the perplexity is the last held-out evaluation's.
        ppl = (f"  eval ppl {summary.perplexity:.1f} @ step {summary.last_eval.get('step')}"
               if summary.last_eval and summary.perplexity is not None else "")
        mfu = f"  MFU {e['mfu']:.0%}" if e.get("mfu") is not None else ""
        info = f"train loss {e['loss']:.3f}{ppl}  {e['tokens_per_s']:,.0f} tok/s{mfu}  ETA {fmt_clock(e.get('eta_s'))}"
        progress.update(task, completed=e["step"], total=e["max_steps"], info=info)
        if not console.is_terminal:
            console.print(f"step {e['step']}/{e['max_steps']} {info}")
    elif t == "finetune":
        from lmtui.commands.evaluate import show_finetune

        show_finetune(e, progress, finetune_rows, console)


def report(run: RunDir, status: str, console: Console) -> int:
    """Print the outcome of a followed run and return the exit code (0 finished, 1 failed, 130 stopped)."""
    if status == "finished":
        console.print(f"[green]finished[/]: model in {escape(str(run.model_dir))}")
        return 0
    if status == "stopped":
        console.print(f"[yellow]stopped[/]; resume with the same `lmtui run` command or `lmtui resume {escape(run.run_id)}`")
        return 130
    error = run.read_state().get("error") or "the run's process ended without a final status"
    console.print(f"[red]{status}[/]: {escape(error)}\n  log: {escape(str(run.log_file))}")
    return 1


def cmd_run(args) -> int:
    console = Console(highlight=False, soft_wrap=True)
    launched = launcher.launch(args.project, fresh=args.fresh, overrides=args.set)
    run = launched.run
    if launched.finished:
        console.print(escape(f"run {run.run_id} has already finished ({run.path}); nothing to do\n"
                             f"  model: {run.model_dir}\n  a new run of the project: lmtui run {args.project} --fresh"))
        return 0
    if launched.warning:
        console.print(f"[yellow]warning[/]: {escape(launched.warning)}")
    console.print(escape(f"{'resuming' if launched.resumed else 'started'} run {run.run_id} ({run.path})\n  log: {run.log_file}"))
    if args.detach:
        console.print(escape(f"detached; follow it with `lmtui logs {run.run_id} --follow`"))
        return 0
    return report(run, follow(run, console, offset=launched.offset), console)


def data_progress_info(e: dict) -> str:
    """The numbers of a ``dataset_progress`` event as one short line: MB read (of the total),
    documents/s, tokens/s, ETA."""
    total = f"/{e['bytes_total'] / 1e6:,.1f}" if e.get("bytes_total") else ""
    tokens = f" {e['tokens_per_s']:,.0f} tok/s" if e.get("tokens") else ""
    return (f"{e['bytes_done'] / 1e6:,.1f}{total} MB {e['docs_per_s']:,.0f} docs/s{tokens}"
            f" ETA {fmt_clock(e.get('eta_s'))}")


def show_data_progress(e: dict, progress: Progress, task) -> None:
    """Move ``task``'s bar to a ``dataset_progress`` event (bytes read of the total)."""
    progress.update(task, description=e["phase"], total=e.get("bytes_total") or None,
                    completed=e["bytes_done"], info=data_progress_info(e))


def cmd_prepare(args) -> int:
    from lmtui.data.token_cache import prepare_dataset
    from lmtui.data.tokenizer import prepare_tokenizer

    console = Console(highlight=False, soft_wrap=True)
    project = launcher.load_with_overrides(args.project, args.set)
    t0 = time.perf_counter()
    progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                        TextColumn("{task.percentage:>3.0f}%"), TextColumn("{task.fields[info]}"), console=console,
                        transient=True, disable=not console.is_terminal)
    task = progress.add_task("reading", total=None, info="")

    def log(message: str) -> None:
        progress.console.print(escape(message))

    def report(e: dict) -> None:
        show_data_progress(e, progress, task)
        if not console.is_terminal and e.get("final"):
            log(f"{e['phase']}: {e['documents']:,} documents, {data_progress_info(e)}, in {e['seconds']:.1f} s")

    with progress:
        if args.verify:
            from lmtui.data.sources import verify_corpus_digests
            from lmtui.project.paths import cache_dir

            n = verify_corpus_digests(project, cache_dir(project))
            log(f"verified the digests of {n} corpus file(s) in full")
        folder, cached = prepare_tokenizer(project, log=log, progress=report)
        log(f"tokenizer: {folder}{' (cached)' if cached else ''}")
        data, meta, cached = prepare_dataset(project, folder, log=log, progress=report, verify=args.verify)
    log(f"dataset: {data}{' (cached)' if cached else ''}: {meta['train_tokens']:,} training and "
        f"{meta['validation_tokens']:,} validation tokens; {time.perf_counter() - t0:.2f} s")
    if len(meta.get("sources", [])) > 1:
        for s in meta["sources"]:
            tokens = s["train"]["tokens"]
            log(f"  source {s['name']}: {tokens[1] - tokens[0]:,} training tokens")
    if meta.get("duplicates_dropped"):
        log(f"  deduplication dropped {meta['duplicates_dropped']:,} duplicate documents")
    return 0


def register(sub) -> None:
    p = sub.add_parser("run", help="run a project's whole pipeline headless (resumes an unfinished run)")
    p.add_argument("project", metavar="PROJECT.toml")
    p.add_argument("--fresh", action="store_true", help="start a new run instead of resuming the latest one")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a project key for this run (repeatable), e.g. training.max_steps=100")
    p.add_argument("--detach", action="store_true", help="start the run and return at once")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("prepare", help="build the tokenizer and the token cache only (no training)")
    p.add_argument("project", metavar="PROJECT.toml")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a project key")
    p.add_argument("--verify", action="store_true",
                   help="hash every corpus and cache file again instead of trusting their remembered size, mtime "
                        "and inode (a file changed in place then gets a new cache)")
    p.set_defaults(func=cmd_prepare)
