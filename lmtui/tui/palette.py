"""Command palette (ctrl+p): switch screens, launch a project, open, stop or resume a run, by fuzzy name.

A Textual command ``Provider`` (the app adds it to ``App.COMMANDS``); its entries come from the
app's catalog of projects and its polled runs, and each calls the app's own action.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class LmtuiCommands(Provider):
    """Commands over the projects and runs the app knows about."""

    def commands(self) -> list[tuple[str, object, str]]:
        app = self.app
        out = [("Show projects", partial(app.switch_mode, "projects"), "the projects screen"),
               ("Show runs", partial(app.switch_mode, "runs"), "the runs screen")]
        for entry in app.catalog.projects():
            out.append((f"Launch {entry.name}", partial(app.launch_dialog, entry.path), str(entry.path)))
        for t in app.poll_runs(poll=False):
            path = str(t.path)
            out.append((f"Open run {t.run_id}", partial(app.open_run, path), f"{t.status}, {t.project_name}"))
            if t.status in ("queued", "running"):
                out.append((f"Stop run {t.run_id}", partial(app.stop_run, path), "graceful: checkpoint and exit"))
            if t.status in ("stopped", "pruned", "crashed", "failed"):
                out.append((f"Resume run {t.run_id}", partial(app.resume_run, path), "from the last checkpoint"))
        return out

    async def discover(self) -> Hits:
        for name, callback, help_text in self.commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
