"""Publishing a run's model to the Hugging Face Hub: model card, upload, and the publish stage.

Modules: :mod:`config` (the ``[hub]`` section, light), :mod:`card` (the model card and loss
curve), :mod:`bundle` (what is uploaded, and the dry-run folder), :mod:`auth` (token lookup and
account checks), :mod:`push` (the upload), :mod:`stage` (the publish stage of ``lmtui run``).
"""
