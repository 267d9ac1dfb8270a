"""A finished run as a colleague on the same machine and its owner meet it (issue 23): file modes
that follow the umask, a log without progress-bar fragments, a terminal that says which loss and
which perplexity it shows, a card that reports the passes made, and `lmtui run` of a finished run
that changes nothing."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cli import events, only_run, prose_bert_project


def lmtui_under(umask: int, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`lmtui ARGS` started under ``umask``, as from a shell after `umask 022`."""
    return subprocess.run([sys.executable, "-m", "lmtui", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                          preexec_fn=lambda: os.umask(umask))


def modes(folder: Path) -> dict[str, tuple[str, int]]:
    """Every path under ``folder`` (itself included) -> (``file`` or ``dir``, its permission bits)."""
    out = {".": ("dir", stat.S_IMODE(folder.stat().st_mode))}
    for path in folder.rglob("*"):
        if not path.is_symlink():
            out[str(path.relative_to(folder))] = ("dir" if path.is_dir() else "file", stat.S_IMODE(path.stat().st_mode))
    return out


def wrong_modes(folder: Path, file_mode: int, dir_mode: int) -> dict[str, str]:
    return {p: oct(m) for p, (kind, m) in modes(folder).items() if m != (dir_mode if kind == "dir" else file_mode)}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A tiny prose run trained under umask 022: (working folder, project file, run directory, `lmtui run`)."""
    folder = tmp_path_factory.mktemp("shared")
    os.chmod(folder, 0o755)
    project = prose_bert_project(folder, max_steps=10, logging_steps=5, save_steps=5)
    proc = lmtui_under(0o022, "run", str(project), cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder, project, only_run(folder / "runs"), proc


def test_under_umask_022_every_file_of_a_run_and_of_its_exports_is_0644_and_every_folder_0755(shared):
    folder, _, run, _ = shared
    assert (run / "model" / "model.safetensors").is_file() and (run / "tokenizer" / "tokenizer.json").is_file()
    # the run directory, its checkpoints, model and tokenizer, and the tokenizer and token caches beside it
    assert wrong_modes(folder / "runs", 0o644, 0o755) == {}
    out = folder / "exported"
    out.mkdir(mode=0o755)
    for fmt in ("csv", "png"):
        proc = lmtui_under(0o022, "export", str(run), f"--{fmt}", "-o", str(out / f"metrics.{fmt}"), cwd=folder)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = lmtui_under(0o022, "push", str(run), "--dry-run", "--out", str(out / "hub"), cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "metrics.csv").is_file() and (out / "hub" / "README.md").is_file()
    assert wrong_modes(out, 0o644, 0o755) == {}


def test_under_umask_077_a_run_and_its_export_stay_private(tmp_path):
    project = prose_bert_project(tmp_path, "private", max_steps=5, logging_steps=5, save_steps=5)
    proc = lmtui_under(0o077, "run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = only_run(tmp_path / "runs")
    proc = lmtui_under(0o077, "export", str(run), "--csv", "-o", str(tmp_path / "private.csv"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert wrong_modes(tmp_path / "runs", 0o600, 0o700) == {}
    assert stat.S_IMODE((tmp_path / "private.csv").stat().st_mode) == 0o600


def test_the_log_holds_no_fragments_of_library_progress_bars(shared):
    _, _, run, _ = shared
    log = (run / "train.log").read_text()
    assert events(run, "checkpoint"), "the run wrote checkpoints, where the bars were printed"
    assert "%|" not in log and "it/s]" not in log, [line for line in log.splitlines() if "%|" in line][:3]


def test_the_terminal_says_which_loss_and_which_perplexity_and_the_precision_by_name(shared):
    folder, _, run, proc = shared
    out = proc.stdout
    # step 5: the training loss of the interval beside the perplexity of the step-0 evaluation
    assert re.search(r"^step 5/10 train loss \d+\.\d{3}  eval ppl \d+\.\d @ step 0  ", out, re.M), out
    assert re.search(r"^pretrain: .* steps 0->10, fp32$", out, re.M), out
    assert "no precision" not in out
    table = subprocess.run([sys.executable, "-m", "lmtui", "runs", "--dir", str(folder / "runs")], cwd=folder,
                           capture_output=True, text=True, timeout=120)
    header = table.stdout.splitlines()[0]
    assert "TRAIN LOSS" in header and "EVAL PPL" in header, table.stdout


def test_the_terminal_shows_the_pieces_of_the_first_five_documents_as_the_readme_says(shared):
    _, _, run, proc = shared
    assert "the pieces of the first 5 training documents:" in proc.stdout
    shown = re.findall(r"^  document (\d): \[CLS\] ", proc.stdout, re.M)
    assert shown == ["1", "2", "3", "4", "5"], proc.stdout
    assert (run / "train.log").read_text().count("tokenizer preview: ") == 5


def test_the_card_reports_the_passes_over_the_training_tokens_made(shared):
    folder, _, run, _ = shared
    out = folder / "card"
    proc = lmtui_under(0o022, "push", str(run), "--dry-run", "--out", str(out), cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    card = (out / "README.md").read_text()
    seen = events(run, "train")[-1]["tokens"]
    total = events(run, "dataset")[-1]["train_tokens"]
    assert f"| epochs (passes over the training tokens made) | {seen / total:,.2f} |" in card
    assert "| epochs | 1 |" not in card  # [training] epochs is not read when max_steps is set
    read = events(run, "dataset")[-1]["corpus_bytes"]
    assert f"| corpus size | {read:,} bytes (" in card  # the bytes the run read, as the README counts them
    assert "| validation perplexity |" in card and "| at step | 10 |" in card  # the card's perplexity is held-out


def test_running_a_finished_run_again_says_so_at_once_and_changes_nothing(shared):
    folder, project, run, _ = shared
    before = {name: (run / name).read_bytes() for name in ("run.json", "events.jsonl", "train.log", "project.toml")}
    t0 = time.monotonic()
    proc = lmtui_under(0o022, "run", str(project), cwd=folder)
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"run {run.name} has already finished" in proc.stdout
    assert took < 5, f"{took:.1f} s: reported before any check that imports torch, no driver started"
    assert str(run / "model") in proc.stdout and f"lmtui run {project} --fresh" in proc.stdout
    assert "resuming" not in proc.stdout and "stage tokenizer" not in proc.stdout
    assert {name: (run / name).read_bytes() for name in before} == before  # times, events and log untouched
    assert len([p for p in (folder / "runs").iterdir() if (p / "run.json").is_file()]) == 1
