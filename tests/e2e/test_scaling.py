"""The exported Slurm script under a fake Slurm (``srun`` starting one task per "node" on this
machine, ``scontrol show hostnames``), and a 2-node run on localhost (gloo) against one node."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from support.cli import events, lmtui, prose_bert_project

FAKE_SRUN = """#!/bin/bash
# fake srun: the command once per node of the allocation, SLURM_NODEID set, output to a file per node
[ "$1" = "--kill-on-bad-exit=1" ] && shift
pids=()
for ((i = 0; i < SLURM_NNODES; i++)); do
  SLURM_NODEID=$i SLURM_PROCID=$i "$@" > "$FAKE_SLURM_LOGS/node$i.log" 2>&1 &
  pids+=($!)
done
code=0
for p in "${pids[@]}"; do wait "$p" || code=$?; done
exit $code
"""

FAKE_SCONTROL = """#!/bin/bash
[ "$1 $2" = "show hostnames" ] && tr ',' '\\n' <<< "$3"
"""


def fake_slurm(tmp: Path, nodes: int, job_id: str, **env) -> dict:
    """PATH with the fake srun and scontrol first, and the variables sbatch would set."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    logs = tmp / "slurm-logs"
    logs.mkdir(exist_ok=True)
    return dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", SLURM_NNODES=str(nodes), SLURM_JOB_ID=job_id,
                SLURM_JOB_NODELIST=",".join(["127.0.0.1"] * nodes), FAKE_SLURM_LOGS=str(logs), **env)


def export_script(tmp: Path, project: Path, *extra: str) -> Path:
    script = tmp / "job.sbatch"
    proc = lmtui("export", "slurm", str(project), "--nodes", "2", "--gpus-per-node", "0", "-o", str(script), *extra)
    assert proc.returncode == 0, proc.stderr
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    return script


def test_the_script_runs_the_node_command_on_every_node(tmp_path, data_dir):
    project = prose_bert_project(tmp_path, "slurmy")
    script = export_script(tmp_path, project, "--partition", "debug", "--time", "10")
    fake_python = tmp_path / "python"
    fake_python.write_text('#!/bin/bash\necho "node $SLURM_NODEID of $SLURM_NNODES, rendezvous '
                           '$MAIN_PROCESS_IP:$MAIN_PROCESS_PORT: $*"\n')
    fake_python.chmod(0o755)
    env = fake_slurm(tmp_path, 2, "41", LMTUI_PYTHON=str(fake_python))
    assert subprocess.run(["bash", str(script)], env=env, timeout=60).returncode == 0
    for node in (0, 1):
        line = (tmp_path / "slurm-logs" / f"node{node}.log").read_text().strip()
        assert line == (f"node {node} of 2, rendezvous 127.0.0.1:29500: -m lmtui.scaling.node {project} "
                        '--set hardware.num_processes=1 --set hardware.device="cpu"')


def test_a_node_outside_slurm_is_refused(tmp_path, data_dir):
    project = prose_bert_project(tmp_path, "slurmy")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    proc = subprocess.run(["python3", "-m", "lmtui.scaling.node", str(project)], env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "not inside a Slurm job step" in proc.stderr
    assert not (tmp_path / "runs").exists()


NO_DROPOUT = 'config_overrides = { hidden_size = 64, num_attention_heads = 2, intermediate_size = 128, ' \
             'hidden_dropout_prob = 0.0, attention_probs_dropout_prob = 0.0 }'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.long
def test_two_nodes_on_localhost_train_like_one(tmp_path, data_dir):
    """Two "nodes" of one process each (torchrun, gloo) against one process with the same global
    batch (gradient accumulation 2): the same per-step losses, to float summation order."""
    cache = tmp_path / "cache"  # shared: the second run reuses the first one's tokenizer and token cache
    paths = {}
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        path = prose_bert_project(folder, "ddp", max_steps=20, logging_steps=1, save_steps=10)
        text = path.read_text().replace(
            "config_overrides = { hidden_size = 64, num_attention_heads = 2, intermediate_size = 128 }", NO_DROPOUT)
        text = text.replace('output_dir = "runs"', f'output_dir = "runs"\ncache_dir = "{cache}"')
        path.write_text(text + '\n[hardware]\ndevice = "cpu"\n')
        paths[name] = path
    proc = lmtui("run", str(paths["one"]), cwd=paths["one"].parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    script = export_script(tmp_path, paths["two"])
    env = fake_slurm(tmp_path, 2, "42", MAIN_PROCESS_PORT=str(_free_port()), OMP_NUM_THREADS="1")
    done = subprocess.run(["bash", str(script)], env=env, timeout=1200)
    logs = {n: (tmp_path / "slurm-logs" / f"node{n}.log").read_text() for n in (0, 1)}
    assert done.returncode == 0, logs
    runs = {name: next(p for p in (paths[name].parent / "runs").iterdir() if (p / "run.json").is_file())
            for name in paths}
    assert json.loads((runs["two"] / "run.json").read_text())["status"] == "finished"
    start = events(runs["two"], "train_start")[0]
    assert start["num_processes"] == 2 and start["backend"] == "gloo"
    assert "--nnodes 2 --node_rank 1" in logs[1]
    one = {e["step"]: e["loss"] for e in events(runs["one"], "train")}
    two = {e["step"]: e["loss"] for e in events(runs["two"], "train")}
    assert sorted(one) == sorted(two) == list(range(1, 21))
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=1e-4), step
