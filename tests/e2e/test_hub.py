"""Publishing to the Hugging Face Hub: `lmtui push`, the dry-run folder, the model card, the
publish stage and the errors, against a local fake Hub (tests/support/fake_hub.py); nothing reaches
the internet."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import REPO
from support.fake_hub import READ_TOKEN, TEST_TOKEN, fake_hub  # noqa: F401  (fixture)
from support.hub_run import copy_run, tiny_run_template  # noqa: F401  (fixture)

from lmtui.runs.rundir import RunDir

MODEL_FILES = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}


def lmtui(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmtui", *args], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})), cwd=cwd or REPO)


def card_data(text: str) -> dict:
    from huggingface_hub import ModelCard

    return ModelCard(text).data.to_dict()


def assert_token_nowhere(token: str, *places: Path, texts: tuple[str, ...] = ()) -> None:
    """The token string is in no file under ``places`` and in none of ``texts``."""
    needle = token.encode()
    for place in places:
        for path in [place] if place.is_file() else place.rglob("*"):
            if path.is_file():
                assert needle not in path.read_bytes(), f"the token leaked into {path}"
    for text in texts:
        assert token not in text


@pytest.fixture
def run(tiny_run_template, tmp_path) -> RunDir:  # noqa: F811
    return copy_run(tiny_run_template, tmp_path / "proj")


def test_dry_run_writes_the_upload_folder_offline_and_it_loads(run, tmp_path):
    out = tmp_path / "preview"
    proc = lmtui("push", str(run.path), "--dry-run", "--out", str(out), "--repo-id", "alice/tiny-wiki",
                 env={"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing was uploaded" in proc.stdout
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert names == MODEL_FILES | {"README.md", "loss_curve.png"}
    assert (out / "model.safetensors").read_bytes() == (run.model_dir / "model.safetensors").read_bytes()
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

    model = AutoModelForMaskedLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert type(model).__name__ == "RobertaForMaskedLM"
    assert tokenizer.mask_token == "<mask>"
    predictions = pipeline("fill-mask", model=model, tokenizer=tokenizer)("The game was <mask> .")
    assert len(predictions) == 5

    card = (out / "README.md").read_text()
    meta = card_data(card)
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "fill-mask"
    assert meta["license"] == "apache-2.0" and meta["language"] == ["en"]
    results = meta["model-index"][0]["results"]
    values = {m["type"]: m["value"] for r in results for m in r["metrics"]}
    assert values["perplexity"] == pytest.approx(2.718281828 ** (6.9 - 30 * 0.04), rel=1e-3)
    # the story of the run
    for needle in ("RobertaForMaskedLM", "byte-level BPE", "`train.txt`", "`valid.txt`", "301,234", "270,111",
                   "1.2 MB", "learning_rate", "mlm_probability", "cpu x 1", "training time", "loss_curve.png",
                   'pipeline("fill-mask", model="alice/tiny-wiki")', "<mask>"):
        assert needle in card, needle
    assert str(run.path.parent) not in card  # no absolute paths of this machine


def test_push_uploads_model_card_and_curve_and_records_it(run, fake_hub):  # noqa: F811
    proc = lmtui("push", str(run.path), "--repo-id", "alice/tiny-wiki")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pushed 6 files" in proc.stdout and "alice (token from HF_TOKEN: hf_…1234)" in proc.stdout

    repo = fake_hub.repos["alice/tiny-wiki"]
    assert repo.private is True  # private by default
    files = fake_hub.files("alice/tiny-wiki")
    assert set(files) == MODEL_FILES | {"README.md", "loss_curve.png", ".gitattributes"}
    for name in MODEL_FILES:
        assert files[name] == (run.model_dir / name).read_bytes(), name
    assert "model.safetensors" in repo.branches["main"].lfs  # large binary files go through LFS
    meta = card_data(files["README.md"].decode())
    assert meta["pipeline_tag"] == "fill-mask" and meta["model-index"][0]["name"] == "tiny-wiki"
    assert fake_hub.validated_yaml and fake_hub.validated_yaml[-1] == files["README.md"].decode()

    state = json.loads(run.run_json.read_text())
    push = state["push"]
    assert push["repo_id"] == "alice/tiny-wiki" and push["commit"] == repo.branches["main"].commit
    assert push["private"] is True and push["revision"] == "main" and push["changed"] is True
    assert push["time"] > 0
    event = run.last_event("push")
    assert event["status"] == "done" and event["commit"] == push["commit"]
    assert_token_nowhere(TEST_TOKEN, run.path, texts=(proc.stdout, proc.stderr))


def test_second_push_of_the_same_run_changes_nothing(run, fake_hub):  # noqa: F811
    assert lmtui("push", str(run.path), "--repo-id", "alice/tiny-wiki").returncode == 0
    commits = fake_hub.commits("alice/tiny-wiki")
    proc = lmtui("push", str(run.path), "--repo-id", "alice/tiny-wiki")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "already up to date" in proc.stdout
    assert fake_hub.commits("alice/tiny-wiki") == commits  # no new commit
    assert json.loads(run.run_json.read_text())["push"]["changed"] is False


def test_project_hub_section_public_branch_checkpoints_and_events(tiny_run_template, tmp_path, fake_hub):  # noqa: F811
    run = copy_run(tiny_run_template, tmp_path / "proj", hub='[hub]\nrepo_id = "acme/wiki-roberta"\n'
                   'private = false\nlicense = "mit"\nlanguage = ["en", "fr"]\ndatasets = ["wikitext"]\n'
                   'include_checkpoints = true\ninclude_events = true\n')
    proc = lmtui("push", run.run_id, "--dir", str(run.path.parent), "--revision", "exp-1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repo = fake_hub.repos["acme/wiki-roberta"]
    assert repo.private is False
    assert set(fake_hub.files("acme/wiki-roberta")) == {".gitattributes"}  # main untouched
    files = fake_hub.files("acme/wiki-roberta", "exp-1")
    assert "checkpoints/step-30/model/model.safetensors" in files
    assert "checkpoints/step-30/trainer_state.json" in files
    events = [json.loads(line) for line in files["lmtui/events.jsonl"].decode().splitlines()]
    assert {"train", "eval", "model"} <= {e["type"] for e in events}
    meta = card_data(files["README.md"].decode())
    assert meta["license"] == "mit" and meta["language"] == ["en", "fr"] and meta["datasets"] == ["wikitext"]
    assert json.loads(run.run_json.read_text())["push"]["revision"] == "exp-1"
    # the command line wins over the project file
    proc = lmtui("push", str(run.path), "--repo-id", "alice/other", "--private", "--no-checkpoints", "--no-events")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert fake_hub.repos["alice/other"].private is True
    assert not any(name.startswith(("checkpoints/", "lmtui/")) for name in fake_hub.files("alice/other"))


def test_failed_upload_leaves_the_run_intact_and_a_retry_works(run, fake_hub):  # noqa: F811
    before = run.run_json.read_bytes()
    fake_hub.fail_commit = True
    proc = lmtui("push", str(run.path), "--repo-id", "alice/tiny-wiki")
    assert proc.returncode == 2
    assert "server error (HTTP 500)" in proc.stderr and "retry" in proc.stderr
    assert run.run_json.read_bytes() == before  # no push recorded, status unchanged
    assert run.last_event("push")["status"] == "failed"
    assert (run.model_dir / "model.safetensors").is_file()
    proc = lmtui("push", str(run.path), "--repo-id", "alice/tiny-wiki")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "README.md" in fake_hub.files("alice/tiny-wiki")
    assert json.loads(run.run_json.read_text())["status"] == "finished"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("case", ["missing", "rejected", "read_only", "not_yours", "no_network", "offline"])
def test_each_failure_gives_one_clear_message(case, run, fake_hub, monkeypatch):  # noqa: F811
    from lmtui.hub.push import PushError, plan_push, run_settings

    settings = run_settings(run)
    expected = {
        "missing": "no Hugging Face token",
        "rejected": "the Hub rejected the token from HF_TOKEN",
        "read_only": "is read-only",
        "not_yours": "repository bob/tiny-wiki is not yours",
        "no_network": "cannot reach the Hugging Face Hub",
        "offline": "HF_HUB_OFFLINE is set",
    }[case]
    token = TEST_TOKEN
    if case == "missing":
        monkeypatch.delenv("HF_TOKEN")
    elif case == "rejected":
        token = "hf_NotAValidTokenAtAllxxxxxxxxxxxxxx9999"
        monkeypatch.setenv("HF_TOKEN", token)
    elif case == "read_only":
        token = READ_TOKEN
        monkeypatch.setenv("HF_TOKEN", token)
    elif case == "not_yours":
        settings.repo_id = "bob/tiny-wiki"
    elif case == "no_network":
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    elif case == "offline":
        from huggingface_hub import constants

        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PushError) as info:
        plan_push(run, settings)
    message = info.value.format()
    assert expected in message, message
    assert "fix:" in message and token not in message
    assert "push" not in run.read_state()
    if case == "rejected":
        assert "hf_…9999" in message  # shown masked, never in full
    if case == "not_yours":
        assert "--repo-id alice/tiny-wiki" in message


def test_invalid_repo_id_and_unfinished_run_are_refused(run, fake_hub):  # noqa: F811
    proc = lmtui("push", str(run.path), "--repo-id", "alice/bad name!")
    assert proc.returncode == 2 and "not a valid Hub repository id" in proc.stderr
    (run.model_dir / "config.json").unlink()
    proc = lmtui("push", str(run.path), "--dry-run")
    assert proc.returncode == 2 and "no final model" in proc.stderr


def test_card_reads_evaluation_results_and_probes(run):
    from lmtui.hub.bundle import build_bundle
    from lmtui.hub.push import run_settings

    run.eval_dir.mkdir()
    (run.eval_dir / "results.json").write_text(json.dumps({"version": 1, "models": {
        "step-10": {"perplexity": {"perplexity": 999.0}},
        "final": {
            "perplexity": {"loss": 5.5, "perplexity": 244.69, "accuracy": 0.31, "tokens": 9000},
            "pseudo_perplexity": {"pseudo_perplexity": 310.5},
            "probes": {"items": [{"text": "The <mask> of France.",
                                  "predictions": [[{"token": " capital", "score": 0.41}, {"token": " king", "score": 0.1}]]}]},
            "tasks": {"sst2": {"kind": "classification", "preset": "sst2",
                               "splits": {"validation": {"examples": 872,
                                                         "accuracy": {"mean": 0.8, "std": 0.01, "values": [0.79, 0.81]}}}},
                      "ner": {"kind": "token_classification", "preset": "conll2003",
                              "splits": {"test": {"f1": {"mean": 0.7, "std": 0.0, "values": [0.7]}}}}}}}}))
    bundle = build_bundle(run, run_settings(run), "alice/x")
    card = bundle.card
    assert "80.00% ± 1.00% (2 seeds)" in card and "244.69" in card and "310.50" in card
    assert "| `The <mask> of France.` | capital (41%), king (10%) |" in card
    assert 'fill_mask("The <mask> of France.")' in card
    assert "999" not in card  # checkpoint entries are not the pushed model
    results = card_data(card)["model-index"][0]["results"]
    by_task = {(r["task"]["type"], r["dataset"]["type"]): r for r in results}
    assert by_task[("text-classification", "glue")]["dataset"]["config"] == "sst2"
    assert by_task[("text-classification", "glue")]["metrics"][0]["value"] == 0.8
    assert by_task[("token-classification", "conll2003")]["metrics"][0]["type"] == "f1"


def test_card_and_curve_are_deterministic(run):
    from lmtui.hub.bundle import build_bundle
    from lmtui.hub.push import run_settings

    first = build_bundle(run, run_settings(run), "alice/x")
    second = build_bundle(run, run_settings(run), "alice/x")
    assert [(f.path_in_repo, f.data) for f in first.files if f.generated] == \
        [(f.path_in_repo, f.data) for f in second.files if f.generated]


def test_publish_stage_pushes_at_the_end_and_wraps_failures(tiny_run_template, tmp_path, fake_hub, capsys,  # noqa: F811
                                                            monkeypatch):
    from lmtui.hub import stage
    from lmtui.hub.push import PushError
    from lmtui.project.load import parse_project

    run = copy_run(tiny_run_template, tmp_path / "proj", hub='[hub]\nrepo_id = "alice/staged"\npush_at_end = true\n')
    project = parse_project(run.project_file.read_text(), str(run.project_file), str(run.project_file))
    assert stage.wanted(project) and stage.preflight(project) is None
    assert not stage.wanted(parse_project("[project]\nname='x'\n", "x.toml"))
    stage.run_stage(run, project)
    out = capsys.readouterr().out
    assert "push: alice/staged (private, branch main) as alice" in out and "pushed to" in out
    assert TEST_TOKEN not in out
    assert "README.md" in fake_hub.files("alice/staged")
    monkeypatch.delenv("HF_TOKEN")
    assert "push_at_end is set but no Hugging Face token" in stage.preflight(project)
    with pytest.raises(PushError) as info:
        stage.run_stage(run, project)
    assert "publish: no Hugging Face token" in info.value.format()
    assert f"lmtui push {run.run_id}" in info.value.format()


@pytest.mark.slow
def test_lmtui_run_with_push_at_end_publishes_the_trained_model(trained_run, tmp_path, fake_hub):  # noqa: F811
    """A real `lmtui run` (the trained prose BERT run, copied) resumed with [hub]
    push_at_end: the driver's publish stage pushes the model it trained."""
    import shutil

    folder = tmp_path / "trained"
    shutil.copytree(trained_run.parents[1], folder)
    project = folder / "wikibert.toml"
    project.write_text(project.read_text() + '\n[hub]\nrepo_id = "alice/wikibert"\npush_at_end = true\n')
    proc = lmtui("run", str(project), cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = RunDir(folder / "runs" / trained_run.name)
    state = json.loads(run.run_json.read_text())
    assert state["status"] == "finished" and state["push"]["repo_id"] == "alice/wikibert"
    files = fake_hub.files("alice/wikibert")
    assert files["model.safetensors"] == (run.model_dir / "model.safetensors").read_bytes()
    card = files["README.md"].decode()
    meta = card_data(card)
    final = [e for e in run.events(("eval",))][-1]
    perplexity = {m["type"]: m["value"] for r in meta["model-index"][0]["results"] for m in r["metrics"]}["perplexity"]
    assert perplexity == pytest.approx(final["perplexity"], rel=1e-3)
    dataset = run.last_event("dataset")
    assert f"{dataset['train_tokens']:,}" in card and "WordPiece" in card and "[MASK]" in card
    assert "BertForMaskedLM" in card
    stages = [(e["stage"], e["state"]) for e in run.events(("stage",))]
    assert ("publish", "done") in stages
    assert "push: pushed to" in run.log_file.read_text()
    assert_token_nowhere(TEST_TOKEN, run.path, texts=(proc.stdout, proc.stderr))
