"""Check-time probes of the features (lmtui.data.checks, lmtui.runs.checks, lmtui.train.checks,
lmtui.evaluation.checks, run together by lmtui.checks): bounded reads of large files, the folder
probe that leaves nothing behind, damaged model folders, and --set paths through a value."""

from __future__ import annotations

import errno
import json
import time
from pathlib import Path

import pytest
from support.cli import DATA
from support.projects import line_of_key, write_project

from lmtui import checks
from lmtui.data import checks as data_checks
from lmtui.errors import ProjectError
from lmtui.evaluation import checks as eval_checks
from lmtui.project.load import load_project
from lmtui.runs.checks import check_writable
from lmtui.train.checks import check_model_config, check_weights


def _project(folder: Path, corpus: str, **sections):
    """The probe project (output_dir "out"), one training file ``corpus``, no validation files."""
    path = write_project(folder, "probe", {"project.output_dir": "out", "corpus.train_files": [corpus],
                                           "corpus.validation_files": None}, **sections)
    return load_project(path), path.read_text()


def _large_jsonl(path: Path, *, bad_middle: bool, bad_last: bool, mib: int = 24) -> Path:
    row = json.dumps({"text": "a document of the corpus " * 8}) + "\n"
    count = (mib << 20) // len(row)
    with open(path, "w") as fh:
        for i in range(count):
            fh.write('{"text": "cut' + "\n" if (bad_middle and i == count // 2) else row)
        if bad_last:
            fh.write('{"text": "the last row, cut short\n')
    return path


def test_a_large_file_is_sampled_not_read_whole(tmp_path):
    corpus = _large_jsonl(tmp_path / "big.jsonl", bad_middle=True, bad_last=False)
    project, text = _project(tmp_path, str(corpus))
    start = time.perf_counter()
    data_checks.check_corpus(project, text)  # the invalid middle line is outside the sample
    assert time.perf_counter() - start < 5
    corpus = _large_jsonl(tmp_path / "big.jsonl", bad_middle=False, bad_last=True)
    with pytest.raises(ProjectError) as err:
        data_checks.check_corpus(project, text)
    assert "big.jsonl: the last line is not valid JSON" in err.value.format()
    assert err.value.key == "corpus.train_files"


def test_the_sample_stops_at_its_byte_budget(tmp_path, monkeypatch):
    corpus = tmp_path / "blank_then_text.txt"
    corpus.write_bytes(b"\n" * (3 << 20) + b"text after three MiB of blank lines\n")
    monkeypatch.setattr(data_checks, "SAMPLE_BYTES", 1000)
    seen = []
    original = data_checks._budget_stats

    def spy(limit):
        stats = original(limit)
        seen.append(stats)
        return stats

    monkeypatch.setattr(data_checks, "_budget_stats", spy)
    count, whole = data_checks.sample_corpus_file(corpus, fmt="auto", text_column="text", delimiter="line",
                                                  fail=pytest.fail)
    assert (count, whole) == (0, False)  # neither refused nor read to the end
    assert seen[0].bytes < corpus.stat().st_size


def test_a_small_gzip_file_is_checked_to_its_trailer(tmp_path):
    import gzip

    data = gzip.compress(b"a line of text\n" * 1000)
    (tmp_path / "cut.txt.gz").write_bytes(data[:-12])  # the deflate end and CRC are missing
    project, text = _project(tmp_path, "cut.txt.gz")
    with pytest.raises(ProjectError) as err:
        data_checks.check_corpus(project, text)
    assert "cut.txt.gz" in err.value.format() and err.value.key == "corpus.train_files"


def test_the_folder_probe_leaves_nothing_behind(tmp_path):
    target = tmp_path / "a" / "b" / "runs"
    check_writable(str(target), file="p.toml", key="project.output_dir", line=3)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_output_dir_is_refused(tmp_path, monkeypatch):
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(ProjectError) as err:
        check_writable(str(tmp_path / "runs"), file="p.toml", key="project.output_dir", line=3)
    assert err.value.format() == (f"p.toml:3: [project.output_dir] output_dir '{tmp_path / 'runs'}' cannot be "
                                  "written: Read-only file system\n  fix: choose a folder on a writable filesystem "
                                  "where you may write")


def test_an_existing_read_only_folder_is_refused(tmp_path, monkeypatch):
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "write_bytes", read_only)
    with pytest.raises(ProjectError, match="cannot be written: Read-only file system"):
        check_writable(str(tmp_path), file="p.toml", key="project.cache_dir", line=None)


def test_cut_model_weights_are_refused(tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    model = tmp_path / "model"
    model.mkdir()
    save_file({"w": np.zeros((64, 64), dtype=np.float32)}, str(model / "model.safetensors"))
    check_weights(model, file="p.toml", key="model.init_from", line=None)
    data = (model / "model.safetensors").read_bytes()
    (model / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ProjectError, match="model.safetensors is not a readable safetensors file"):
        check_weights(model, file="p.toml", key="model.init_from", line=None)
    (model / "model.safetensors").unlink()
    with pytest.raises(ProjectError, match="no model weights in"):
        check_weights(model, file="p.toml", key="model.init_from", line=None)


def test_an_init_from_config_transformers_cannot_read_is_refused(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "no-such-model"}')
    project, text = _project(tmp_path, f"{DATA}/prose/train.txt")
    with pytest.raises(ProjectError) as err:
        check_model_config(project, tmp_path, text)
    assert err.value.key == "model.init_from" and "config.json is not a model config" in err.value.message
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ProjectError, match="'gpt2' model, which has no masked-LM head"):
        check_model_config(project, tmp_path, text)


def test_set_through_a_value_is_refused(tmp_path):
    from lmtui.runs.launcher import load_with_overrides

    path = write_project(tmp_path, "probe", {"project.output_dir": "out"})
    with pytest.raises(ProjectError) as err:
        load_with_overrides(str(path), ["training.max_steps.x=1"])
    assert "override 'training.max_steps.x=1': training.max_steps is not a table" in err.value.format()
    assert not (tmp_path / "out").exists()


def test_the_good_project_passes_every_probe(tmp_path):
    project, text = _project(tmp_path, f"{DATA}/prose/train.txt")
    assert checks.check(project, text, deep=False) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe.toml"]


def test_the_last_line_of_an_eval_file_is_checked_beyond_the_sample(tmp_path):
    rows = "".join(f"sentence number {i}\t{i % 2}\n" for i in range(data_checks.SAMPLE_DOCUMENTS + 50))
    (tmp_path / "train.tsv").write_text("sentence\tlabel\n" + rows + "a cut\trow\twith a stray tab\n")
    (tmp_path / "dev.tsv").write_text("sentence\tlabel\n" + rows)
    task = {"kind": "classification", "train_file": "train.tsv", "validation_file": "dev.tsv",
            "text_column": "sentence"}
    project, text = _project(tmp_path, f"{DATA}/prose/train.txt", eval={"tasks": {"my task": task}})
    with pytest.raises(ProjectError) as err:
        eval_checks.check_eval_files(project, text)
    assert err.value.key == 'eval.tasks.my task.train_file'
    assert err.value.line == line_of_key(text, "train_file")
    assert checks.check(project, text, deep=False)[0].format() == err.value.format()  # the check layer runs it
    assert "train.tsv: the last line has 3 fields, the first 2" in err.value.message
