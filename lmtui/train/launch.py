"""The command that starts the pretraining loop (:mod:`lmtui.train.pretrain`) for a project's [hardware].

One process, or CUDA: ``accelerate launch`` with the matching flags (or the user's accelerate
config file, for DeepSpeed, FSDP and TPU setups). Several CPU processes: ``torchrun``
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
    cpu = uses_cpu(hw.device)
    if cpu and hw.num_processes > 1:
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
                "--dynamo_backend", "no"]
        if cpu:
            cmd += ["--cpu", "--num_cpu_threads_per_process", str(os.cpu_count() or 1)]
        elif hw.num_processes * hw.num_machines > 1:
            cmd += ["--multi_gpu"]
        if hw.num_machines > 1:
            cmd += ["--machine_rank", str(hw.machine_rank), "--main_process_ip", hw.main_process_ip,
                    "--main_process_port", str(hw.main_process_port)]
        cmd += ["--mixed_precision", resolve_mixed_precision(hw.mixed_precision, cpu)]
    return cmd + module
