"""Publishing a run's model to the Hugging Face Hub: model card, upload, and the publish stage.

Modules: :mod:`.card` (the model card and loss curve), :mod:`.bundle` (what is uploaded, and
the dry-run folder), :mod:`.push` (token lookup, account checks and the upload), :mod:`.stage`
(the publish stage of ``lmtui run``). The ``[hub]`` section is in
:mod:`lmtui.project.sections.hub`.
"""
