"""Bad project files: one clear message naming file, key and line; exit code 2; nothing written.

The cases of tests/data/bad_projects/ run through ``lmtui.cli.main`` in this process (torch and
transformers are imported once, not once per case); one case runs as a real subprocess too.
A case's ``{DATA}`` stands for the shared data folder, ``{TESTDATA}`` for tests/data/.
"""

from __future__ import annotations

import pytest
from support.cli import DATA, REPO, lmtui, write_project

GOOD = (REPO / "tests" / "data" / "good_project.toml").read_text().replace("{DATA}", str(DATA))
CASE_DIR = REPO / "tests" / "data" / "bad_projects"


def read_case(name: str) -> tuple[str, list[str]]:
    """A bad project of tests/data/bad_projects/: its text (``{DATA}`` filled in) and the fragments
    its error message must contain (its ``# expect:`` lines, at the end so line numbers hold)."""
    text = (CASE_DIR / f"{name}.toml").read_text().replace("{DATA}", str(DATA)).replace(
        "{TESTDATA}", str(CASE_DIR.parent))
    expected = [line[len("# expect: "):] for line in text.splitlines() if line.startswith("# expect: ")]
    assert expected, f"{name}.toml has no '# expect:' line"
    return text, expected


CASES = sorted(p.stem for p in CASE_DIR.glob("*.toml"))


def _variant(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


def _in_process(command: str, project, folder, monkeypatch, capsys) -> tuple[int, str]:
    """``lmtui COMMAND PROJECT`` run by ``lmtui.cli.main`` in ``folder``: (exit code, stderr). A
    driver is never started (a case that passes every check fails the test instead)."""
    from lmtui.cli import main
    from lmtui.runs import launcher

    def no_driver(run):
        raise AssertionError(f"the bad project started a run: {run.path}")

    monkeypatch.setattr(launcher, "start_driver", no_driver)
    monkeypatch.chdir(folder)
    code = main([command, str(project)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["check", "run"])
def test_bad_project_gives_one_clear_message_and_writes_nothing(tmp_path, case, command, monkeypatch, capsys):
    text, expected = read_case(case)
    project = write_project(tmp_path, "bad", text)
    code, message = _in_process(command, project, tmp_path, monkeypatch, capsys)
    assert code == 2, message
    assert message.startswith(f"error: {project}"), message
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert "Traceback" not in message
    lines = message.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("  fix: "), message  # one message and its fix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]  # nothing written


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_bad_project_through_the_real_command_line(tmp_path, command):
    text, expected = read_case("corrupt_gz")
    project = write_project(tmp_path, "bad", text)
    proc = lmtui(command, str(project), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert all(fragment in proc.stderr for fragment in expected) and "Traceback" not in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_output_dir_that_is_a_file_is_rejected(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    project = write_project(tmp_path, "bad", GOOD)
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 2
    assert "[project.output_dir] output_dir" in proc.stderr and "is a file" in proc.stderr
    assert (tmp_path / "out").read_text() == "not a folder"


def test_empty_corpus_file_is_rejected(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    project = write_project(tmp_path, "bad", _variant(f"{DATA}/prose/train.txt", "empty.txt"))
    proc = lmtui("check", str(project), cwd=tmp_path)
    assert proc.returncode == 2
    assert "empty.txt' is empty" in proc.stderr and "[corpus.train_files]" in proc.stderr


def test_missing_project_file(tmp_path):
    proc = lmtui("run", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2
    assert "nope.toml: project file not found" in proc.stderr and "lmtui new" in proc.stderr


def test_new_names_the_run_command_that_works_from_where_the_user_is(tmp_path):
    """`lmtui new myproj` writes projects/myproj.toml; its header gives that path (issue 23, item 11)."""
    proc = lmtui("new", "myproj", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    header = (tmp_path / "projects" / "myproj.toml").read_text().splitlines()[1]
    assert header == "# Run it with: lmtui run projects/myproj.toml"
    proc = lmtui("check", header.removeprefix("# Run it with: lmtui run "), cwd=tmp_path)
    assert "project file not found" not in proc.stderr and "myproj.toml" in proc.stderr  # found; its corpus is not


def test_new_writes_a_starter_that_check_explains(tmp_path):
    proc = lmtui("new", "mymodel", "--dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    starter = tmp_path / "mymodel.toml"
    assert "[training]" in starter.read_text() and "# mlm_probability = 0.15" in starter.read_text()
    proc = lmtui("check", str(starter))
    assert proc.returncode == 2  # the starter's corpus glob matches nothing yet
    assert "[corpus.train_files] corpus file 'data/*.txt' not found" in proc.stderr
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("some text to train on\nand a second document to validate on\n")
    proc = lmtui("check", str(starter))
    assert proc.returncode == 0, proc.stderr
    assert "ok (roberta/small" in proc.stdout
    assert lmtui("new", "mymodel", "--dir", str(tmp_path)).returncode == 2  # never overwrites silently
