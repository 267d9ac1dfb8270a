"""``[hub]``'s check: the repository id (the check layer, :mod:`lmtui.checks`, runs it before
anything is written; whether a token is there is the publish stage's preflight, a warning)."""

from __future__ import annotations

from lmtui.errors import ProjectError
from lmtui.project.lines import line_of

def check_repo_id(project, text: str) -> None:
    """``[hub] repo_id``, when set, is a valid Hub repository id (``huggingface_hub``'s validator).

    Raises:
        ProjectError: naming ``hub.repo_id`` and its line.
    """
    repo_id = project.hub.repo_id
    if not repo_id:
        return
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise ProjectError(f"{repo_id!r} is not a valid Hub repository id: {str(exc).splitlines()[0]}",
                           file=project.path or "<project>", key="hub.repo_id", line=line_of(text, "hub", "repo_id"),
                           hint="write NAMESPACE/NAME with letters, digits, '-', '_' and '.', e.g. alice/my-bert") \
            from None
