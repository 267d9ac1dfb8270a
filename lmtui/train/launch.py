"""The command that starts the pretraining loop (:mod:`lmtui.train.pretrain`) for a project's [hardware].

One process (CPU or one GPU, no accelerate config file): the trainer itself, ``python -m
lmtui.train.pretrain RUN`` (its ``Accelerator`` needs no launcher; no launcher process to start,
or to interrupt with a traceback when the run is stopped while it loads). Several GPUs: ``accelerate
launch`` with the matching flags (or the user's accelerate config file, for DeepSpeed, FSDP and
TPU setups, then also for one process); ``device = "tpu"``: ``accelerate launch --tpu``
(:func:`tpu_command`). Several CPU processes, on one machine or several: ``torchrun``
(PITFALLS: ``accelerate launch --cpu --num_processes N`` starts one process on some machines).
"""

from __future__ import annotations

import os
import sys

from lmtui.train.devices import resolve_mixed_precision, uses_cpu

TRAINER_MODULE = "lmtui.train.pretrain"


def launch_command(project, run_path: str | os.PathLike) -> list[str]:
    """The argv that trains the run at ``run_path`` with ``project``'s [hardware] settings."""
    hw = project.hardware
    module = ["-m", TRAINER_MODULE, str(run_path)]
    if hw.device == "tpu":
        return tpu_command(project, run_path)
    cpu = uses_cpu(hw.device)
    if hw.num_processes * hw.num_machines == 1 and not hw.accelerate_config:
        return [sys.executable, *module]
    if cpu and hw.num_processes * hw.num_machines > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(hw.num_processes),
               "--nnodes", str(hw.num_machines)]
        if hw.num_machines > 1:
            cmd += ["--node_rank", str(hw.machine_rank), "--master_addr", hw.main_process_ip,
                    "--master_port", str(hw.main_process_port)]
        else:
            cmd += ["--standalone"]
        return cmd + module
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if hw.accelerate_config:
        cmd += ["--config_file", hw.accelerate_config]
    else:
        cmd += ["--num_processes", str(hw.num_processes * hw.num_machines), "--num_machines", str(hw.num_machines),
                "--dynamo_backend", "no", "--multi_gpu"]  # one process never gets here without a config file
        if hw.num_machines > 1:
            cmd += ["--machine_rank", str(hw.machine_rank), "--main_process_ip", hw.main_process_ip,
                    "--main_process_port", str(hw.main_process_port)]
        cmd += ["--mixed_precision", resolve_mixed_precision(hw.mixed_precision, cpu)]
    return cmd + module


def tpu_command(project, run_path: str | os.PathLike) -> list[str]:
    """``accelerate launch --tpu`` of :func:`tpu_main` (accelerate's TPU launcher spawns a
    zero-argument function per TPU core through ``torch_xla``'s ``xmp.spawn``, with ``sys.argv``
    set to the module and the run path), or the user's accelerate config file (a TPU pod)."""
    hw = project.hardware
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if hw.accelerate_config:
        cmd += ["--config_file", hw.accelerate_config]
    else:
        cmd += ["--tpu", "--num_processes", str(hw.num_processes)]  # precision: the trainer's Accelerator(...)
    return cmd + ["--main_training_function", "tpu_main", "-m", __name__, str(run_path)]


def tpu_main() -> int:
    """The trainer's entry point on each TPU core: :func:`lmtui.train.pretrain.main` of ``sys.argv[1]``."""
    from lmtui.train.pretrain import main

    return main(sys.argv[1])

