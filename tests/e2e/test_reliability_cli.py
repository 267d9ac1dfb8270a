"""Issue 24 and issue 23 item 2 through the command line, as a user meets them: broken state files
during `lmtui prepare` (class 1), `prepare --verify` (3), non-finite and out-of-range numbers (4),
requests this machine can never meet (5), corpus files that are not UTF-8 (7), and `lmtui check`
refusing what `lmtui run` refuses (23.2). Each bad case exits 2 before a run directory exists.

The corpus files are generated here from the Python Language Reference (``pydoc_data.topics``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydoc_data.topics import topics
from support.cli import lmtui, write_project

NO_GPUS = {"LMTUI_FAKE_GPUS": ""}


def reference_lines(n: int = 40, start: int = 0) -> list[str]:
    lines = []
    for name in sorted(topics)[start:start + n]:
        lines += [" ".join(p.split()) for p in topics[name].split("\n\n") if len(p.split()) > 5]
    return lines


def project(tmp_path: Path, body: str = "", *, corpus: str = 'train_files = ["train.txt"]', name: str = "rel") -> Path:
    if not (tmp_path / "train.txt").exists():
        (tmp_path / "train.txt").write_text("\n".join(reference_lines(30)) + "\n")
    return write_project(tmp_path, name, f"""
        [project]
        output_dir = "runs"
        [corpus]
        {corpus}
        [tokenizer]
        vocab_size = 600
        [model]
        size = "tiny"
        [training]
        max_steps = 2
        max_seq_length = 32
        batch_size = 4
        micro_batch_size = 4
        {body}
    """)


def refused(proc, *fragments: str, tmp_path: Path | None = None) -> str:
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stdout, err)
    assert "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    if tmp_path is not None:
        runs = tmp_path / "runs"
        assert not runs.exists() or not [p for p in runs.iterdir() if (p / "run.json").exists()]
    return err


# -- class 1 ---------------------------------------------------------------------------------

def test_prepare_rebuilds_broken_state_files_with_a_warning_naming_them(tmp_path):
    path = project(tmp_path)
    first = lmtui("prepare", str(path), cwd=tmp_path, env=NO_GPUS)
    assert first.returncode == 0, first.stderr
    cache = tmp_path / "runs" / "cache"
    tokenizer = next((cache / "tokenizers").iterdir())
    (cache / "digests.json").write_text("[]")
    text = (tokenizer / "tokenizer.json").read_text()
    (tokenizer / "tokenizer.json").write_text(text[: len(text) // 3])  # cut short by a crash
    dataset = next(p for p in (cache / "datasets").iterdir() if not p.name.startswith("."))
    (dataset / "meta.json").write_text('"meta"')
    again = lmtui("prepare", str(path), cwd=tmp_path, env=NO_GPUS)
    out = again.stdout + again.stderr
    assert again.returncode == 0 and "Traceback" not in out, out
    assert f"{cache / 'digests.json'}" in out and f"{tokenizer / 'tokenizer.json'}" in out
    assert f"{dataset / 'meta.json'}" in out
    json.loads((tokenizer / "tokenizer.json").read_text())  # trained again, whole
    third = lmtui("prepare", str(path), cwd=tmp_path, env=NO_GPUS)
    assert third.returncode == 0 and third.stdout.count("(cached)") == 2 and "warning" not in third.stderr


# -- class 3 ---------------------------------------------------------------------------------

def test_prepare_verify_sees_a_corpus_changed_without_its_stamp(tmp_path):
    path = project(tmp_path)
    assert lmtui("prepare", str(path), cwd=tmp_path, env=NO_GPUS).returncode == 0
    corpus = tmp_path / "train.txt"
    st = corpus.stat()
    data = corpus.read_bytes()
    swapped = data.replace(b"the", b"THE")
    assert swapped != data and len(swapped) == len(data)
    with open(corpus, "r+b") as fh:  # in place: same inode, same size
        fh.write(swapped)
    os.utime(corpus, ns=(st.st_atime_ns, st.st_mtime_ns))
    fast = lmtui("prepare", str(path), cwd=tmp_path, env=NO_GPUS)
    assert fast.stdout.count("(cached)") == 2  # the documented trust of the fast path
    full = lmtui("prepare", str(path), "--verify", cwd=tmp_path, env=NO_GPUS)
    assert full.returncode == 0, full.stderr
    assert "verified the digests of 1 corpus file" in full.stdout and full.stdout.count("(cached)") == 0
    assert len([p for p in (tmp_path / "runs" / "cache" / "datasets").iterdir() if not p.name.startswith(".")]) == 2


# -- class 4 ---------------------------------------------------------------------------------

MIXTURE = """[corpus.sources.a]
        files = ["train.txt"]
        {key} = {value}
        [corpus.sources.b]
        files = ["other.txt"]
        {key} = 1"""


@pytest.mark.parametrize("key, value", [("weight", "nan"), ("weight", "inf"), ("weight", "-inf"), ("epochs", "nan"),
                                        ("epochs", "inf"), ("weight", "0")])
def test_non_finite_mixture_numbers_are_refused_at_check_time(tmp_path, key, value):
    (tmp_path / "other.txt").write_text("\n".join(reference_lines(20, start=40)) + "\n")
    path = project(tmp_path, corpus=MIXTURE.format(key=key, value=value))
    for command in (("check", "--no-deep", str(path)), ("run", str(path))):
        err = refused(lmtui(*command, cwd=tmp_path, env=NO_GPUS), f"[corpus.sources.a.{key}]",
                      "of source 'a' is not " + ("positive" if value == "0" else "a finite number"),
                      tmp_path=tmp_path)
        assert f"{path}:" in err


@pytest.mark.parametrize("args, option", [(("--samples", "-3"), "--samples"), (("--samples", "nan"), "--samples"),
                                          (("--seed", "1.5"), "--seed")])
def test_sweep_numbers_are_refused_naming_the_option(tmp_path, args, option):
    path = project(tmp_path)
    proc = lmtui("sweep", str(path), "--range", "training.learning_rate=1e-4:1e-3", *args, cwd=tmp_path, env=NO_GPUS)
    assert proc.returncode == 2 and f"argument {option}" in proc.stderr, proc.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args, option", [(("--nodes", "0", "--gpus-per-node", "1"), "--nodes"),
                                          (("--nodes", "2", "--gpus-per-node", "-1"), "--gpus-per-node")])
def test_export_numbers_are_refused_naming_the_option(tmp_path, args, option):
    proc = lmtui("export", "slurm", str(project(tmp_path)), *args, cwd=tmp_path)
    assert proc.returncode == 2 and f"argument {option}" in proc.stderr, proc.stderr


@pytest.mark.parametrize("slots", ["nan", "-1", "0", "2.5", "inf", "two"])
def test_bad_lmtui_slots_is_refused_before_a_run_directory_exists(tmp_path, slots):
    path = project(tmp_path, "[hardware]\n        slots = 1")
    for command in (("check", "--no-deep", str(path)), ("run", str(path))):
        refused(lmtui(*command, cwd=tmp_path, env={**NO_GPUS, "LMTUI_SLOTS": slots}), f"LMTUI_SLOTS={slots!r}",
                tmp_path=tmp_path)


# -- class 5 and issue 23 item 2 -------------------------------------------------------------

@pytest.mark.parametrize("hardware, key, fragment", [
    ('device = "cpu"\n        slots = 2', "hardware.slots", "slots = 2 but this machine has 1"),
    ('device = "auto"\n        slots = 3', "hardware.slots", "slots = 3 but this machine has 1"),
    ('gpu_ids = "7"', "hardware.gpu_ids", "the run asks for GPUs but this machine has none"),
    ("gpus = 2", "hardware.gpus", "the run asks for GPUs but this machine has none"),
])
def test_check_refuses_what_run_refuses_and_nothing_waits_forever(tmp_path, monkeypatch, hardware, key, fragment):
    path = project(tmp_path, f"[hardware]\n        {hardware}")
    monkeypatch.delenv("LMTUI_SLOTS", raising=False)  # the default: one slot
    env = NO_GPUS
    check = refused(lmtui("check", "--no-deep", str(path), cwd=tmp_path, env=env), f"[{key}]", fragment)
    run = refused(lmtui("run", str(path), cwd=tmp_path, env=env), f"[{key}]", fragment, tmp_path=tmp_path)
    assert check.strip().removeprefix("error: ") == run.strip().removeprefix("error: ")


def test_export_slurm_checks_the_request_against_the_target_nodes(tmp_path):
    path = project(tmp_path, '[hardware]\n        gpu_ids = "7"')
    proc = lmtui("export", "slurm", str(path), "--nodes", "2", "--gpus-per-node", "4", cwd=tmp_path, env=NO_GPUS)
    refused(proc, "[hardware.gpu_ids]", "GPU 7 does not exist: each target node (--gpus-per-node 4) has 4 (0, 1, 2, 3)")
    assert not list(tmp_path.glob("*.sbatch"))
    ok = lmtui("export", "slurm", str(project(tmp_path, name="fine")), "--nodes", "2", "--gpus-per-node", "4",
               cwd=tmp_path, env=NO_GPUS)
    assert ok.returncode == 0, ok.stderr  # this machine has no GPU: the target's count decides


# -- class 7 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, named", [("utf-16", "UTF-16LE (byte-order mark)"),
                                             ("utf-16-be", "UTF-16BE (no byte-order mark"),
                                             ("utf-32", "UTF-32LE (byte-order mark)"),
                                             ("cp1252", "not UTF-8")])
def test_a_corpus_file_that_is_not_utf8_is_refused_with_its_encoding(tmp_path, encoding, named):
    lines = reference_lines(30)
    if encoding == "cp1252":  # a legacy encoding: every letter beyond ASCII is one invalid byte
        lines = [line.translate(str.maketrans("aeiou", "àéìõü")) for line in lines]
    (tmp_path / "train.txt").write_bytes(("\n".join(lines) + "\n").encode(encoding))
    path = project(tmp_path)
    for command in (("check", "--no-deep", str(path)), ("run", str(path))):
        refused(lmtui(*command, cwd=tmp_path, env=NO_GPUS), "[corpus.train_files]", named, "read as UTF-8",
                "iconv", tmp_path=tmp_path)
    (tmp_path / "train.txt").write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode("utf-8"))
    ok = lmtui("check", "--no-deep", str(path), cwd=tmp_path, env=NO_GPUS)
    assert ok.returncode == 0, ok.stderr  # UTF-8, with or without its byte-order mark, is read
