"""The Slurm script and accelerate config exports, a node's overrides from Slurm's variables, and the TPU path."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest
import yaml
from support.runs import PROJECT_TOML

from lmtui.errors import LmtuiError, ProjectError
from lmtui.train.checks import check_device
from lmtui.project.load import parse_project
from lmtui.scaling.node import slurm_overrides
from lmtui.scaling.slurm import accelerate_config, slurm_script
from lmtui.train.launch import launch_command


def project(tmp_path, hardware: str = 'device = "cpu"'):
    text = PROJECT_TOML.format(name="big", out=tmp_path / "runs", corpus=tmp_path / "c.txt", max_steps=10)
    text = text.replace('[hardware]\ndevice = "cpu"\n', f"[hardware]\n{hardware}\n")
    return parse_project(text, str(tmp_path / "big.toml"), str(tmp_path / "big.toml")), text


def test_slurm_script_asks_for_the_nodes_and_runs_the_node_command(tmp_path):
    script = slurm_script(project(tmp_path)[0], 2, 8, partition="gpu", time="04:00:00", python="/opt/env/bin/python")
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1", "#SBATCH --gpus-per-node=8",
                 "#SBATCH --partition=gpu", "#SBATCH --time=04:00:00", 'PYTHON="${LMTUI_PYTHON:-/opt/env/bin/python}"'):
        assert line in lines
    srun = next(line for line in lines if line.startswith("srun "))
    assert srun == (f'srun --kill-on-bad-exit=1 "$PYTHON" -m lmtui.scaling.node {tmp_path}/big.toml '
                    "--set hardware.num_processes=8 --set 'hardware.device=\"cuda\"'")
    assert "--partition" not in slurm_script(project(tmp_path)[0], 1, 0)
    with pytest.raises(LmtuiError, match="not a Slurm time limit"):
        slurm_script(project(tmp_path)[0], 2, 8, time="4 hours")
    with pytest.raises(LmtuiError, match="at least one node"):
        slurm_script(project(tmp_path)[0], 0, 8)


def test_accelerate_config(tmp_path):
    config = yaml.safe_load(accelerate_config(project(tmp_path)[0], 2, 8, main_process_ip="10.0.0.1"))
    assert config["distributed_type"] == "MULTI_GPU" and config["num_processes"] == 16
    assert (config["num_machines"], config["machine_rank"], config["main_process_ip"]) == (2, 0, "10.0.0.1")
    assert config["use_cpu"] is False and config["mixed_precision"] == "bf16"
    single = yaml.safe_load(accelerate_config(project(tmp_path)[0]))
    assert (single["distributed_type"], single["num_processes"], single["use_cpu"]) == ("NO", 1, True)
    cpu = yaml.safe_load(accelerate_config(project(tmp_path, 'device = "cpu"\nnum_processes = 2')[0]))
    assert cpu["distributed_type"] == "MULTI_CPU"
    tpu = yaml.safe_load(accelerate_config(project(tmp_path, 'device = "tpu"\nnum_processes = 8')[0]))
    assert (tpu["distributed_type"], tpu["main_training_function"], tpu["use_cpu"]) == ("XLA", "tpu_main", False)


def test_node_overrides_from_slurm_variables():
    env = {"SLURM_NNODES": "2", "SLURM_NODEID": "1", "SLURM_JOB_ID": "77", "MAIN_PROCESS_IP": "node01"}
    assert slurm_overrides(env) == ["hardware.num_machines=2", "hardware.machine_rank=1",
                                    'hardware.main_process_ip="node01"', "hardware.main_process_port=29500"]
    with pytest.raises(LmtuiError, match="not inside a Slurm job step: SLURM_NODEID not set"):
        slurm_overrides({k: v for k, v in env.items() if k != "SLURM_NODEID"})


def test_cpu_processes_on_several_machines_use_torchrun(tmp_path):
    hardware = 'device = "cpu"\nnum_machines = 2\nmachine_rank = 1\nmain_process_ip = "127.0.0.1"'
    cmd = launch_command(project(tmp_path, hardware)[0], "/r")
    assert cmd[1:3] == ["-m", "torch.distributed.run"]
    assert cmd[3:13] == ["--nproc_per_node", "1", "--nnodes", "2", "--node_rank", "1", "--master_addr", "127.0.0.1",
                         "--master_port", "29500"]


def test_tpu_runs_through_accelerate_and_needs_torch_xla(tmp_path):
    proj, text = project(tmp_path, 'device = "tpu"\nnum_processes = 8')
    cmd = launch_command(proj, "/r")
    assert cmd[1:] == ["-m", "accelerate.commands.launch", "--tpu", "--num_processes", "8",
                       "--main_training_function", "tpu_main", "-m", "lmtui.train.launch", "/r"]
    if importlib.util.find_spec("torch_xla") is not None:
        pytest.skip("torch_xla is installed here")
    with pytest.raises(ProjectError) as info:
        check_device(proj, text)
    assert info.value.key == "hardware.device" and info.value.line is not None
    assert "torch_xla (PyTorch/XLA) is not installed" in info.value.message and "torch_xla[tpu]" in info.value.hint


def test_one_process_runs_the_trainer_itself_with_the_users_thread_count(tmp_path, monkeypatch):
    from lmtui.train.devices import cpu_threads

    cmd = launch_command(project(tmp_path, 'device = "cpu"')[0], "/r")
    assert cmd == [sys.executable, "-m", "lmtui.train.pretrain", "/r"]  # no launcher process to start or interrupt
    config = tmp_path / "ds.yaml"
    config.write_text("compute_environment: LOCAL_MACHINE\n")
    cmd = launch_command(project(tmp_path, f'device = "cpu"\naccelerate_config = "{config}"')[0], "/r")
    assert cmd[1:5] == ["-m", "accelerate.commands.launch", "--config_file", str(config)]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert cpu_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert cpu_threads() == (os.cpu_count() or 1)
