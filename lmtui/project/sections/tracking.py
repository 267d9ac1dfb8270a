"""The project file's ``[tracking]`` section: the experiment trackers a run reports to.

Trackers are accelerate's (``Accelerator(log_with=...)``, see :mod:`lmtui.train.tracking`):
every name of :data:`TRACKERS` works without code of ours per tracker once its package is
installed. This module imports nothing heavy (no accelerate, torch or the trackers): the
package check finds the module with :func:`importlib.util.find_spec` and its distribution with
:mod:`importlib.metadata`, as accelerate's own ``is_*_available`` functions do, so that a
tracker accelerate would silently drop is one clear error at check time.

Example::

    [tracking]
    report_to = ["tensorboard", "wandb"]
"""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
from dataclasses import dataclass

from lmtui.errors import ProjectError
from lmtui.project.lines import line_of
from lmtui.project.sections import key

# accelerate's tracker name -> (modules, any of which serves, with their distributions; the pip package to install)
TRACKERS: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "tensorboard": ((("tensorboard", "tensorboard"), ("tensorboardX", "tensorboardX")), "tensorboard"),
    "wandb": ((("wandb", "wandb"),), "wandb"),
    "mlflow": ((("mlflow", "mlflow"), ("mlflow", "mlflow-skinny")), "mlflow"),
    "trackio": ((("trackio", "trackio"),), "trackio"),
    "comet_ml": ((("comet_ml", "comet-ml"),), "comet-ml"),
    "aim": ((("aim", "aim"),), "aim"),
    "clearml": ((("clearml", "clearml"),), "clearml"),
    "dvclive": ((("dvclive", "dvclive"),), "dvclive"),
    "swanlab": ((("swanlab", "swanlab"),), "swanlab"),
}


def installed(name: str) -> bool:
    """Whether the package of tracker ``name`` (a key of :data:`TRACKERS`) is importable and installed."""
    for module, distribution in TRACKERS[name][0]:
        if importlib.util.find_spec(module) is None:
            continue
        try:
            importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
        return True
    return False


@dataclass
class TrackingSection:
    report_to: list = key(None, "Experiment trackers the run logs to through accelerate: tensorboard (written "
                          "to <run>/tensorboard/), wandb, mlflow (a file store under output_dir unless "
                          "MLFLOW_TRACKING_URI is set), trackio, comet_ml, aim, clearml, dvclive, swanlab; "
                          "each needs its package installed. [] logs to none.",
                          factory=lambda: ["tensorboard"])

    def check(self, project, text: str = "") -> None:
        """Check that every tracker is one accelerate knows (whether its package is installed is
        :func:`lmtui.train.checks.check_trackers`'s: it asks this machine, not the file).

        Raises:
            ProjectError: an unknown tracker name (with a did-you-mean); file, ``tracking.report_to``
                and its line.
        """
        where = {"file": project.path or "<project>", "key": "tracking.report_to",
                 "line": line_of(text, "tracking", "report_to")}
        for name in self.report_to:
            if name not in TRACKERS:
                guess = difflib.get_close_matches(name, list(TRACKERS), n=1, cutoff=0.6)
                raise ProjectError(f"unknown tracker {name!r}", **where,
                                   hint=(f"did you mean '{guess[0]}'? " if guess else "")
                                   + f"choose from: {', '.join(TRACKERS)}")
