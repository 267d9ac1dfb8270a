"""`lmtui push RUN`: publish a run's model, card and loss curve to the Hugging Face Hub.

``--dry-run`` writes the exact folder that would be uploaded, offline (no token, no network).
The token comes from HF_TOKEN or the huggingface_hub login store (`hf auth login`); it is
never printed in full nor written anywhere. See docs/publishing.md.
"""

from __future__ import annotations

import argparse

from rich.markup import escape


def _find(args):
    from lmtui.runs.catalog import Catalog
    from lmtui.runs.rundir import find_run

    return find_run(args.run, Catalog(list(args.dir or [])).run_search_dirs())


def _print_plan(console, plan, dry: bool) -> None:
    from lmtui.fmt import fmt_bytes_words

    run, bundle = plan.run, plan.bundle
    console.print(f"run:        {run.run_id} ({run.status()})", markup=False)
    where = "" if dry else f" on {plan.endpoint}"
    console.print(f"repository: {plan.repo_id} ({plan.visibility}){where}", markup=False)
    console.print(f"branch:     {plan.revision}", markup=False)
    if plan.account is not None:
        console.print(f"account:    {plan.account.name} (token from {plan.account.token_source}: "
                      f"{plan.account.token_masked})", markup=False)
    console.print(f"files:      {len(bundle.files)}, {fmt_bytes_words(bundle.total_bytes)}", markup=False)
    for name, size in bundle.listing():
        console.print(f"  {name:<48} {fmt_bytes_words(size):>10}", markup=False)


def cmd_push(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from lmtui.hub import push as hubpush

    console = Console(highlight=False, soft_wrap=True)
    run = _find(args)
    settings = hubpush.apply_overrides(hubpush.run_settings(run), repo_id=args.repo_id, private=args.private,
                                       revision=args.revision, include_checkpoints=args.checkpoints,
                                       include_events=args.events)
    if args.dry_run:
        folder, plan = hubpush.dry_run(run, settings, args.out)
        _print_plan(console, plan, dry=True)
        console.print(f"[green]dry run[/]: wrote {escape(str(folder))} (nothing was uploaded)")
        if not settings.repo_id:
            console.print("  the card names the repository your-username/...; pass --repo-id USER/NAME or set "
                          "[hub] repo_id to write the real one", markup=False)
        return 0
    if args.out:
        raise hubpush.PushError("--out only goes with --dry-run", hint="add --dry-run, or drop --out")
    console.print("checking the token and the account...")
    plan = hubpush.plan_push(run, settings)
    _print_plan(console, plan, dry=False)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                        console=console, transient=True, disable=not console.is_terminal)
    with progress:
        task = progress.add_task("push", total=max(plan.bundle.total_bytes, 1))
        last = {"message": ""}

        def report(message: str, done: int, total: int) -> None:
            progress.update(task, description=escape(message[:60]), completed=done, total=max(total, 1))
            if not console.is_terminal and message != last["message"]:
                console.print(f"  {message}", markup=False)
            last["message"] = message

        record = hubpush.execute(plan, report)
    short = record["commit"][:10] if record.get("commit") else "-"
    if record["changed"]:
        console.print(f"[green]pushed[/] {record['files']} files to {escape(record['url'])} (commit {short}, "
                      f"{'private' if record['private'] else 'public'})")
    else:
        console.print(f"[green]already up to date[/]: {escape(record['url'])} (commit {short}); nothing changed since the "
                      "last push")
    if record["private"] != settings.private:
        console.print(f"  note: the repository already existed and stays {'private' if record['private'] else 'public'}"
                      "; change its visibility in its settings on the Hub")
    return 0


def register(sub) -> None:
    p = sub.add_parser("push", help="publish a run's model, model card and loss curve to the Hugging Face Hub",
                       description="Publish a run's final model (safetensors, config, tokenizer), a generated model "
                                   "card and the loss curve to the Hugging Face Hub. The token comes from HF_TOKEN or "
                                   "`hf auth login`. Defaults come from the project's [hub] section.")
    p.add_argument("run", metavar="RUN", help="run id, a unique prefix of one, a run directory, or a project name (its latest finished run)")
    p.add_argument("--repo-id", metavar="USER/NAME", help="target repository (default: [hub] repo_id, else "
                                                         "YOUR-USER/<project name>)")
    vis = p.add_mutually_exclusive_group()
    vis.add_argument("--private", dest="private", action="store_true", default=None,
                     help="create the repository private (the default)")
    vis.add_argument("--public", dest="private", action="store_false", help="create the repository public")
    p.add_argument("--revision", metavar="BRANCH", help="branch to push to (created when missing; default main)")
    p.add_argument("--checkpoints", action=argparse.BooleanOptionalAction, default=None,
                   help="also upload the checkpoints (default: [hub] include_checkpoints)")
    p.add_argument("--events", action=argparse.BooleanOptionalAction, default=None,
                   help="also upload the event log events.jsonl (default: [hub] include_events)")
    p.add_argument("--dry-run", action="store_true",
                   help="write the folder that would be uploaded (default <run>/hub-dry-run) and stop; offline")
    p.add_argument("--out", metavar="DIR", help="with --dry-run: the folder to write")
    p.add_argument("--dir", action="append", metavar="FOLDER", help="also look for runs in FOLDER (repeatable)")
    p.set_defaults(func=cmd_push)
