"""``python -m lmtui.scaling.node PROJECT.toml [--set KEY=VALUE ...]``: one node's part of a multi-node run.

Run once per node by the script of :func:`lmtui.scaling.slurm.slurm_script` (``srun``, one task
per node), with Slurm's ``SLURM_NNODES``, ``SLURM_NODEID`` and ``SLURM_JOB_ID`` and the script's
``MAIN_PROCESS_IP`` / ``MAIN_PROCESS_PORT`` in the environment; they become the [hardware]
overrides ``num_machines``, ``machine_rank``, ``main_process_ip`` and ``main_process_port``
(:func:`slurm_overrides`).

- Node 0 is `lmtui run`: it validates the project, picks or creates the run directory (a
  requeued job continues the same run), starts the driver, writes the run directory's path to
  ``<output_dir>/.slurm/<job id>`` for the other nodes, and follows the run until it ends.
- Every other node waits for that file, then for the driver to reach the pretrain stage (the
  tokenizer and the token cache are ready in the shared run directory and cache), and starts
  its own trainer launcher (:func:`lmtui.train.launch.launch_command` with its machine rank),
  which joins node 0's rendezvous. It writes nothing in the run directory itself: the trainer's
  main process (on node 0) writes events, checkpoints and the model.

The exit code is the run's (0 finished, 1 failed, 130 stopped) on node 0 and the trainer's on
the others; ``srun --kill-on-bad-exit`` ends the job when one fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from lmtui.errors import LmtuiError, RunError
from lmtui.fsutil import atomic_write_text

POLL_SECONDS = 1.0


def slurm_overrides(env: dict) -> list[str]:
    """The [hardware] overrides of this node from Slurm's environment ``env``.

    Raises:
        LmtuiError: not inside a Slurm job step (``SLURM_NNODES``, ``SLURM_NODEID``,
            ``SLURM_JOB_ID`` or ``MAIN_PROCESS_IP`` missing, or not numbers where they must be).
    """
    missing = [k for k in ("SLURM_NNODES", "SLURM_NODEID", "SLURM_JOB_ID", "MAIN_PROCESS_IP") if not env.get(k)]
    if missing:
        raise LmtuiError(f"not inside a Slurm job step: {', '.join(missing)} not set",
                         hint="submit the script of `lmtui export slurm` with sbatch (it runs this command with srun)")
    nodes, rank, port = env["SLURM_NNODES"], env["SLURM_NODEID"], env.get("MAIN_PROCESS_PORT", "29500")
    if not (nodes.isdigit() and rank.isdigit() and port.isdigit()):
        raise LmtuiError(f"SLURM_NNODES={nodes!r}, SLURM_NODEID={rank!r}, MAIN_PROCESS_PORT={port!r}: expected numbers")
    return [f"hardware.num_machines={nodes}", f"hardware.machine_rank={rank}",
            f"hardware.main_process_ip=\"{env['MAIN_PROCESS_IP']}\"", f"hardware.main_process_port={port}"]


def rendezvous_file(project, job_id: str) -> Path:
    """Where node 0 writes the run directory's path for the other nodes of job ``job_id``."""
    from lmtui.project.paths import output_dir

    return Path(output_dir(project)) / ".slurm" / job_id


def lead(path: str, overrides: list[str], job_id: str) -> int:
    """Node 0: `lmtui run` with the overrides, the run directory published for the other nodes."""
    from rich.console import Console

    from lmtui.commands.run import follow, report
    from lmtui.runs import launcher

    console = Console(highlight=False, soft_wrap=True)
    launched = launcher.launch(path, overrides=overrides)
    atomic_write_text(rendezvous_file(_frozen(launched.run), job_id), str(launched.run.path))
    if launched.finished:
        console.print(f"node 0: run {launched.run.run_id} ({launched.run.path}) has already finished")
    else:
        console.print(f"node 0: {'resuming' if launched.resumed else 'started'} run {launched.run.run_id} "
                      f"({launched.run.path})")
    return report(launched.run, follow(launched.run, console, offset=launched.offset), console)


def _frozen(run):
    from lmtui.project.load import parse_project

    return parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file), str(run.project_file))


def join(path: str, overrides: list[str], job_id: str, rank: int) -> int:
    """Node ``rank`` > 0: wait for node 0's run to reach pretraining, then run this node's trainer launcher."""
    from lmtui.runs import launcher
    from lmtui.runs.rundir import ACTIVE, RunDir
    from lmtui.train.launch import launch_command

    project = launcher.load_with_overrides(path, overrides)
    marker = rendezvous_file(project, job_id)
    print(f"node {rank}: waiting for node 0 to write {marker}", flush=True)
    while not marker.is_file():
        time.sleep(POLL_SECONDS)
    run = RunDir(marker.read_text(encoding="utf-8").strip())
    while True:
        state = run.read_state()
        if state.get("stage") == "pretrain" and state.get("status") == "running":
            break
        if run.status() not in ACTIVE:
            raise RunError(f"run {run.run_id} ended ({run.status()}) before pretraining", file=str(run.path))
        time.sleep(POLL_SECONDS)
    frozen = _frozen(run)
    frozen.hardware.machine_rank = rank
    cmd = launch_command(frozen, run.path)
    print(f"node {rank}: {' '.join(cmd)}", flush=True)
    return subprocess.run(cmd, cwd=run.path, env=dict(os.environ, PYTHONUNBUFFERED="1")).returncode


def main(argv: list[str] | None = None) -> int:
    """Parse ``PROJECT.toml [--set KEY=VALUE ...]`` and run this node's part; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m lmtui.scaling.node",
                                     description="one node's part of a multi-node lmtui run under Slurm")
    parser.add_argument("project", metavar="PROJECT.toml")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        overrides = args.set + slurm_overrides(dict(os.environ))
        rank, job_id = int(os.environ["SLURM_NODEID"]), os.environ["SLURM_JOB_ID"]
        if rank == 0:
            return lead(args.project, overrides, job_id)
        return join(args.project, overrides, job_id, rank)
    except LmtuiError as exc:
        print(f"error: {exc.format()}", file=sys.stderr, flush=True)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
