"""`lmtui check`, `lmtui run` and the TUI's launch refuse exactly the same projects, with the same message.

Every case of tests/data/bad_projects/ and tests/data/bad_sections/ goes through the three:
`lmtui check` and `lmtui run` through ``lmtui.cli.main`` in this process (torch is imported once),
and the TUI's launch as the app makes it (:meth:`lmtui.tui.app.LmtuiApp.launch` calls
:func:`lmtui.runs.launcher.launch`). The three messages must be one, each must come from the one
check (:func:`lmtui.checks.report`, counted by a spy), and nothing may be written. A few
representative cases run as real `lmtui check` / `lmtui run` subprocesses too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import DATA, REPO, lmtui

from lmtui.errors import LmtuiError

TESTDATA = REPO / "tests" / "data"
CASES = sorted(f"{folder}/{p.stem}" for folder in ("bad_projects", "bad_sections")
               for p in (TESTDATA / folder).glob("*.toml"))
# One of each kind of check: a rule of the file, a type in a task table, a sampled corpus file,
# a model folder, the Hub repo id.
SUBPROCESS_CASES = ["bad_projects/batch_not_divisible", "bad_sections/task_quoted_name",
                    "bad_projects/corrupt_gz", "bad_projects/garbage_init_from", "bad_projects/hub_repo_id_invalid"]


def write_case(case: str, folder: Path) -> Path:
    """The case's file written to ``folder/bad.toml``, its data placeholders filled in."""
    text = (TESTDATA / f"{case}.toml").read_text()
    text = text.replace("{DATA}", str(DATA)).replace("{data}", str(DATA)).replace("{TESTDATA}", str(TESTDATA))
    path = folder / "bad.toml"
    path.write_text(text)
    return path


def _three_messages(path: Path, monkeypatch, capsys) -> tuple[dict[str, str], list[str]]:
    """{"check", "run", "tui"} -> the message each shows, and which of them called the one check."""
    from lmtui import checks
    from lmtui.cli import main
    from lmtui.runs import launcher

    def no_driver(run):
        raise AssertionError(f"the bad project started a run: {run.path}")

    calls: list[str] = []
    report, current = checks.report, {"entry": ""}

    def spy(*args, **kwargs):
        calls.append(current["entry"])
        return report(*args, **kwargs)

    monkeypatch.setattr(launcher, "start_driver", no_driver)
    monkeypatch.setattr(checks, "report", spy)
    monkeypatch.chdir(path.parent)
    out = {}
    for command in ("check", "run"):
        current["entry"] = command
        assert main([command, str(path)]) == 2
        out[command] = capsys.readouterr().err
    current["entry"] = "tui"
    with pytest.raises(LmtuiError) as exc:  # what LmtuiApp.launch's worker calls, and shows
        launcher.launch(str(path), fresh=False, overrides=[])
    out["tui"] = f"error: {exc.value.format()}\n"
    return out, calls


@pytest.mark.parametrize("case", CASES)
def test_check_run_and_the_tui_refuse_with_one_message(case, tmp_path, monkeypatch, capsys):
    path = write_case(case, tmp_path)
    messages, calls = _three_messages(path, monkeypatch, capsys)
    assert messages["check"] == messages["run"] == messages["tui"], messages
    assert messages["check"].startswith(f"error: {path}"), messages["check"]
    # each entry got its message from the one check, or (a file TOML, the schema or a type refuses)
    # none reached it: the loader refused the file for all three alike
    assert calls in (["check", "run", "tui"], []), calls
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]  # nothing written


def test_every_entry_reaches_the_one_check(tmp_path, monkeypatch, capsys):
    """A project whose file is fine but whose corpus is not: all three get their message from
    :func:`lmtui.checks.report`."""
    path = write_case("bad_projects/corrupt_gz", tmp_path)
    messages, calls = _three_messages(path, monkeypatch, capsys)
    assert calls == ["check", "run", "tui"]
    assert len(set(messages.values())) == 1


def test_doctor_and_export_slurm_reach_the_one_check_too(tmp_path, monkeypatch, capsys):
    """`lmtui doctor PROJECT` reports the check's first problem as its project finding, and
    `lmtui export slurm` refuses with the check's message (against the target's GPUs)."""
    from lmtui import checks
    from lmtui.cli import main
    from lmtui.commands.doctor import project_findings

    path = write_case("bad_projects/corrupt_gz", tmp_path)
    messages, _ = _three_messages(path, monkeypatch, capsys)
    calls = []
    report = checks.report
    monkeypatch.setattr(checks, "report", lambda *a, **k: calls.append(k) or report(*a, **k))
    findings, _ = project_findings(str(path), {"bf16": False, "cuda": False})
    message = findings[0].value.removeprefix(f"{path}: ")  # the doctor names the file, then the message
    assert findings[0].level == "fail" and message in messages["check"] and findings[0].fix in messages["check"], \
        (findings, messages)
    assert main(["export", "slurm", str(path), "--nodes", "2", "--gpus-per-node", "0"]) == 2
    assert capsys.readouterr().err == messages["check"]
    assert len(calls) == 2 and calls[1]["target"] is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_the_real_commands_give_the_same_message(case, tmp_path, monkeypatch, capsys):
    path = write_case(case, tmp_path)
    in_process, _ = _three_messages(path, monkeypatch, capsys)
    for command in ("check", "run"):
        proc = lmtui(command, str(path), cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr == in_process[command], (proc.stderr, in_process[command])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]  # no run directory, no cache
