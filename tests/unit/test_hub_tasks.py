"""Evaluation tasks read with ``datasets.load_dataset``: presets naming their Hub datasets, the
dataset keys validated with file, key and line, a local dataset folder, the datasets cache read
offline, the check-time error for a dataset neither cached nor reachable, and IOB2 ids from a
dataset giving the entity spans of IOB1 files.

No network: the tests run with HF_DATASETS_OFFLINE=1 / HF_HUB_OFFLINE=1 and HF_HOME under
tmp_path (the ``offline`` fixture), in the subprocesses they start too, or against the fake Hub
of ``tests/support/fake_hub.py`` on 127.0.0.1 (the ``online`` fixture). The datasets are written
by ``tests/support/hub_datasets.py`` from the Python Language Reference and stdlib docstrings.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from support.cli import lmtui
from support.fake_hub import FakeHub
from support.hub_datasets import (CONLL_README, cache_as_hub_dataset, iob2_to_iob1, keyword_sentences,
                                  negation_examples, write_glue_like)

from lmtui.errors import ProjectError
from lmtui.evaluation.hub_tasks import load_task
from lmtui.evaluation.readers import TaskDataError
from lmtui.evaluation.stage import resolved_specs
from lmtui.project.load import load_project

HEAD = """\
[project]
name = "p"
output_dir = "runs"

[corpus]
train_files = ["corpus.txt"]

"""


@pytest.fixture
def offline(tmp_path, monkeypatch) -> Path:
    """HF_HOME under tmp_path, offline; ``datasets`` re-reads its cache folder and offline flag.
    Returns the datasets cache folder."""
    import datasets

    home = tmp_path / "hf-home"
    cache = home / "datasets"
    cache.mkdir(parents=True)
    for k, v in {"HF_HOME": str(home), "HF_DATASETS_CACHE": str(cache), "HF_DATASETS_OFFLINE": "1",
                 "HF_HUB_OFFLINE": "1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    (tmp_path / "corpus.txt").write_text("\n\n".join(s for s, _ in negation_examples(40)))
    return cache


@pytest.fixture
def online(tmp_path, monkeypatch):
    """The fake Hub serving a repository shaped like nyu-mll/glue (subset sst2) through
    HF_ENDPOINT, for the `lmtui` subprocesses (offline mode off, an empty cache)."""
    hub = FakeHub({}).start()
    hub.add_dataset("nyu-mll/glue", write_glue_like(tmp_path / "repo" / "glue", train=20, validation=6))
    for k, v in {"HF_HOME": str(tmp_path / "hf-home"), "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1",
                 "NO_PROXY": "127.0.0.1,localhost"}.items():
        monkeypatch.setenv(k, v)
    for k in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "HF_DATASETS_CACHE", "HF_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    (tmp_path / "corpus.txt").write_text("\n\n".join(s for s, _ in negation_examples(40)))
    try:
        yield hub
    finally:
        hub.stop()


def project(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(HEAD + textwrap.dedent(body).lstrip())
    return path


def specs_of(path: Path) -> dict:
    proj = load_project(path)
    return {s.name: s for s in resolved_specs(None, proj)[1]}


def error_of(path: Path) -> ProjectError:
    with pytest.raises(ProjectError) as info:
        specs_of(path)
    return info.value


# --------------------------------------------------------------------------- presets and keys

def test_presets_without_data_dir_name_their_hub_datasets_and_with_it_read_files(tmp_path, offline):
    glue = tmp_path / "SST-2"
    glue.mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (glue / name).write_text("sentence\tlabel\n" + "".join(f"{s}\t{lab}\n" for s, lab in negation_examples(8)))
    conll = tmp_path / "conll"
    conll.mkdir()
    for name in ("eng.train", "eng.testa", "eng.testb"):
        (conll / name).write_text("Python NNP I-NP I-CAP\nis VBZ I-VP O\n")
    path = project(tmp_path, """
        [eval.tasks.sst2]
        preset = "sst2"
        [eval.tasks.mnli]
        preset = "mnli"
        [eval.tasks.mrpc]
        preset = "mrpc"
        [eval.tasks.ner]
        preset = "conll2003"
        [eval.tasks.sst2_files]
        preset = "sst2"
        data_dir = "SST-2"
        [eval.tasks.ner_files]
        preset = "conll2003"
        data_dir = "conll"
    """)
    specs = specs_of(path)
    sst2 = specs["sst2"]
    assert (sst2.dataset, sst2.subset, sst2.train_split, sst2.splits) == \
        ("nyu-mll/glue", "sst2", "train", {"validation": "validation"})  # GLUE's test split has no labels
    assert (sst2.text_column, sst2.label_column, sst2.train_file) == ("sentence", "label", "")
    assert specs["mnli"].splits == {"validation": "validation_matched"}
    assert (specs["mnli"].text_column, specs["mnli"].text_pair_column) == ("premise", "hypothesis")
    assert specs["mrpc"].positive_label == "equivalent" and specs["mrpc"].metrics == ["f1", "accuracy"]
    ner = specs["ner"]
    assert (ner.dataset, ner.tag_scheme, ner.tokens_column, ner.tags_column) == \
        ("lhoestq/conll2003", "iob2", "tokens", "ner_tags")
    assert ner.splits == {"validation": "validation", "test": "test"}
    files = specs["sst2_files"]
    assert files.dataset == "" and files.train_file == str(glue / "train.tsv") and files.file_format == "tsv"
    assert specs["ner_files"].tag_scheme == "iob1" and specs["ner_files"].splits["test"] == str(conll / "eng.testb")


@pytest.mark.parametrize("body, key, line, words", [
    ('[eval.tasks.t]\npreset = "sst2"\ndata_dir = "x"\ndataset = "nyu-mll/glue"\n', "eval.tasks.t.dataset", 11,
     "data_dir and dataset exclude each other"),
    ('[eval.tasks.t]\nkind = "classification"\ndataset = "nyu-mll/glue"\ntrain_file = "a.tsv"\n',
     "eval.tasks.t.dataset", 10, "train_file and dataset exclude each other"),
    ('[eval.tasks.t]\npreset = "sst2"\ndata_dir = "SST-2"\nsubset = "sst2"\n', "eval.tasks.t.subset", 11,
     "subset is a key of dataset tasks"),
    ('[eval.tasks.t]\npreset = "sst2"\ndatset = "nyu-mll/glue"\n', "eval.tasks.t.datset", 10,
     "did you mean 'dataset'?"),
    ('[eval.tasks.t]\npreset = "sst2"\nvalidation_splt = "dev"\n', "eval.tasks.t.validation_splt", 10,
     "did you mean 'validation_split'?"),
    ('[eval.tasks.t]\npreset = "stsb"\n', "eval.tasks.t.preset", 9, "STS-B is a regression task"),
    ('[eval.tasks.t]\npreset = "sst2"\ntext_column = 0\n', "eval.tasks.t.text_column", 10,
     "a dataset's columns have names"),
    ('[eval.tasks.t]\npreset = "sst2"\nvalidation_split = ""\n', "eval.tasks.t.validation_split", 10,
     "scores no split"),
    ('[eval.tasks.t]\nkind = "classification"\ndataset = "./missing"\n', "eval.tasks.t.dataset", 10,
     "dataset folder"),
    ('[eval.tasks.t]\npreset = "sst2"\nsubset = 2\n', "eval.tasks.t.subset", 10, "expected a string"),
    ('[eval.tasks.t]\npreset = "sst2"\nformat = "csv"\n', "eval.tasks.t.format", 10, "a key of file tasks"),
])
def test_dataset_keys_are_validated_with_key_line_and_hint(tmp_path, offline, body, key, line, words):
    (tmp_path / "SST-2").mkdir()
    err = error_of(project(tmp_path, body))
    assert err.key == key and err.line == line and err.file == str(tmp_path / "p.toml")
    assert words in err.message + (err.hint or "")


# --------------------------------------------------------------------------- loading

def test_a_local_dataset_folder_shaped_like_the_hub_repo_loads_with_class_label_names(tmp_path, offline):
    write_glue_like(tmp_path / "glue", train=40, validation=12)
    path = project(tmp_path, """
        [eval]
        max_train_examples = 30
        [eval.tasks.sst2]
        preset = "sst2"
        dataset = "./glue"
    """)
    spec = specs_of(path)["sst2"]
    assert spec.dataset == str(tmp_path / "glue") and spec.subset == "sst2"
    data = load_task(spec)
    assert data.labels == ["negative", "positive"]  # the ClassLabel's names, in id order
    assert len(data.train) == 30 and len(data.splits["validation"]) == 12
    expected = negation_examples(52)
    assert [(e.text, e.label) for e in data.train[:4]] == \
        [(s, ["negative", "positive"][lab]) for s, lab in expected[:4]]
    assert data.splits["validation"][0].text == expected[40][0] and data.train[3].line == 4
    assert lmtui("check", str(path), cwd=tmp_path).returncode == 0


def test_the_hub_id_is_read_from_the_datasets_cache_offline(tmp_path, offline):
    source = write_glue_like(tmp_path / "src" / "glue", train=40, validation=12)
    cache_as_hub_dataset(source, "nyu-mll/glue", "sst2", offline)
    path = project(tmp_path, """
        [eval.tasks.sst2]
        preset = "sst2"
    """)
    proc = lmtui("check", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = load_task(specs_of(path)["sst2"])
    assert len(data.train) == 40 and len(data.splits["validation"]) == 12
    assert data.labels == ["negative", "positive"]
    assert {e.label for e in data.train} == {"negative", "positive"}


def test_the_conll2003_preset_reads_its_hub_dataset_from_the_cache_with_class_label_tags(tmp_path, offline):
    from datasets import ClassLabel, Dataset, Features, List, Value

    names = ["O", "B-CAP", "I-CAP", "B-KW", "I-KW"]
    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=names))})
    sentences = keyword_sentences(30)
    folder = tmp_path / "src" / "conll2003"
    folder.mkdir(parents=True)
    for split, part in (("train", sentences[:20]), ("validation", sentences[20:25]), ("test", sentences[25:])):
        Dataset.from_dict({"tokens": [w for w, _ in part], "ner_tags": [[names.index(t) for t in tags]
                                                                          for _, tags in part]},
                          features=features).to_parquet(str(folder / f"{split}.parquet"))
    cache_as_hub_dataset(folder, "lhoestq/conll2003", "default", offline)
    path = project(tmp_path, """
        [eval.tasks.ner]
        preset = "conll2003"
    """)
    assert lmtui("check", str(path), cwd=tmp_path).returncode == 0
    data = load_task(specs_of(path)["ner"])
    assert data.labels == names and set(data.splits) == {"validation", "test"}
    assert [(s.words, s.tags) for s in data.train] == sentences[:20]
    assert len(data.splits["test"]) == 5


def test_glue_test_split_labels_of_minus_one_are_refused_by_name(tmp_path, offline):
    source = write_glue_like(tmp_path / "src" / "glue", train=20, validation=6, test=4)
    cache_as_hub_dataset(source, "nyu-mll/glue", "sst2", offline)
    path = project(tmp_path, """
        [eval.tasks.sst2]
        preset = "sst2"
        test_split = "test"
    """)
    with pytest.raises(TaskDataError) as info:
        load_task(specs_of(path)["sst2"])
    err = info.value
    assert err.key == "eval.tasks.sst2.test_split" and err.file == "nyu-mll/glue (sst2) [test]" and err.line == 1
    assert "no label (-1" in err.message and "validation" in err.hint


def test_a_missing_split_or_column_of_a_cached_dataset_fails_at_check_time(tmp_path, offline):
    source = write_glue_like(tmp_path / "src" / "glue", train=20, validation=6)
    cache_as_hub_dataset(source, "nyu-mll/glue", "sst2", offline)
    path = project(tmp_path, """
        [eval.tasks.sst2]
        preset = "sst2"
        validation_split = "dev"
    """)
    proc = lmtui("check", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{path}:10: [eval.tasks.sst2.validation_split]" in proc.stderr
    assert "has no split 'dev' (splits: train, validation, test)" in proc.stderr
    path.write_text(path.read_text().replace('validation_split = "dev"', 'text_column = "sentense"'))
    proc = lmtui("check", str(path), cwd=tmp_path)
    assert proc.returncode == 2 and "[eval.tasks.sst2.text_column]" in proc.stderr
    assert "did you mean 'sentence'?" in proc.stderr


def test_a_dataset_neither_cached_nor_reachable_is_one_error_at_check_time(tmp_path, offline):
    path = project(tmp_path, """
        [eval.tasks.sst2]
        preset = "sst2"

        [eval.tasks.ner]
        preset = "conll2003"
    """)
    proc = lmtui("check", str(path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout
    first, *rest = proc.stderr.strip().splitlines()
    assert first.startswith(f"error: {path}:9: [eval.tasks.sst2.dataset] dataset nyu-mll/glue (sst2) is not in "
                            f"the datasets cache ({offline})")
    assert "offline mode is on" in first
    assert "python -c \"import datasets; datasets.load_dataset('nyu-mll/glue', 'sst2')\"" in proc.stderr
    assert len(rest) == 1 and rest[0].strip().startswith("fix:")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    # run refuses the same way before it writes anything
    proc = lmtui("run", str(path), cwd=tmp_path)
    assert proc.returncode == 2 and "[eval.tasks.sst2.dataset]" in proc.stderr
    assert not any(p.is_dir() for p in (tmp_path / "runs").glob("*"))


# --------------------------------------------------------------------------- tag schemes

def test_iob2_ids_of_a_dataset_and_iob1_files_give_the_same_entity_spans(tmp_path, offline):
    from datasets import ClassLabel, Dataset, Features, List, Value
    from seqeval.metrics.sequence_labeling import get_entities

    sentences = keyword_sentences(60)
    iob1 = [iob2_to_iob1(tags) for _, tags in sentences]
    assert any("B-" in " ".join(t) for t in iob1), "no adjacent entities of one type: IOB1 would equal IO"
    names = ["O", "B-CAP", "I-CAP", "B-KW", "I-KW"]
    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=names))})
    folder = tmp_path / "kw"
    folder.mkdir()
    conll = tmp_path / "conll"
    conll.mkdir()
    for split, rows, file in (("train", slice(0, 40), "eng.train"), ("validation", slice(40, 60), "eng.testa")):
        part = sentences[rows]
        Dataset.from_dict({"tokens": [w for w, _ in part], "ner_tags": [[names.index(t) for t in tags]
                                                                          for _, tags in part]},
                          features=features).to_parquet(str(folder / f"{split}.parquet"))
        (conll / file).write_text("-DOCSTART- -X- -X- O\n\n" + "\n\n".join(
            "\n".join(f"{w} X X {t}" for w, t in zip(words, tags)) for (words, _), tags in zip(part, iob1[rows])) + "\n")
    (folder / "README.md").write_text(CONLL_README)
    path = project(tmp_path, """
        [eval.tasks.hub]
        kind = "token_classification"
        dataset = "./kw"

        [eval.tasks.files]
        preset = "conll2003"
        data_dir = "conll"
        test_file = ""
    """)
    specs = specs_of(path)
    hub, files = load_task(specs["hub"]), load_task(specs["files"])
    assert hub.labels == names
    assert [s.words for s in hub.train] == [s.words for s in files.train]
    for a, b in zip(hub.train + hub.splits["validation"], files.train + files.splits["validation"]):
        assert a.tags == b.tags  # IOB1 converted to IOB2 equals the dataset's IOB2
        assert get_entities(a.tags) == get_entities(b.tags)
    assert [s.tags for s in hub.train] == [tags for _, tags in sentences[:40]]


# --------------------------------------------------------------------------- online (the fake Hub)

def test_online_a_reachable_dataset_passes_the_check_without_reading_its_rows(tmp_path, online):
    path = project(tmp_path, """
        [eval.tasks.sst2]
        preset = "sst2"
    """)
    proc = lmtui("check", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("GET", "/datasets/nyu-mll/glue/resolve/main/README.md") in online.requests
    assert not [r for r in online.requests if r[1].endswith(".parquet")]  # metadata only
    assert not (tmp_path / "hf-home" / "datasets" / "nyu-mll___glue").exists()


@pytest.mark.parametrize("table, key, words", [
    ('dataset = "nyu-mll/glu"', "eval.tasks.t.dataset", "dataset nyu-mll/glu does not exist on the Hub"),
    ('subset = "sst3"', "eval.tasks.t.subset", "has no subset 'sst3' (available: ['sst2'])"),
    ('validation_split = "dev"', "eval.tasks.t.validation_split", "has no split 'dev' (splits: train, validation, test)"),
])
def test_online_a_wrong_dataset_subset_or_split_is_named_at_check_time(tmp_path, online, table, key, words):
    path = project(tmp_path, f"""
        [eval.tasks.t]
        preset = "sst2"
        {table}
    """)
    proc = lmtui("check", str(path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert f"{path}:10: [{key}]" in proc.stderr and words in proc.stderr


def test_online_a_loading_script_dataset_is_refused_with_the_parquet_revision_as_fix(tmp_path, online):
    script = tmp_path / "script" / "conll2003"
    script.mkdir(parents=True)
    (script / "README.md").write_text("---\npretty_name: CoNLL-2003\n---\n")
    (script / "conll2003.py").write_text("import datasets  # a loading script, as the repository still holds\n")
    online.add_dataset("eriktks/conll2003", script)
    path = project(tmp_path, """
        [eval.tasks.ner]
        preset = "conll2003"
        dataset = "eriktks/conll2003"
    """)
    proc = lmtui("check", str(path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert f"{path}:10: [eval.tasks.ner.revision]" in proc.stderr
    assert "dataset eriktks/conll2003 is a loading script" in proc.stderr
    assert 'revision = "refs/convert/parquet"' in proc.stderr
