"""Where the UI looks for projects and runs."""

from __future__ import annotations

from support.runs import write_run

from lmtui.runs.catalog import Catalog, find_project_files


def test_projects_under_projects_folder_with_validation_state(project_dir):
    cat = Catalog(cwd=project_dir)
    entries = {e.name: e for e in cat.projects()}
    assert set(entries) == {"good", "broken"}
    assert entries["good"].valid
    err = entries["broken"].error
    assert err.key == "corpus.train_files" and err.line and "not found" in err.message
    assert entries["broken"].project is not None  # still loaded, for its output_dir and summary


def test_run_directories_and_hidden_folders_are_not_scanned_for_projects(project_dir):
    runs = project_dir / "projects" / "runs"
    write_run(runs, "good-1")
    (project_dir / "projects" / ".hidden").mkdir()
    (project_dir / "projects" / ".hidden" / "x.toml").write_text("")
    names = [p.name for p in find_project_files(project_dir / "projects")]
    assert sorted(names) == ["broken.toml", "good.toml"]


def test_runs_come_from_runs_folder_output_dirs_and_command_line_paths(project_dir, tmp_path):
    write_run(project_dir / "runs", "good-a")  # ./runs, also the projects' output_dir
    elsewhere = tmp_path / "elsewhere"
    write_run(elsewhere, "other-b")
    single = tmp_path / "single"
    write_run(single, "solo-c")
    extra_project = tmp_path / "p" / "x.toml"
    extra_project.parent.mkdir()
    extra_project.write_text('[project]\noutput_dir = "out"\n')
    write_run(tmp_path / "p" / "out", "x-d")
    cat = Catalog([str(elsewhere), str(single / "solo-c"), str(extra_project)], cwd=project_dir)
    assert {r.run_id for r in cat.runs()} == {"good-a", "other-b", "solo-c", "x-d"}
    assert extra_project.resolve() in cat.project_paths()


def test_validation_is_cached_until_the_file_changes(project_dir):
    cat = Catalog(cwd=project_dir)
    first = {e.name: e for e in cat.projects()}
    again = {e.name: e for e in cat.projects()}
    assert first["good"] is again["good"]
    path = project_dir / "projects" / "good.toml"
    path.write_text(path.read_text().replace("max_steps = 300", "max_steps = 7"))
    cat.forget(path)
    assert {e.name: e for e in cat.projects()}["good"].project.training.max_steps == 7
