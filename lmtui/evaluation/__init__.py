"""Evaluation of trained models: intrinsic (MLM perplexity, pseudo-perplexity, fill-mask probes)
and downstream fine-tuning (GLUE-style classification, CoNLL-style token classification).

Light modules (no torch/transformers): :mod:`.config` (the ``[eval]`` section and task specs),
:mod:`.readers` (task data files), :mod:`.results` (``<run>/eval/results.json`` and the
comparison table), :mod:`.stage` (the pipeline stage and the launcher of the evaluation worker).
Heavy modules, imported only inside the worker: :mod:`.intrinsic`, :mod:`.finetune`,
:mod:`.worker`. See docs/evaluation.md.
"""
