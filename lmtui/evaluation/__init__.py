"""Evaluation of trained models: intrinsic (MLM perplexity, pseudo-perplexity, fill-mask probes)
and downstream fine-tuning (GLUE-style classification, CoNLL-style token classification).

The ``[eval]`` section and its task specs are in :mod:`lmtui.project.sections.eval`.
Light modules (no torch/transformers): :mod:`.readers` (task data files), :mod:`.results` (``<run>/eval/results.json`` and the
comparison table), :mod:`.stage` (the pipeline stage and the launcher of the evaluation worker).
Heavy modules, imported only inside the worker: :mod:`.intrinsic`, :mod:`.finetune`,
:mod:`.worker`. See docs/evaluation.md.
"""
