"""The publish stage of ``lmtui run``: push the model when ``[hub] push_at_end`` is true.

The driver (:mod:`lmtui.driver`) calls :func:`wanted` to decide whether the stage runs and
:func:`run_stage` to run it, after pretraining (and evaluation). What the stage prints goes
to the run's ``train.log``; the outcome is the ``push`` event and run.json's ``push``. A
failure raises :class:`lmtui.hub.push.PushError`: the run is marked failed with that message,
its model stays in ``<run>/model``, and ``lmtui push RUN`` (or ``lmtui run`` again) retries.
"""

from __future__ import annotations

import time

from lmtui.runs.rundir import RunDir


def wanted(project) -> bool:
    """Whether the project asks for a push at the end of the run."""
    return project.hub.push_at_end


def preflight(project) -> str | None:
    """A warning to show before a run starts when its publish stage cannot work (no token), else
    None. Offline and cheap: looks for the token, sends nothing."""
    if not wanted(project):
        return None
    from lmtui.hub.push import PushError, find_token

    try:
        find_token()
    except PushError as exc:
        return f"[hub] push_at_end is set but {exc.message}; the run would fail at its publish stage ({exc.hint})"
    return None


def run_stage(run: RunDir, project) -> None:
    """Push ``run``'s model with the project's ``[hub]`` settings; progress lines go to stdout."""
    from lmtui.hub.push import PushError, execute, plan_push, run_settings

    settings = run_settings(run, project)
    last = {"message": "", "time": 0.0}

    def report(message: str, done: int, total: int) -> None:
        now = time.monotonic()
        if message != last["message"] or now - last["time"] > 5:
            pct = f" ({done / total:.0%})" if total else ""
            print(f"push: {message}{pct}", flush=True)
            last.update(message=message, time=now)

    try:
        plan = plan_push(run, settings, allow_active=True)
    except PushError as exc:
        run.emit("push", status="failed", repo_id=settings.repo_id or None, revision=settings.revision or "main",
                 error=exc.message)
        raise PushError(f"publish: {exc.message}", hint=(exc.hint or "") +
                        f"; the model is saved in {run.model_dir}, push it later with `lmtui push {run.run_id}`") from None
    print(f"push: {plan.repo_id} ({plan.visibility}, branch {plan.revision}) as {plan.account.name} "
          f"(token from {plan.account.token_source}: {plan.account.token_masked}); "
          f"{len(plan.bundle.files)} files, {plan.bundle.total_bytes:,} bytes", flush=True)
    try:
        record = execute(plan, report)
    except PushError as exc:
        raise PushError(f"publish: {exc.message}", hint=(exc.hint or "") +
                        f"; the model is saved in {run.model_dir}, push it later with `lmtui push {run.run_id}`") from None
    print(f"push: {'pushed to' if record['changed'] else 'already up to date:'} {record['url']} "
          f"(commit {record['commit']})", flush=True)
