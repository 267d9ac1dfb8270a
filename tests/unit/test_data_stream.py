"""The streaming data pipeline (issue 10): streamed caches equal in-memory tokenization, resumed
builds equal one-go builds, the validation split is a stable seeded sample, mixtures draw their
weights, Hugging Face streaming sources read local files, bad mixtures fail at check time."""

from __future__ import annotations

import contextlib
import gzip
import json

import numpy as np
import pytest
from support.cli import DATA, write_project

from lmtui.data.batches import MaskingConfig, Sequences, TrainStream
from lmtui.checks import require
from lmtui.data.corpus import CorpusStats, read_documents
from lmtui.data.stream import corpus_documents, validation_documents
from lmtui.data.stream import CorpusStream, SeenHashes
from lmtui.data.token_cache import TokenCache, _write_split, build_cache, verify_cache
from lmtui.data.tokenizer import train_tokenizer, training_documents
from lmtui.errors import CorpusError, ProjectError
from lmtui.project.load import load_project

WIKI = DATA / "prose" / "valid.txt"
SHAKESPEARE = DATA / "reference" / "topics.txt"
COLA = DATA / "glue" / "CoLA" / "dev.tsv"


def _project(tmp_path, corpus: str, name: str = "p", extra: str = ""):
    path = write_project(tmp_path, name, f"""
        [corpus]
        {corpus}
        [tokenizer]
        vocab_size = 600
        {extra}
        [model]
        size = "tiny"
    """)
    return load_project(path)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok")
    docs = list(read_documents([WIKI]))[:1500]
    train_tokenizer(docs, "byte_level_bpe", vocab_size=600).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def wiki_cache(tmp_path_factory, tokenizer_dir):
    """(project, folder, meta) of prose/valid.txt built in one go, in shards of 30 kB."""
    folder = tmp_path_factory.mktemp("wiki")
    project = _project(folder, f'train_files = ["{WIKI}"]')
    meta = build_cache(project, tokenizer_dir, folder / "one", log=lambda m: None, shard_bytes=30_000)
    return project, folder / "one", meta


def _digests(folder):
    return {name: info["digest"] for name, info in json.loads((folder / "meta.json").read_text())["files"].items()}


def test_streamed_sharded_cache_equals_in_memory_tokenization(tmp_path, tokenizer_dir, wiki_cache):
    from transformers import AutoTokenizer

    project, cache, meta = wiki_cache
    assert meta["shards"] >= 5 and verify_cache(cache) == meta
    train, valid = corpus_documents(project)
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    for split, docs in (("train", train), ("validation", valid)):
        _write_split(docs, tok, tmp_path / f"{split}.bin", tmp_path / f"{split}.idx", np.uint16)
        for ext in ("bin", "idx"):
            assert (tmp_path / f"{split}.{ext}").read_bytes() == (cache / f"{split}.{ext}").read_bytes()
    assert meta["train_documents"] == len(train) and meta["validation_documents"] == len(valid)


def test_an_interrupted_build_resumes_at_its_first_unfinished_shard_and_gives_the_same_bytes(
        tmp_path, tokenizer_dir, wiki_cache):
    project, one, one_go = wiki_cache
    build_dir = tmp_path / ".build-two"
    with pytest.raises(KeyboardInterrupt), _interrupt_after_shards(3):
        build_cache(project, tokenizer_dir, tmp_path / "two", log=lambda m: None, shard_bytes=30_000)
    assert not (tmp_path / "two").exists() and build_dir.is_dir()  # nothing published, the shards kept
    logs = []
    resumed = build_cache(project, tokenizer_dir, tmp_path / "two", log=logs.append, shard_bytes=30_000)
    assert any("resuming the token cache after 3 finished shard(s)" in m for m in logs) and one_go["shards"] > 3
    assert _digests(tmp_path / "two") == _digests(one)
    assert {k: v for k, v in resumed.items() if k != "seconds"} == {k: v for k, v in one_go.items() if k != "seconds"}
    assert not build_dir.exists()


def test_a_damaged_shard_is_rebuilt_from_there_on(tmp_path, tokenizer_dir, wiki_cache):
    project, one, _ = wiki_cache
    build_dir = tmp_path / ".build-two"
    with pytest.raises(KeyboardInterrupt), _interrupt_after_shards(2):
        build_cache(project, tokenizer_dir, tmp_path / "two", log=lambda m: None, shard_bytes=30_000)
    (build_dir / "00001-train.bin").write_bytes(b"\0" * 10)
    logs = []
    build_cache(project, tokenizer_dir, tmp_path / "two", log=logs.append, shard_bytes=30_000)
    assert any("after 1 finished shard(s)" in m for m in logs)
    assert _digests(tmp_path / "two") == _digests(one)


@contextlib.contextmanager
def _interrupt_after_shards(n: int):
    """Raise KeyboardInterrupt (Ctrl-C) right after the ``n``-th shard of a build is recorded."""
    from lmtui.data.shards import ShardBuild

    record = ShardBuild.finish_shard

    def finish_then_interrupt(self, *args, **kwargs):
        record(self, *args, **kwargs)
        if len(self.shards) >= n:
            raise KeyboardInterrupt

    ShardBuild.finish_shard = finish_then_interrupt
    try:
        yield
    finally:
        ShardBuild.finish_shard = record


def test_validation_split_is_a_stable_seeded_sample_of_each_file(tmp_path):
    one = _project(tmp_path, f'train_files = ["{WIKI}"]', "one")
    train, valid = corpus_documents(one)
    assert (train, valid) == corpus_documents(one) and validation_documents(one) == valid
    docs = list(read_documents([WIKI]))
    assert 0.03 * len(docs) < len(valid) < 0.07 * len(docs)
    positions = [i for i, d in enumerate(docs) if d in set(valid)]
    assert positions[0] < len(docs) * 0.2 and positions[-1] > len(docs) * 0.8  # spread, not the first/last N%
    both = _project(tmp_path, f'train_files = ["{SHAKESPEARE}", "{WIKI}"]', "both")
    _, valid_both = corpus_documents(both)
    assert [d for d in valid_both if d in set(docs)] == valid  # adding a file leaves this file's split alone
    other_seed = _project(tmp_path, f'train_files = ["{WIKI}"]\nsplit_seed = 7', "seed")
    assert corpus_documents(other_seed)[1] != valid


def test_a_tiny_corpus_still_gets_one_validation_document(tmp_path):
    (tmp_path / "tiny.txt").write_text("first document here\nsecond document here\nthird one\n")
    project = _project(tmp_path, 'train_files = ["tiny.txt"]\nvalidation_split = 0.01')
    train, valid = corpus_documents(project)
    assert len(valid) == 1 and len(train) == 2


def test_tokenizer_sample_is_spread_over_the_corpus_and_capped(tmp_path):
    project = _project(tmp_path, f'train_files = ["{WIKI}"]', extra="max_training_documents = 100")
    sample = list(training_documents(project, CorpusStats()))
    train, _ = corpus_documents(project)
    assert len(sample) == 100
    where = [train.index(d) for d in sample]
    assert where[0] < len(train) * 0.05 and where[-1] > len(train) * 0.9
    assert max(np.diff(where)) < len(train) * 0.1
    capped = _project(tmp_path, f'train_files = ["{WIKI}"]', "bytes", extra="max_training_bytes = 50000")
    text = sum(len(d.encode()) for d in training_documents(capped, CorpusStats()))
    assert 45_000 < text <= 50_000


def _mixture(tmp_path, weights=(0.5, 0.3, 0.2), extra=""):
    (tmp_path / "cola.txt").write_text("\n".join(line.split("\t")[3] for line in COLA.read_text().splitlines()))
    files = {"wiki": WIKI, "shakespeare": SHAKESPEARE, "cola": tmp_path / "cola.txt"}
    tables = "\n".join(f'[corpus.sources.{name}]\nfiles = ["{path}"]\nweight = {w}\n'
                       for (name, path), w in zip(files.items(), weights))
    path = write_project(tmp_path, "mix", f"""
        [tokenizer]
        vocab_size = 600
        [model]
        size = "tiny"
        [training]
        max_seq_length = 64
        {extra}
    """)
    path.write_text(path.read_text() + "\n" + tables)
    return load_project(path)


def test_a_three_source_mixture_draws_its_weights_of_tokens_and_the_same_order_after_resume(tmp_path, tokenizer_dir):
    from lmtui.data.mixture import token_shares, write_view
    from lmtui.data.sources import project_sources

    project = _mixture(tmp_path)
    meta = build_cache(project, tokenizer_dir, tmp_path / "cache", log=lambda m: None)
    names = [s["name"] for s in meta["sources"]]
    assert names == ["wiki", "shakespeare", "cola"]
    tokens = [s["train"]["tokens"][1] - s["train"]["tokens"][0] for s in meta["sources"]]
    assert all(tokens) and meta["train_tokens"] == sum(tokens)
    shares = token_shares(project_sources(project), tokens)
    write_view(tmp_path / "view", tmp_path / "cache", meta, shares)
    cache = TokenCache(tmp_path / "view", "train")
    masking = MaskingConfig(mask_token_id=4, pad_token_id=1, special_ids=(0, 1, 2), vocab_size=600)
    seqs = Sequences(cache, 64, False, 2)
    stream = TrainStream(seqs, masking, seed=3, batch_size=32, micro_batch_size=32, rank=0, world_size=1)
    epoch = len(seqs)
    drawn = np.bincount([stream.mixture.source_of(q) for q in range(epoch)], minlength=3) / epoch
    assert np.allclose(drawn, [0.5, 0.3, 0.2], atol=0.01)
    picked = [stream.sequence(q) for q in range(epoch)]
    lo_hi = stream.mixture.ranges
    per_source = [sum(lo <= i < hi for i in picked) / epoch for lo, hi in lo_hi]
    assert np.allclose(per_source, [0.5, 0.3, 0.2], atol=0.01)
    fresh = TrainStream(seqs, masking, seed=3, batch_size=32, micro_batch_size=32, rank=0, world_size=1)
    assert [fresh.sequence(q) for q in range(epoch - 500, epoch)] == picked[-500:]  # resume: same order
    later = fresh[7]["chunks"][0]["input_ids"]
    assert np.array_equal(later.numpy(), stream[7]["chunks"][0]["input_ids"].numpy())
    other = TrainStream(seqs, masking, seed=4, batch_size=32, micro_batch_size=32, rank=0, world_size=1)
    assert [other.sequence(q) for q in range(100)] != picked[:100]


def test_hf_streaming_source_reads_local_files_like_the_file_reader(tmp_path):
    rows = list(read_documents([WIKI]))[:300]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"body": r, "n": i}) + "\n" for i, r in enumerate(rows)))
    project = _project(tmp_path, f'hf_dataset = "json"\nhf_data_files = ["{data}"]\ntext_column = "body"')
    train, valid = corpus_documents(project)
    assert sorted(train + valid) == sorted(rows) and valid
    stream = CorpusStream(project)
    assert stream.total_bytes == data.stat().st_size


def test_an_unreachable_hub_dataset_is_a_clear_error(tmp_path, monkeypatch):
    import datasets
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    project = _project(tmp_path, 'hf_dataset = "nobody-here/no-such-dataset"')
    with pytest.raises(CorpusError) as err:
        corpus_documents(project)
    assert "cannot load Hugging Face dataset 'nobody-here/no-such-dataset'" in err.value.message
    assert err.value.key == "corpus.hf_dataset" and "internet" in err.value.hint


def test_compressed_files_read_like_plain_ones_and_dedup_counts_what_it_drops(tmp_path):
    import zstandard

    lines = WIKI.read_bytes()
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(lines))
    (tmp_path / "a.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    plain = list(read_documents([WIKI]))
    assert list(read_documents([tmp_path / "a.txt.gz"])) == plain
    assert list(read_documents([tmp_path / "a.txt.zst"])) == plain
    project = _project(tmp_path, f'train_files = ["{WIKI}", "a.txt.gz"]\ndeduplicate = true')
    stream = CorpusStream(project)
    kept = [d.text for d in stream.documents()]
    assert stream.duplicates == len(plain) + (len(plain) - len(set(plain)))
    assert len(kept) == len(set(plain)) == len(set(kept))


def test_seen_hashes_is_a_set():
    seen = SeenHashes(buffer=8)
    values = [int(v) for v in np.random.default_rng(0).integers(0, 2 ** 63, size=200)]
    assert all(seen.add(v) for v in values)
    assert not any(seen.add(v) for v in values[::7])
    assert len(seen.runs) >= 2


def test_an_unreadable_file_in_the_middle_names_it_and_publishes_nothing(tmp_path, tokenizer_dir):
    (tmp_path / "b.txt.gz").write_bytes(b"this is not gzip data at all\n" * 10)
    project = _project(tmp_path, f'train_files = ["{WIKI}", "b.txt.gz", "{SHAKESPEARE}"]')
    with pytest.raises(CorpusError) as err:
        build_cache(project, tokenizer_dir, tmp_path / "cache", log=lambda m: None, shard_bytes=100_000)
    assert "b.txt.gz" in err.value.file and not (tmp_path / "cache").exists()
    assert not (tmp_path / ".build-cache").exists()


@pytest.mark.parametrize("tables, key, fragment", [
    ('[corpus.sources.a]\nfiles = ["{WIKI}"]\nweight = 0\n[corpus.sources.b]\nfiles = ["{WIKI}"]\nweight = 1',
     "corpus.sources.a.weight", "weight 0 of source 'a' is not positive"),
    ('[corpus.sources.a]\nfiles = ["{WIKI}"]\nweight = -1', "corpus.sources.a.weight", "not positive"),
    ('[corpus.sources.a]\nweight = 1', "corpus.sources.a", "source 'a' has no documents"),
    ('[corpus.sources.a]\nfiles = ["{WIKI}"]\nepochs = 0', "corpus.sources.a.epochs", "not positive"),
    ('[corpus.sources.a]\nfiles = ["{WIKI}"]\nwieght = 1', "corpus.sources.a.wieght", "unknown key 'wieght'"),
    ('[corpus.sources.a]\nfiles = ["{WIKI}"]\nweight = 1\n[corpus.sources.b]\nfiles = ["{WIKI}"]\nepochs = 2',
     "corpus.sources.b.epochs", "gives epochs while"),
    ('[corpus.sources.a]\nfiles = ["missing/*.txt"]', "corpus.sources.a.files", "not found"),
])
def test_bad_mixtures_fail_at_check_time_with_key_and_line(tmp_path, tables, key, fragment):
    path = write_project(tmp_path, "bad", '[model]\nsize = "tiny"\n[tokenizer]\nvocab_size = 600\n')
    path.write_text(path.read_text() + tables.replace("{WIKI}", str(WIKI)) + "\n")
    with pytest.raises((ProjectError, CorpusError)) as err:
        require(load_project(path, check=False), deep=False)  # the file's rules, then its files (lmtui.checks)
    assert err.value.key == key and fragment in err.value.message
    line = path.read_text().splitlines()[err.value.line - 1]
    assert key.rsplit(".", 1)[-1] in line


def test_a_mixture_beside_train_files_is_refused(tmp_path):
    path = write_project(tmp_path, "both", f"""
        [corpus]
        train_files = ["{WIKI}"]
        [corpus.sources.a]
        files = ["{WIKI}"]
    """)
    with pytest.raises(ProjectError) as err:
        load_project(path)
    assert err.value.key == "corpus.train_files" and "[corpus.sources]" in err.value.message


def test_a_source_without_text_fails_naming_it(tmp_path):
    (tmp_path / "blank.txt").write_text("\n\n   \n")
    project = _mixture(tmp_path)
    project.corpus.sources["cola"]["files"] = [str(tmp_path / "blank.txt")]
    with pytest.raises(CorpusError) as err:
        corpus_documents(project)
    assert err.value.key == "corpus.sources.cola" and "source 'cola' has no documents" in err.value.message
