"""`lmtui export slurm` and `lmtui export accelerate`: an sbatch script and an accelerate config for a multi-node run.

The script asks Slurm for ``nodes`` machines with ``gpus_per_node`` GPUs each and one task per
node, takes the first host of the allocation as the rendezvous (``scontrol show hostnames``,
exported as ``MAIN_PROCESS_IP``) and runs the node command (:mod:`lmtui.scaling.node`) on
every node with ``srun``. The node command reads ``SLURM_NNODES`` and ``SLURM_NODEID`` (Slurm's
output environment variables, see the sbatch and srun manuals): node 0 runs the run's
driver (one run directory, on a file system every node sees), the others only their share of
the trainer. The layout follows accelerate's multi-node Slurm example
(examples/slurm/submit_multinode.sh in huggingface/accelerate): one launcher per node,
``--num_machines``/``--machine_rank``/``--main_process_ip`` from Slurm's variables.

The accelerate config is the YAML file ``accelerate config`` writes, for the same machines.
"""

from __future__ import annotations

import re
import shlex
import sys

import yaml

from lmtui.errors import LmtuiError

DEFAULT_PORT = 29500


def _check(nodes: int, gpus_per_node: int, time: str | None) -> None:
    if nodes < 1 or gpus_per_node < 0:
        raise LmtuiError(f"--nodes {nodes} --gpus-per-node {gpus_per_node}: need at least one node and no negative GPUs",
                         hint="write e.g. --nodes 2 --gpus-per-node 8")
    if time is not None and not re.fullmatch(r"(\d+-)?\d+(:\d\d){0,2}", time):
        raise LmtuiError(f"--time {time!r} is not a Slurm time limit", hint="write MINUTES, HH:MM:SS or DAYS-HH:MM:SS")


def slurm_script(project, nodes: int, gpus_per_node: int, partition: str | None = None, time: str | None = None,
                 python: str | None = None) -> str:
    """The sbatch script that trains ``project`` on ``nodes`` machines with ``gpus_per_node`` GPUs each.

    With ``gpus_per_node`` 0 the nodes train on their CPUs (one process each, gloo). ``python``
    is the interpreter with lmtui installed on the nodes (default: this one); ``$LMTUI_PYTHON``
    overrides it when the job runs.

    Raises:
        LmtuiError: ``nodes`` below 1, a negative ``gpus_per_node``, or a ``time`` Slurm does not read.
    """
    _check(nodes, gpus_per_node, time)
    name = project.project.name
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", f"#SBATCH --nodes={nodes}", "#SBATCH --ntasks-per-node=1"]
    if gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={gpus_per_node}")
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if time:
        lines.append(f"#SBATCH --time={time}")
    lines.append("#SBATCH --output=slurm-%x-%j.out")  # in the folder sbatch is run from
    device = '"cuda"' if gpus_per_node else '"cpu"'
    sets = [f"hardware.num_processes={max(1, gpus_per_node)}", f"hardware.device={device}"]
    node = ["\"$PYTHON\"", "-m", "lmtui.scaling.node", shlex.quote(project.path or f"{name}.toml")]
    for item in sets:
        node += ["--set", shlex.quote(item)]
    lines += [
        "",
        f"# Written by `lmtui export slurm` for {project.path}; submit with: sbatch {shlex.quote(name)}.sbatch",
        "# The run directory goes to the project's output_dir: it must be on a file system every node sees.",
        "set -euo pipefail",
        f"PYTHON=\"${{LMTUI_PYTHON:-{python or sys.executable}}}\"",
        "# Rendezvous: the first node of the allocation, a fixed port.",
        "MAIN_PROCESS_IP=\"$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\"",
        f"MAIN_PROCESS_PORT=\"${{MAIN_PROCESS_PORT:-{DEFAULT_PORT}}}\"",
        "export MAIN_PROCESS_IP MAIN_PROCESS_PORT",
        "# One task per node; each reads SLURM_NNODES and SLURM_NODEID. Node 0 runs the driver.",
        "srun --kill-on-bad-exit=1 " + " ".join(node),
        "",
    ]
    return "\n".join(lines)


def accelerate_config(project, nodes: int | None = None, gpus_per_node: int | None = None, machine_rank: int = 0,
                      main_process_ip: str | None = None, main_process_port: int | None = None) -> str:
    """An accelerate config file (the YAML of ``accelerate config``) for ``project`` on ``nodes``
    machines of ``gpus_per_node`` GPUs (default: its [hardware] num_machines and num_processes).

    ``distributed_type`` is ``XLA`` for ``device = "tpu"``, ``MULTI_CPU`` for CPU processes,
    ``MULTI_GPU`` for several GPUs, else ``NO``. Give it to the run with
    ``[hardware] accelerate_config`` or to ``accelerate launch --config_file``; flags given on
    the command line (``--machine_rank``) override the file.

    Raises:
        LmtuiError: ``nodes`` below 1 or a negative ``gpus_per_node``.
    """
    hw = project.hardware
    nodes = hw.num_machines if nodes is None else nodes
    per_node = hw.num_processes if gpus_per_node is None else gpus_per_node
    _check(nodes, per_node, None)
    cpu = per_node == 0 if gpus_per_node is not None else hw.device == "cpu"
    processes = max(1, per_node) * nodes
    if hw.device == "tpu":
        kind = "XLA"
    elif processes == 1:
        kind = "NO"
    else:
        kind = "MULTI_CPU" if cpu else "MULTI_GPU"
    config = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": kind,
        "num_machines": nodes,
        "num_processes": processes,
        "machine_rank": machine_rank,
        "main_training_function": "tpu_main" if kind == "XLA" else "main",
        "mixed_precision": "no" if cpu else "bf16" if hw.mixed_precision == "auto" else hw.mixed_precision,
        "use_cpu": cpu and kind != "XLA",
        "dynamo_config": {},
        "rdzv_backend": "static",
        "same_network": True,
    }
    if nodes > 1:
        config["main_process_ip"] = main_process_ip or hw.main_process_ip or "MAIN_NODE_ADDRESS"
        config["main_process_port"] = main_process_port or hw.main_process_port
    if kind == "MULTI_GPU":
        config["gpu_ids"] = "all"
    if kind == "XLA":
        config.update(tpu_use_cluster=nodes > 1, tpu_use_sudo=False, downcast_bf16="no")
    header = f"# Written by `lmtui export accelerate` for {project.path}\n"
    return header + yaml.safe_dump(config, sort_keys=True)
