"""The teacher of a distillation run, evaluated beside its student (results entry ``teacher``).

When the evaluation worker has evaluated a distillation run's final model (the student), it
evaluates the teacher too, in the same process: the same parts (held-out MLM loss under the same
fixed masks, probes, the ``[eval]`` tasks with the same seeds), the same device, batch and
sequence length (so the inference throughputs compare), stored under the label ``teacher``.
Parts already up to date for the teacher's model are skipped (:func:`lmtui.evaluation.stage.plan`),
so a teacher shared by several students is evaluated once per run, never retrained.
"""

from __future__ import annotations

from lmtui.runs.rundir import RunDir


def teacher_request(run: RunDir, request: dict) -> tuple[dict, list] | None:
    """The request (and its task specs) that evaluates the teacher of ``run`` after ``request``, or None
    when ``request`` is not the final model of a distillation run or the teacher is up to date."""
    from lmtui.evaluation.stage import plan
    from lmtui.project.load import parse_project
    from lmtui.project.sections.eval import TaskSpec

    if request["label"] != "final":
        return None
    project = parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file),
                            str(run.project_file))
    if not project.distill.teacher:
        return None
    parts = [p[5:] if p.startswith("task:") else p for p in request["parts"]]
    teacher = plan(run, project, label="teacher", model_dir=project.distill.teacher, only=parts)
    if teacher is None:
        return None
    return teacher, [TaskSpec(**t) for t in teacher["tasks"]]
