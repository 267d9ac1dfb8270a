"""Push a run's model to the Hugging Face Hub (and the offline dry-run).

The flow of a push (:func:`plan_push`, then :func:`execute`):

1. settings: the ``[hub]`` section of the project the run came from (the source file as it
   is now when it still exists, else the run's frozen copy), read and validated by the project
   loader (an unknown key or a wrong type is an error), then the command-line overrides;
2. token: ``HF_TOKEN`` or the huggingface_hub login store (:func:`find_token`); the account
   behind it (``whoami``), which must own the repository's namespace or belong to its
   organization;
3. the bundle (:mod:`lmtui.hub.bundle`): model files, README.md, loss_curve.png, and optionally
   the checkpoints and the event log;
4. ``create_repo(exist_ok=True)``, the branch when one is asked, then one LFS/Xet pre-upload per
   file (progress) and one commit. Unchanged files are skipped by huggingface_hub, so pushing
   the same run again makes no new commit;
5. the record: ``run.json``'s ``push`` and a ``push`` event (docs/publishing.md).

Nothing is written to the run directory before the upload succeeds, except the failed
``push`` event, so a failed push leaves the run as it was and can be retried. The token is
only ever passed to huggingface_hub; messages show it masked (:func:`mask_token`) and every
error text is scrubbed of it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lmtui.errors import LmtuiError
from lmtui.project.sections.hub import HubSection
from lmtui.runs.rundir import RunDir

Progress = Callable[[str, int, int], None]
"""progress(message, bytes done, bytes total): called as the push goes on."""

REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}$")
TOKENS_URL = "https://huggingface.co/settings/tokens"
DRY_RUN_DIR = "hub-dry-run"


class PushError(LmtuiError):
    """A push could not be done; the message says why and the hint what to do."""


@dataclass
class Account:
    """The Hub account behind the token (never the token itself)."""

    name: str
    orgs: list[str] = field(default_factory=list)
    token_source: str = ""
    token_masked: str = ""
    role: str = ""

    def may_write(self, namespace: str) -> bool:
        return namespace == self.name or namespace in self.orgs


@dataclass
class PushPlan:
    """Everything a push will do, shown before it is done (CLI summary, TUI confirmation)."""

    run: RunDir
    settings: HubSection
    repo_id: str
    bundle: object  # lmtui.hub.bundle.Bundle
    account: Account | None = None
    endpoint: str = ""
    token: str | None = field(default=None, repr=False)

    @property
    def revision(self) -> str:
        return self.settings.revision or "main"

    @property
    def visibility(self) -> str:
        return "private" if self.settings.private else "public"


# --------------------------------------------------------------------------- token and account
def endpoint() -> str:
    """The Hub's address: ``HF_ENDPOINT`` when set, else huggingface_hub's default."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def mask_token(token: str) -> str:
    """A token shown without its secret part: ``hf_…wxyz``."""
    if len(token) < 12:
        return "…" * 3
    return f"{token[:3]}…{token[-4:]}"


def token_source() -> str:
    """Where the token huggingface_hub would use comes from, in words."""
    from huggingface_hub import constants

    if os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"):
        return "HF_TOKEN"
    return f"the huggingface_hub login store ({constants.HF_TOKEN_PATH})"


def find_token() -> tuple[str, str]:
    """The access token and where it came from (``HF_TOKEN``, else the login store).

    Raises:
        PushError: no token anywhere.
    """
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise PushError("no Hugging Face token: HF_TOKEN is not set and nobody is logged in",
                        hint=f"create a token with write access at {TOKENS_URL}, then set HF_TOKEN=hf_... "
                             "or run `hf auth login`")
    return token, token_source()


def whoami(api, token: str, source: str) -> Account:
    """The account behind ``token`` (one ``whoami`` request).

    Raises:
        PushError: the token is rejected or read-only, or the Hub cannot be reached.
    """
    try:
        info = api.whoami(token=token)
    except Exception as exc:  # noqa: BLE001 - mapped to one clear message
        raise explain(exc, token=token, source=source, endpoint=api.endpoint) from None
    orgs = [o.get("name") for o in info.get("orgs") or [] if isinstance(o, dict) and o.get("name")]
    access = ((info.get("auth") or {}).get("accessToken") or {})
    account = Account(name=str(info.get("name") or ""), orgs=orgs, token_source=source,
                      token_masked=mask_token(token), role=str(access.get("role") or ""))
    if account.role == "read":
        raise PushError(f"the token from {source} ({account.token_masked}, user {account.name}) is read-only",
                        hint=f"create a token with write access at {TOKENS_URL} and use it instead")
    return account


def explain(exc: BaseException, *, token: str | None = None, source: str = "", endpoint: str = "",
            repo_id: str = "", account: Account | None = None) -> PushError:
    """One clear :class:`PushError` for anything a push can raise (token scrubbed from the text)."""
    if isinstance(exc, PushError):
        return exc
    retry = "nothing in the run changed; retry with `lmtui push RUN` (or the TUI's push key)"
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError, OfflineModeIsEnabled

    chain = []
    e: BaseException | None = exc
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    http = next((e for e in chain if isinstance(e, HfHubHTTPError)), None)
    if any(isinstance(e, OfflineModeIsEnabled) for e in chain):
        return PushError("HF_HUB_OFFLINE is set, so the Hub is not contacted",
                         hint="unset HF_HUB_OFFLINE to push, or use `lmtui push --dry-run` to write the folder offline")
    if any(isinstance(e, LocalTokenNotFoundError) for e in chain):
        return PushError("no Hugging Face token: HF_TOKEN is not set and nobody is logged in",
                         hint=f"create a token with write access at {TOKENS_URL}, then set HF_TOKEN or run "
                              "`hf auth login`")
    if http is not None and getattr(http, "response", None) is not None:
        status = http.response.status_code
        who = f"user {account.name}" if account else "this token's account"
        masked = f" ({mask_token(token)})" if token else ""
        if status == 401:
            return PushError(f"the Hub rejected the token from {source or 'the login store'}{masked}: it is invalid "
                             "or expired",
                             hint=f"create a new token with write access at {TOKENS_URL}; set HF_TOKEN or run "
                                  "`hf auth login --force`")
        if status == 403:
            return PushError(f"{who} may not write to {repo_id or 'this repository'}",
                             hint="use a repository in your own namespace (--repo-id YOURNAME/NAME), or a token "
                                  "with write access to that organization")
        if status == 404 and repo_id:
            return PushError(f"repository {repo_id} was not found, or {who} cannot see it",
                             hint="check --repo-id; a repository of another account is not yours to push to")
        if status == 429:
            return PushError("the Hub is rate-limiting requests (HTTP 429)", hint=f"wait a minute; {retry}")
        if status >= 500:
            return PushError(f"the Hub answered with a server error (HTTP {status})", hint=f"try again later; {retry}")
        return PushError(f"the Hub refused the push (HTTP {status}): {_scrub(_first_line(http), token)}",
                         hint=retry)
    if any(_is_network_error(e) for e in chain):
        return PushError(f"cannot reach the Hugging Face Hub at {endpoint or 'its address'}: "
                         f"{_scrub(_first_line(_network_error(chain)), token)}",
                         hint=f"check the network connection (and HF_ENDPOINT or proxy settings); {retry}")
    return PushError(f"the push failed: {type(exc).__name__}: {_scrub(_first_line(exc), token)}", hint=retry)


def _is_network_error(exc: BaseException) -> bool:
    try:
        import httpx2

        if isinstance(exc, httpx2.TransportError):
            return True
    except ImportError:  # pragma: no cover - older huggingface_hub uses httpx
        pass
    try:
        import httpx

        if isinstance(exc, httpx.TransportError):
            return True
    except ImportError:
        pass
    return isinstance(exc, (ConnectionError, TimeoutError)) or type(exc).__name__ in (
        "ConnectError", "ConnectTimeout", "ReadTimeout", "NetworkError", "RemoteProtocolError")


def _network_error(chain: list[BaseException]) -> BaseException:
    return next(e for e in chain if _is_network_error(e))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, mask_token(token)) if token else text


# --------------------------------------------------------------------------- settings
def _read_project(path: Path):
    """The project at ``path``, read and validated by the project loader (every section, the
    ``[hub]`` keys and their types included; files are not looked for).

    Raises:
        ProjectError: the file is unreadable, not TOML, or has an unknown or mistyped key.
    """
    from lmtui.project.load import load_project

    return load_project(path, check=False)


def run_settings(run: RunDir, project=None) -> HubSection:
    """The ``[hub]`` settings for pushing ``run``.

    ``project`` (the driver's parsed project) wins when given. Otherwise the source project
    file's ``[hub]`` as it is now, when the file still exists and has that section (so a
    repository chosen after training counts), else the run's frozen copy's.

    Raises:
        ProjectError: the source project or the frozen copy is invalid (unknown key, wrong type).
    """
    if project is not None:
        return dataclasses.replace(project.hub)
    source = run.read_state().get("project_path")
    if source and Path(source).is_file():
        current = _read_project(Path(source))
        if "hub" in current.raw:
            return current.hub
    return _read_project(run.project_file).hub


def project_name(run: RunDir) -> str:
    """The name of the project ``run`` came from (run.json, else its frozen copy, else the run id)."""
    name = run.read_state().get("project_name")
    if not name and run.project_file.is_file():
        name = _read_project(run.project_file).project.name
    return str(name or run.run_id)


def default_repo_name(run: RunDir) -> str:
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "-", project_name(run)).strip("-.") or "model"
    return name[:96]


def resolve_repo_id(value: str, run: RunDir, user: str | None) -> str:
    """``value`` (USER/NAME, or NAME in the user's namespace), or USER/<project name>.

    Raises:
        PushError: the id is not of the form NAMESPACE/NAME.
    """
    value = (value or "").strip()
    if not value:
        value = f"{user or 'your-username'}/{default_repo_name(run)}"
    elif "/" not in value:
        value = f"{user or 'your-username'}/{value}"
    if not REPO_ID_RE.fullmatch(value) or ".." in value or value.endswith((".git", ".")):
        raise PushError(f"{value!r} is not a valid Hub repository id",
                        hint="write NAMESPACE/NAME with letters, digits, '-', '_' and '.', e.g. alice/my-bert")
    return value


def apply_overrides(settings: HubSection, *, repo_id: str | None = None, private: bool | None = None,
                    revision: str | None = None, include_checkpoints: bool | None = None,
                    include_events: bool | None = None) -> HubSection:
    """``settings`` with the command-line values that were given (None: keep)."""
    changes = {k: v for k, v in dict(repo_id=repo_id, private=private, revision=revision,
                                     include_checkpoints=include_checkpoints,
                                     include_events=include_events).items() if v is not None}
    return dataclasses.replace(settings, **changes)


# --------------------------------------------------------------------------- plan, dry-run, push
def _check_run(run: RunDir, allow_active: bool) -> None:
    if not run.exists():
        raise PushError("not a run directory (run.json is missing)", file=str(run.path),
                        hint="give a run id from `lmtui runs`, or a run directory's path")
    if not allow_active and run.is_active():
        raise PushError(f"run {run.run_id} is still running", file=str(run.path),
                        hint="push it when it has finished (or set [hub] push_at_end = true to push at the end)")


def plan_push(run: RunDir, settings: HubSection, *, offline: bool = False, allow_active: bool = False,
              account: Account | None = None) -> PushPlan:
    """Resolve the repository and the account, and build the bundle, without uploading anything.

    Args:
        run: the run to publish.
        settings: the ``[hub]`` settings, overrides applied (:func:`run_settings`, :func:`apply_overrides`).
        offline: do not look for a token nor contact the Hub (dry-run); the repository id is
            taken as given (``your-username/NAME`` when no namespace is known).
        allow_active: allow a run whose status is running (the publish stage of the run itself).
        account: the account from an earlier plan with the same token (skips the ``whoami``
            request, which the Hub rate-limits; the TUI re-plans as options change).

    Raises:
        PushError: the run has no model, no token, a rejected token, no network, a repository
            id that is invalid or in a namespace the account may not write to.
    """
    from lmtui.hub.bundle import build_bundle

    _check_run(run, allow_active)
    if not (run.model_dir / "config.json").is_file():
        raise PushError("the run has no final model to publish (model/config.json is missing)", file=str(run.path),
                        hint="finish the run first (`lmtui run` resumes it); only finished pretraining writes model/")
    token = None
    url = endpoint()
    if offline:
        account = None
    else:
        from huggingface_hub import HfApi

        token, source = find_token()
        if account is None or account.token_masked != mask_token(token) or account.token_source != source:
            account = whoami(HfApi(endpoint=url), token, source)
    repo_id = resolve_repo_id(settings.repo_id, run, account.name if account else None)
    if account is not None and not account.may_write(repo_id.split("/")[0]):
        orgs = f" (organizations: {', '.join(account.orgs)})" if account.orgs else " (no organizations)"
        raise PushError(f"repository {repo_id} is not yours: the token from {account.token_source} belongs to "
                        f"{account.name}{orgs}",
                        hint=f"push to your own namespace, e.g. --repo-id {account.name}/{repo_id.split('/')[1]}, "
                             "or use a token of an account that may write there")
    if settings.revision and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-/]{0,99}", settings.revision):
        raise PushError(f"{settings.revision!r} is not a valid branch name",
                        hint="use letters, digits, '-', '_', '.' and '/', e.g. --revision experiment-1")
    bundle = build_bundle(run, settings, repo_id)
    return PushPlan(run=run, settings=settings, repo_id=repo_id, bundle=bundle, account=account, endpoint=url,
                    token=token)


def dry_run(run: RunDir, settings: HubSection, out: str | os.PathLike | None = None) -> tuple[Path, PushPlan]:
    """Write exactly the folder a push would upload to ``out`` (default ``<run>/hub-dry-run``).

    Offline: no token is read and nothing is sent. Returns the folder and the plan.
    """
    plan = plan_push(run, settings, offline=True, allow_active=False)
    folder = plan.bundle.write(out or run.path / DRY_RUN_DIR)
    return folder, plan


def _log_link(run: RunDir, record: dict) -> None:
    """Log the model's Hub page and commit to the run's experiment trackers, in a child process
    (the TUI pushes in its own process, which imports no torch). A failure there is a warning:
    the push itself is done."""
    import subprocess

    from lmtui.train.tracking import log_from_outside

    try:
        code = log_from_outside(run, {"hub/url": record["url"], "hub/commit_url": record["commit_url"]})
    except (OSError, subprocess.TimeoutExpired) as exc:
        code = f"{type(exc).__name__}: {exc}"
    if code not in (None, 0):
        print(f"warning: the model card link was not logged to the trackers ({code}); see {run.log_file}",
              file=sys.stderr)


def execute(plan: PushPlan, progress: Progress | None = None) -> dict:
    """Upload ``plan``'s bundle; record it in run.json and the event log; return the record.

    Raises:
        PushError: any failure, as one clear message (a ``push`` event with status ``failed``
            is logged; run.json is left unchanged).
    """
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.utils import disable_progress_bars

    report = progress or (lambda message, done, total: None)
    run, bundle, settings = plan.run, plan.bundle, plan.settings
    token = plan.token
    if token is None:
        token, _ = find_token()
    disable_progress_bars()  # progress goes through `report`; tqdm bars would garble logs and the TUI
    # huggingface_hub warns "No files have been modified" on a re-push; the record says it instead
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    api = HfApi(endpoint=plan.endpoint or endpoint(), token=token)
    revision = settings.revision or None
    total = bundle.total_bytes
    t0 = time.perf_counter()
    account = plan.account
    try:
        report(f"creating {plan.repo_id} ({plan.visibility}) if it does not exist", 0, total)
        api.create_repo(plan.repo_id, private=settings.private, exist_ok=True, repo_type="model")
        if revision and revision != "main":
            api.create_branch(plan.repo_id, branch=revision, exist_ok=True, repo_type="model")
        info = api.repo_info(plan.repo_id, revision=revision, repo_type="model")
        before = getattr(info, "sha", None)
        private = getattr(info, "private", None)
        operations = [CommitOperationAdd(path_in_repo=f.path_in_repo,
                                         path_or_fileobj=f.data if f.data is not None else str(f.source))
                      for f in bundle.files]
        done = 0
        for f, op in zip(bundle.files, operations, strict=True):
            report(f"uploading {f.path_in_repo}", done, total)
            api.preupload_lfs_files(plan.repo_id, additions=[op], revision=revision, repo_type="model")
            done += f.size
        report("committing", total, total)
        message = settings.commit_message or f"Upload {run.run_id} with lmtui"
        commit = api.create_commit(plan.repo_id, operations=operations, commit_message=message,
                                   commit_description="Model, model card and loss curve written by lmtui.",
                                   revision=revision, repo_type="model")
    except Exception as exc:  # noqa: BLE001 - one clear message, token scrubbed
        error = explain(exc, token=token, source=account.token_source if account else "", endpoint=api.endpoint,
                        repo_id=plan.repo_id, account=account)
        run.emit("push", status="failed", repo_id=plan.repo_id, revision=plan.revision, error=error.message,
                 seconds=round(time.perf_counter() - t0, 3))
        raise error from None
    record = {
        "repo_id": plan.repo_id,
        "url": f"{api.endpoint}/{plan.repo_id}" + (f"/tree/{revision}" if revision and revision != "main" else ""),
        "revision": plan.revision,
        "commit": commit.oid,
        "commit_url": commit.commit_url,
        "changed": commit.oid != before,
        "private": bool(settings.private if private is None else private),
        "user": account.name if account else None,
        "files": len(bundle.files),
        "bytes": total,
        "time": round(time.time(), 3),
    }
    run.update_state(push=record)
    run.emit("push", status="done", seconds=round(time.perf_counter() - t0, 3), **record)
    _log_link(run, record)
    report("pushed" if record["changed"] else "already up to date", total, total)
    return record
