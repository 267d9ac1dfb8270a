"""The project file's ``[hub]`` section: where and how a run's model is published.

Imports nothing heavy (no huggingface_hub, torch or transformers): the schema, the loader,
``lmtui keys`` and the TUI read it cheaply. There is deliberately no key for the access token:
it comes from ``HF_TOKEN`` or the huggingface_hub login store only (see docs/publishing.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from lmtui.project.sections import key


@dataclass
class HubSection:
    repo_id: str = key("", "Hugging Face Hub repository, USER/NAME or ORG/NAME. Default: your user name / "
                       "the project name.")
    private: bool = key(True, "Create the repository private (a repository that already exists keeps its "
                        "visibility).")
    push_at_end: bool = key(False, "Publish the model as the last stage of `lmtui run` (needs a token: "
                            "HF_TOKEN or `hf auth login`).")
    revision: str = key("", "Branch to push to (created when missing). Default: main.")
    license: str = key("apache-2.0", "License identifier written in the model card's metadata (a Hub "
                       "license id, e.g. apache-2.0, mit, cc-by-4.0, other); match your corpus's terms.")
    language: list = key(None, "Language codes for the model card's metadata (ISO 639-1, e.g. en).",
                         factory=lambda: ["en"])
    datasets: list = key(None, "Hub dataset ids for the model card's metadata. Default: [corpus] hf_dataset "
                         "when set.", factory=list)
    tags: list = key(None, "Extra tags for the model card's metadata.", factory=list)
    model_name: str = key("", "Model name in the card's title and model-index. Default: the repository name.")
    include_checkpoints: bool = key(False, "Also upload the run's checkpoints (checkpoints/step-N/, with "
                                    "optimizer states).")
    include_events: bool = key(False, "Also upload the run's event log (events.jsonl).")
    commit_message: str = key("", "Commit message of the push. Default: 'Upload <run id> with lmtui'.")

