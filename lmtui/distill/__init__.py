"""Knowledge distillation (``[distill]``): the teacher, the student's initialisation, the loss, the checks.

- :mod:`.teacher`: resolve the teacher (run, model folder, Hub cache), read its config, load it frozen
- :mod:`.checks`: the cross-key rules of ``[distill]`` (json and tokenizers only, no torch)
- :mod:`.init`: the student's config and its ``teacher_layers`` initialisation (BERT -> DistilBERT included)
- :mod:`.loss`: the DistilBERT loss and :class:`~lmtui.distill.loss.DistillationObjective`
- :mod:`.compare`: teacher against student (retention, speed-up) for evaluation and ``lmtui compare``
"""
