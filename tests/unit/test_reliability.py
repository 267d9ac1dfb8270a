"""Issue 24, in process: state files of the wrong shape (class 1), a lost queue state that must not
free a slot in use (2), full verification of remembered digests (3), a full disk while the token
cache is written (6), and messages that name the key the user wrote (8).

Every file is generated here, from text every Python has (the Language Reference of
``pydoc_data.topics``)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydoc_data.topics import topics
from support.cli import write_project

from lmtui.errors import CorpusError, ProjectError
from lmtui.procs import process_start_time

# Contents a crash, a full disk or another program can leave in a JSON state file.
BROKEN = {
    "empty": "",
    "cut short": '{"version": 1, "entries": [{"run": "/r',
    "a list": "[]",
    "a string": '"queue"',
    "NUL bytes": "\x00" * 64,
}


def reference_text(n: int = 40, start: int = 0) -> str:
    """Paragraphs of the Python Language Reference, one document per line."""
    lines = []
    for name in sorted(topics)[start:start + n]:
        lines += [" ".join(p.split()) for p in topics[name].split("\n\n") if len(p.split()) > 5]
    return "\n".join(lines) + "\n"


# -- class 1: the one validating reader ---------------------------------------------------------

@pytest.mark.parametrize("content", BROKEN.values(), ids=BROKEN.keys())
def test_the_reader_names_the_file_for_every_broken_content(tmp_path, content):
    from lmtui.state import StateError, object_check, read_json_state

    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(StateError) as err:
        read_json_state(path, object_check({"entries": list}), what="the test state", fix="remove it")
    assert err.value.file == str(path) and err.value.hint == "remove it" and err.value.exit_code == 2
    assert read_json_state(tmp_path / "missing.json", what="x", fix="y") is None


def test_the_reader_refuses_a_wrong_typed_field_and_a_bool_for_an_int(tmp_path):
    from lmtui.state import StateError, object_check, read_json_state

    path = tmp_path / "owner.json"
    check = object_check({"pid": int})
    for value in ({"pid": "123"}, {"pid": True}, {}):
        path.write_text(json.dumps(value))
        with pytest.raises(StateError, match="pid"):
            read_json_state(path, check, what="owner", fix="remove it")
    path.write_text('{"pid": 123}')
    assert read_json_state(path, check, what="owner", fix="remove it") == {"pid": 123}


@pytest.mark.parametrize("content", [*BROKEN.values(), '{"version": 1, "entries": [{"run": "/r", "run_id": "r", '
                                     '"kind": "slot", "count": 1, "pid": "123"}]}',
                                     '{"version": 1, "entries": {"a": 1}}'],
                         ids=[*BROKEN.keys(), "a string pid", "entries an object"])
def test_a_broken_queue_state_is_rebuilt_with_a_warning(tmp_path, content, capsys):
    from lmtui.runs.queue import Need, Queue

    q = Queue(tmp_path)
    q.root.mkdir(exist_ok=True)
    q.file.write_text(content)
    assert q.entries() == []
    assert "queue's state file" in capsys.readouterr().err
    entry = q.enqueue(tmp_path / "run-a", Need("slot", 1), os.getpid(), process_start_time(os.getpid()))
    assert q.poll(tmp_path / "run-a").assigned == [0] and entry.run_id == "run-a"
    data = json.loads(q.file.read_text())  # rewritten whole and valid
    assert [e["run_id"] for e in data["entries"]] == ["run-a"]


@pytest.mark.parametrize("content", [*BROKEN.values(), '{"/x": "abc"}', '{"/x": {"stamp": 1, "digest": null}}'],
                         ids=[*BROKEN.keys(), "an entry a string", "an entry of the wrong types"])
def test_a_broken_digest_cache_is_rebuilt_with_a_warning(tmp_path, content, capsys):
    from lmtui.data.fingerprint import file_digest, file_digests

    corpus = tmp_path / "reference.txt"
    corpus.write_text(reference_text(5))
    (tmp_path / "digests.json").write_text(content.replace("/x", str(corpus)))
    assert file_digests([corpus], tmp_path) == [file_digest(corpus)]
    memo = json.loads((tmp_path / "digests.json").read_text())
    assert memo[str(corpus)]["digest"] == file_digest(corpus)
    if not content.startswith('{"/x"'):
        assert "digests.json" in capsys.readouterr().err


@pytest.mark.parametrize("content", BROKEN.values(), ids=BROKEN.keys())
def test_broken_cache_records_mean_a_rebuild_not_a_traceback(tmp_path, content):
    from lmtui.data.shards import ShardBuild, owner_gone
    from lmtui.data.token_cache import verify_cache

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "meta.json").write_text(content)
    assert verify_cache(cache, tmp_path) is None
    (cache / "meta.json").write_text('{"version": 2, "dtype": "uint16", "files": [], "train_tokens": 1, '
                                     '"validation_tokens": 1}')
    assert verify_cache(cache, tmp_path) is None
    build = tmp_path / ".build-x"
    build.mkdir()
    (build / "shards.json").write_text(content)
    started = ShardBuild(build, {"v": 1})
    assert started.shards == []
    started.close(remove=False)
    (build / "shards.json").write_text('{"settings": {"v": 1}, "shards": [{"number": "0"}]}')
    again = ShardBuild(build, {"v": 1})
    assert again.shards == []
    again.close(remove=True)
    tmp = tmp_path / ".tmp-x"
    tmp.mkdir()
    (tmp / "owner.json").write_text('{"pid": "abc", "start_time": "yesterday"}')
    assert owner_gone(tmp) is False  # an unknown writer is left alone


def test_a_cut_short_cached_tokenizer_is_trained_again(tmp_path):
    from lmtui.data.tokenizer import cached_tokenizer_ok, train_tokenizer

    folder = tmp_path / "tok"
    fast = train_tokenizer(iter(reference_text(30).splitlines()), "wordpiece", vocab_size=300, min_frequency=1,
                           lowercase=True, model_max_length=64)
    fast.save_pretrained(folder)
    said = []
    assert cached_tokenizer_ok(folder, said.append)
    text = (folder / "tokenizer.json").read_text()
    (folder / "tokenizer.json").write_text(text[: len(text) // 2])
    assert not cached_tokenizer_ok(folder, said.append)
    assert "tokenizer.json" in said[-1] and "training the tokenizer again" in said[-1]
    (folder / "tokenizer.json").write_text("[]")
    assert not cached_tokenizer_ok(folder, said.append)


# -- class 2: a lost queue state frees no slot --------------------------------------------------

@pytest.mark.parametrize("content", ["", "[]", '{"version": 1, "entries": []}'], ids=["emptied", "a list", "no entries"])
def test_a_lost_queue_state_keeps_the_running_runs_slot(tmp_path, content):
    from lmtui.runs.queue import Need, Queue

    waiting = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        q = Queue(tmp_path)
        running = q.enqueue(tmp_path / "run-a", Need("slot", 1), os.getpid(), process_start_time(os.getpid()))
        assert q.poll(running.run).assigned == [0]
        time.sleep(0.01)
        q.enqueue(tmp_path / "run-b", Need("slot", 1), waiting.pid, process_start_time(waiting.pid))
        assert q.poll(tmp_path / "run-b").assigned is None
        q.file.write_text(content)  # the state file is lost while run-a trains
        after = q.poll(tmp_path / "run-b")
        assert after is not None and after.assigned is None, "a lost state file gave run-a's slot to run-b"
        assert "slot 0 (run-a)" in after.waiting_for
        assert [e.run_id for e in q.entries()] == ["run-a", "run-b"]
        assert q.poll(tmp_path / "run-a").assigned == [0]
        q.release(tmp_path / "run-a")  # run-a ends: its record goes and run-b is served
        assert q.poll(tmp_path / "run-b").assigned == [0]
    finally:
        waiting.kill()
        waiting.wait()


# -- class 3: the fast path and full verification -----------------------------------------------

def test_verify_rehashes_a_file_whose_stamp_did_not_change(tmp_path):
    from lmtui.data.fingerprint import file_digest, file_digests

    corpus = tmp_path / "reference.txt"
    corpus.write_text(reference_text(10))
    old = file_digests([corpus], tmp_path)[0]
    st = corpus.stat()
    data = bytearray(corpus.read_bytes())
    data[:5] = b"XXXXX"
    with open(corpus, "r+b") as fh:  # same inode, same size
        fh.write(bytes(data))
    os.utime(corpus, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the mtime set back
    assert file_digests([corpus], tmp_path)[0] == old  # the fast path trusts the stamp
    assert file_digests([corpus], tmp_path, verify=True)[0] == file_digest(corpus) != old
    assert file_digests([corpus], tmp_path)[0] == file_digest(corpus)  # the memo now holds the truth


def test_restarting_a_crashed_run_asks_its_driver_for_full_verification(tmp_path, monkeypatch):
    from lmtui.runs import launcher
    from lmtui.runs.rundir import RunDir

    run = RunDir(tmp_path / "run-1")
    run.path.mkdir()
    (run.path / "project.toml").write_text("")
    run.update_state(status="running", pid=2 ** 22 + 4321, pid_start_time=1.0)  # its driver is gone
    assert run.status() == "crashed"
    started = []
    monkeypatch.setattr(launcher, "start_driver", lambda r: started.append(r.read_state()) or 1)
    launcher.resume(run)
    assert started[0]["verify"] is True
    run.update_state(status="stopped", verify=None)
    launcher.resume(run)
    assert not started[1].get("verify")  # a stopped run did not crash


# -- class 6: a full disk while preparing -------------------------------------------------------

def _tiny_project(tmp_path: Path):
    from lmtui.project.load import load_project

    (tmp_path / "train.txt").write_text(reference_text(60))
    (tmp_path / "valid.txt").write_text(reference_text(10, start=60))
    path = write_project(tmp_path, "full", """
        [project]
        output_dir = "runs"
        [corpus]
        train_files = ["train.txt"]
        validation_files = ["valid.txt"]
        [tokenizer]
        kind = "wordpiece"
        vocab_size = 400
        [training]
        max_seq_length = 64
    """)
    return load_project(path)


@pytest.mark.parametrize("where", ["publish", "shards"])
def test_a_full_disk_is_one_message_with_the_space_needed_and_free(tmp_path, monkeypatch, where):
    from lmtui.data import token_cache
    from lmtui.data.tokenizer import train_tokenizer

    project = _tiny_project(tmp_path)
    tok = tmp_path / "tok"
    train_tokenizer(iter(reference_text(60).splitlines()), "wordpiece", vocab_size=400, min_frequency=1,
                    lowercase=True, model_max_length=64).save_pretrained(tok)
    folder = tmp_path / "cache" / "datasets" / "fp"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "publish":
        monkeypatch.setattr(token_cache.shutil, "copyfileobj", full)
    else:
        monkeypatch.setattr(token_cache._Shard, "add", full)
    with pytest.raises(CorpusError) as err:
        token_cache.build_cache(project, tok, folder, log=lambda m: None, shard_bytes=4096)
    message = err.value.format()
    assert "the disk is full" in message and "free" in message and str(folder.parent) in message
    if where == "publish":
        assert "needs about" in message
    assert err.value.__cause__ is None and err.value.__context__ is None or err.value.__suppress_context__
    assert (folder.parent / ".build-fp").is_dir() and not folder.exists()  # the finished shards are kept
    monkeypatch.undo()
    meta = token_cache.build_cache(project, tok, folder, log=lambda m: None, shard_bytes=4096)
    assert meta["train_tokens"] > 0 and token_cache.verify_cache(folder) == meta


# -- class 8: the key the user wrote ------------------------------------------------------------

def _distill_project(tmp_path: Path, layers: str) -> Path:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "config.json").write_text(json.dumps({
        "model_type": "bert", "architectures": ["BertForMaskedLM"], "num_hidden_layers": 4, "hidden_size": 64,
        "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 64, "max_position_embeddings": 64}))
    Tokenizer(WordLevel({f"w{i}": i for i in range(40)}, unk_token="w0")).save(str(teacher / "tokenizer.json"))
    (tmp_path / "train.txt").write_text(reference_text(5))
    return write_project(tmp_path, "student", f"""
        [corpus]
        train_files = ["train.txt"]
        [model]
        architecture = "bert"
        [training]
        max_seq_length = 32
        [distill]
        teacher = "teacher"
        layers = {layers}
    """)


@pytest.mark.parametrize("layers, fragment", [("[0, 1, 1, 2, 3]", "twice"), ("[0, 0, 0, 0, 0, 0]", "twice"),
                                               ("[0, 1, 2, 3, 3]", "twice")])
def test_a_repeated_layers_list_names_distill_layers(tmp_path, layers, fragment):
    from lmtui.checks import require
    from lmtui.project.load import load_project

    with pytest.raises(ProjectError) as err:
        require(load_project(_distill_project(tmp_path, layers), check=False), deep=False)
    text = (tmp_path / "student.toml").read_text().splitlines()
    assert err.value.key == "distill.layers" and fragment in err.value.message, err.value.format()
    assert text[err.value.line - 1].strip().startswith("layers")


@pytest.mark.parametrize("key, value, fragment", [
    ("csv_delimiter", r'"\n"', "line break"), ("csv_delimiter", r'"\r"', "line break"),
    ("csv_delimiter", '";;"', "not one character"), ("csv_quotechar", r'"\n"', "line break"),
    ("csv_quotechar", '""', "not one character"), ("csv_quotechar", '";"', "also the csv_delimiter"),
])
def test_a_bad_csv_dialect_names_its_own_key(tmp_path, key, value, fragment):
    from lmtui.project.load import load_project

    rows = ["id;text"] + [f'{i};"{line}"' for i, line in enumerate(reference_text(8).splitlines()) if '"' not in line]
    (tmp_path / "reference.csv").write_text("\n".join(rows) + "\n")
    other = 'csv_delimiter = ";"' if key == "csv_quotechar" else ""
    path = write_project(tmp_path, "dialect", f"""
        [corpus]
        train_files = ["reference.csv"]
        {other}
        {key} = {value}
    """)
    with pytest.raises(ProjectError) as err:
        load_project(path)
    expected = "corpus.csv_quotechar" if fragment == "also the csv_delimiter" else f"corpus.{key}"
    assert err.value.key == expected and fragment in err.value.message, err.value.format()
    assert err.value.line is not None


@pytest.mark.parametrize("content", [*BROKEN.values(), '{"files": {"model.safetensors": 12}}'],
                         ids=[*BROKEN.keys(), "a file record a number"])
def test_a_checkpoint_manifest_of_the_wrong_shape_is_a_problem_not_a_traceback(tmp_path, content):
    from lmtui.train.checkpoint import checkpoint_problem

    folder = tmp_path / "step-10"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(reference_text(2).encode())
    (folder / "manifest.json").write_text(content)
    problem = checkpoint_problem(folder)
    assert problem and "manifest.json" in problem


def test_a_queue_that_fails_ends_the_run_failed_not_queued(tmp_path, monkeypatch):
    import signal

    from lmtui import driver
    from lmtui.runs.rundir import RunDir

    run = RunDir(tmp_path / "run-q")
    run.path.mkdir()
    (run.path / "project.toml").write_text("[corpus]\ntrain_files = [\"train.txt\"]\n")
    run.update_state(status="queued")

    def broken(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "queue-host.json"))

    monkeypatch.setattr(driver.queue, "wait_turn", broken)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        assert driver._drive(run) == 1
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    state = run.read_state()
    assert state["status"] == "failed" and "No space left on device" in state["error"]


def test_a_full_disk_while_saving_the_tokenizer_is_one_message(tmp_path, monkeypatch):
    from transformers import PreTrainedTokenizerFast

    from lmtui.data.tokenizer import prepare_tokenizer

    project = _tiny_project(tmp_path)

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PreTrainedTokenizerFast, "save_pretrained", full)
    with pytest.raises(CorpusError) as err:
        prepare_tokenizer(project, log=lambda m: None)
    message = err.value.format()
    assert "the disk is full while saving the trained tokenizer to" in message and "is free" in message
    assert not list((tmp_path / "runs" / "cache" / "tokenizers").glob(".tmp-*"))  # nothing half-written
