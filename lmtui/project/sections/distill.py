"""The project file's ``[distill]`` section: knowledge distillation into the project's model.

A project with ``[distill] teacher`` set trains its ``[model]`` (the student) to match the
teacher's output distribution instead of pretraining it alone, as DistilBERT did (Sanh et al.
2019, after Hinton et al. 2015): the loss is ``alpha_ce`` x T^2 x KL(teacher || student) on
temperature-T softened logits + ``alpha_mlm`` x the MLM loss + ``alpha_cos`` x the cosine
embedding loss between the last hidden states. The defaults are DistilBERT's recipe.

Plain dataclass, no torch: the schema, the loader, ``lmtui keys`` and the TUI read it cheaply.
The checks that relate it to the rest of the project are in :mod:`lmtui.distill.checks`; a run's
frozen project names the teacher's absolute folder (:func:`lmtui.runs.modelref.resolved_references`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lmtui.project.sections import key

INITS = ("teacher_layers", "random")


@dataclass
class DistillSection:
    teacher: str = key("", "Distil this masked LM into the project's [model]: a run (id, unique prefix, directory or "
                       "project name), a model folder or a Hub model id in the local cache. Its tokenizer is used. "
                       "Empty: no distillation.")
    init: str = key("teacher_layers", "Student initialisation: teacher_layers (the teacher's embeddings, head and "
                    "every k-th layer, DistilBERT-style; the student takes the teacher's width) or random.",
                    choices=INITS)
    layers: list[int] = key(None, "Teacher layers copied into the student, in order (0-based), e.g. [0, 2]. "
                              "Empty: every k-th layer, k = teacher layers // student layers.", factory=list)
    temperature: float = key(2.0, "Softmax temperature T of the KL term (Hinton et al. 2015).", minimum=0.01)
    alpha_ce: float = key(5.0, "Weight of T^2 x the KL divergence of the student's softened distribution from the "
                          "teacher's, on the masked positions.", minimum=0.0)
    alpha_mlm: float = key(2.0, "Weight of the student's masked-LM loss on the true tokens.", minimum=0.0)
    alpha_cos: float = key(1.0, "Weight of the cosine embedding loss between teacher and student last hidden states.",
                           minimum=0.0)
