"""The one check of a project before a run: ``check(project) -> list[Problem]``.

`lmtui check`, `lmtui run`, `lmtui sweep`, `lmtui export slurm`, `lmtui doctor PROJECT` and the
TUI's launch dialog and edit form all call :func:`check` (or :func:`require`, which raises its
first problem); nothing else checks a project against the world. The project file's own rules
(types, ranges, the cross-key rules that need nothing but the file) come first
(:func:`lmtui.project.load.check_consistency`); then every feature's checks, listed plainly in
:data:`CHECKS` in the order a run meets them, each kept in the feature's own folder:

- the corpus files, ``[tokenizer] path`` and the sampled corpus (:func:`lmtui.data.checks.check_data`);
- the folders a run writes (:func:`lmtui.runs.checks.check_folders`);
- ``[hub] repo_id`` (:func:`lmtui.hub.checks.check_repo_id`);
- the device and the trackers' packages (:func:`lmtui.train.checks.check_device`,
  :func:`lmtui.train.checks.check_trackers`);
- the ``init_from`` model (:func:`lmtui.train.checks.check_init_from`);
- the ``[distill]`` teacher (:func:`lmtui.distill.checks.check_distill`);
- the ``[eval]`` files and datasets (:func:`lmtui.evaluation.checks.check_eval`);
- with ``deep``, the model config built with transformers (:func:`lmtui.train.checks.model_summary`,
  or the teacher and student of a distillation, :func:`lmtui.distill.checks.distill_summary`);
- what the run reserves against this machine's GPUs and slots, or ``target``'s
  (:func:`lmtui.runs.queue.check_request`).

A problem is the :class:`~lmtui.errors.LmtuiError` a check raises (a :class:`ProjectError`,
or a :class:`~lmtui.errors.CorpusError` for a corpus file): message, file, key, line, hint. Each
check stops at its own first problem; the checks after it still run, so :func:`check` reports
one problem per feature. A project whose file breaks its own rules gets that one problem only
(the world is not asked about a file that cannot run).
"""

from __future__ import annotations

from dataclasses import dataclass

from lmtui.distill.checks import check_distill, distill_summary
from lmtui.errors import LmtuiError, ProjectError
from lmtui.evaluation.checks import check_eval
from lmtui.hub.checks import check_repo_id
from lmtui.project.load import check_consistency, project_text
from lmtui.project.schema import Project
from lmtui.runs import queue
from lmtui.runs.checks import check_folders
from lmtui.data.checks import check_data
from lmtui.train.checks import check_device, check_init_from, check_trackers, model_summary

#: A problem of a project: the error its check raised (message, file, key, line, hint).
Problem = LmtuiError


def _device(project: Project, text: str, target) -> None:
    if target is None:  # a target's nodes, not this machine, run it
        check_device(project, text)


def _model(project: Project, text: str, target) -> str:
    if project.distill.teacher:  # the student is built from the teacher's config
        return distill_summary(project, text)
    return model_summary(project, text)


# The checks that need the world, in the order a run meets what they check: (name, check,
# deep only). Each is ``check(project, text, target)``; it raises its first problem.
CHECKS = (
    ("data", lambda p, t, target: check_data(p, t), False),
    ("folders", lambda p, t, target: check_folders(p, t), False),
    ("hub", lambda p, t, target: check_repo_id(p, t), False),
    ("device", _device, False),
    ("trackers", lambda p, t, target: check_trackers(p, t), False),
    ("init_from", lambda p, t, target: check_init_from(p, t), False),
    ("distill", lambda p, t, target: check_distill(p, t), False),
    ("eval", lambda p, t, target: check_eval(p, t), False),
    ("model", _model, True),
    ("queue", lambda p, t, target: queue.check_request(p, t, target), False),
)


@dataclass
class Report:
    """What :func:`check` found.

    Attributes:
        problems: one per failed check, in :data:`CHECKS` order (empty: the project can run).
        summary: the one-line summary of the model (``deep`` and no problem in the model check), else None.
    """

    problems: list[Problem]
    summary: str | None = None


def report(project: Project, text: str | None = None, *, deep: bool = True, target: queue.Machine | None = None,
           first: bool = False) -> Report:
    """Run the project file's rules, then every check of :data:`CHECKS` (see the module docstring).

    Args:
        project: the loaded project (types and ranges already checked by the loader).
        text: its file's text, for lines in messages (None: read from ``project.path``).
        deep: build the model config with transformers (imports torch); without it, everything else.
        target: a machine the run is for (`lmtui export slurm`): its GPUs are checked instead of
            this machine's, and this machine's device is not.
        first: stop at the first problem (what a launch needs: it refuses on one).

    Raises:
        LmtuiError: ``LMTUI_SLOTS`` or ``LMTUI_FAKE_GPUS`` is malformed (not a project problem).
    """
    text = project_text(project) if text is None else text
    try:
        check_consistency(project, text)
    except ProjectError as exc:
        return Report([exc])
    problems: list[Problem] = []
    summary = None
    for name, run_check, deep_only in CHECKS:
        if deep_only and not (deep and target is None):
            continue
        try:
            result = run_check(project, text, target)
        except LmtuiError as exc:
            if name == "queue" and not isinstance(exc, ProjectError):
                raise
            if all(exc.format() != p.format() for p in problems):
                problems.append(exc)
            if first:
                break
            continue
        if name == "model":
            summary = result
    return Report(problems, summary)


def check(project: Project, text: str | None = None, *, deep: bool = True,
          target: queue.Machine | None = None) -> list[Problem]:
    """Every problem of ``project`` before a run (:func:`report`); an empty list when it can run."""
    return report(project, text, deep=deep, target=target).problems


def require(project: Project, text: str | None = None, *, deep: bool = True,
            target: queue.Machine | None = None) -> str | None:
    """Raise the first problem of :func:`check`, the one `lmtui check`, `lmtui run` and the TUI show.

    Returns:
        the model's one-line summary (``deep``), else None.

    Raises:
        LmtuiError: the first problem (a ProjectError, or a CorpusError for a corpus file).
    """
    found = report(project, text, deep=deep, target=target, first=True)
    if found.problems:
        raise found.problems[0]
    return found.summary
