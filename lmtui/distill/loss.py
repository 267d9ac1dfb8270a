"""The distillation loss of DistilBERT and the objective that trains a student with it.

Sanh et al. 2019, "DistilBERT, a distilled version of BERT" (Hugging Face's
``examples/research_projects/distillation/distiller.py``), after Hinton et al. 2015, "Distilling
the Knowledge in a Neural Network":

    loss = alpha_ce  * T^2 * KL(softmax(t / T) || softmax(s / T))     (batchmean over masked rows)
         + alpha_mlm * cross-entropy(s, true tokens)                     (mean over masked rows)
         + alpha_cos * mean(1 - cos(h_s, h_t))                           (over non-padding positions)

with s, t the student's and teacher's logits at the masked positions only (lmtui's MLM head,
:class:`lmtui.train.model.MaskedLMObjective`) and h_s, h_t their last hidden states. The T^2
factor keeps the soft-target gradients' scale independent of T (Hinton et al. 2015, section 2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lmtui.runs.events import DISTILL_LOSS_FIELDS
from lmtui.train.model import MaskedLMObjective

COMPONENTS = DISTILL_LOSS_FIELDS  # the names of the parts in train events


def distillation_loss(student_logits, teacher_logits, targets, student_states, teacher_states, attention_mask=None,
                      *, temperature: float, alpha_ce: float, alpha_mlm: float,
                      alpha_cos: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The DistilBERT loss (module docstring) and its unweighted components.

    Args:
        student_logits, teacher_logits: (n, vocab) logits at the n masked positions.
        targets: (n,) true token ids of those positions.
        student_states, teacher_states: (B, T, hidden) last hidden states.
        attention_mask: (B, T), 1 on real tokens; None: every position is real (packed sequences).
        temperature: T > 0. alpha_ce, alpha_mlm, alpha_cos: weights >= 0.

    Returns:
        (loss, components): the weighted sum (0-dim, float32), and ``loss_ce`` (T^2 x KL),
        ``loss_mlm`` and ``loss_cos`` (0-dim each; ``loss_cos`` only when the hidden sizes match).
        With no masked position the KL and MLM terms are 0, not NaN.
    """
    n = max(targets.numel(), 1)
    s, t = student_logits.float(), teacher_logits.float()
    kl = F.kl_div(F.log_softmax(s / temperature, dim=-1), F.softmax(t / temperature, dim=-1),
                  reduction="sum") / n
    parts = {"loss_ce": kl * temperature ** 2,
             "loss_mlm": F.cross_entropy(s, targets, reduction="sum") / n}
    if student_states.shape[-1] == teacher_states.shape[-1]:
        hs, ht = student_states.float(), teacher_states.float()
        if attention_mask is not None:
            real = attention_mask.bool()
            hs, ht = hs[real], ht[real]
        else:
            hs, ht = hs.flatten(0, 1), ht.flatten(0, 1)
        parts["loss_cos"] = (1.0 - F.cosine_similarity(hs, ht, dim=-1)).sum() / max(hs.shape[0], 1)
    loss = alpha_ce * parts["loss_ce"] + alpha_mlm * parts["loss_mlm"]
    if alpha_cos:
        loss = loss + alpha_cos * parts["loss_cos"]
    return loss, parts


class DistillationObjective(MaskedLMObjective):
    """The student's :class:`MaskedLMObjective` whose training loss is :func:`distillation_loss`.

    In training mode ``forward`` (same arguments and returns as :class:`MaskedLMObjective`) runs the
    teacher under ``torch.inference_mode`` at the same masked positions, then the student, and
    returns the distillation loss; in eval mode it is the student's plain MLM loss, so held-out
    loss stays comparable with any other run. The teacher is held outside the module's children:
    it is not in the ``state_dict`` (checkpoints hold the student only), the optimizer or DDP, and
    ``.train()`` never reaches it (it stays in eval mode, frozen: :func:`lmtui.distill.teacher.load_teacher`).

    Each training forward adds its unweighted components to running sums that
    :func:`component_means` reads and clears.
    """

    def __init__(self, student, teacher: MaskedLMObjective, recipe):
        super().__init__(student)
        object.__setattr__(self, "teacher", teacher)  # not a submodule
        self.recipe = recipe
        self._sums: dict[str, torch.Tensor] = {}
        self._forwards = 0

    def forward(self, input_ids, labels, attention_mask=None, positions=None, accuracy=True):
        if not self.training:
            return super().forward(input_ids, labels, attention_mask, positions, accuracy)
        with torch.inference_mode():
            t_states, t_logits, _ = self.teacher.masked_logits(input_ids, labels, attention_mask, positions)
        t_states, t_logits = t_states.clone(), t_logits.clone()  # ordinary tensors, usable by autograd
        states, logits, targets = self.masked_logits(input_ids, labels, attention_mask, positions)
        r = self.recipe
        loss, parts = distillation_loss(logits, t_logits, targets, states, t_states, attention_mask,
                                        temperature=r.temperature, alpha_ce=r.alpha_ce, alpha_mlm=r.alpha_mlm,
                                        alpha_cos=r.alpha_cos)
        for name, value in parts.items():
            self._sums[name] = self._sums.get(name, 0) + value.detach()
        self._forwards += 1
        correct = (logits.argmax(-1) == targets).sum() if accuracy else None
        return loss, correct, targets.numel()

    def take_components(self) -> tuple[dict[str, torch.Tensor], int]:
        """The component sums since the last call and the number of forwards they cover; clears them."""
        sums, forwards = self._sums, self._forwards
        self._sums, self._forwards = {}, 0
        return sums, forwards


def component_means(accelerator, objective) -> dict[str, float]:
    """``loss_ce``, ``loss_mlm``, ``loss_cos`` averaged over the training forwards since the last call
    and over the processes (one all-reduce), rounded for a ``train`` event; {} when ``objective`` (as
    prepared by accelerate) is not a :class:`DistillationObjective`. Every rank must call it.

    A component is the mean over forwards (micro-batch chunks) of each one's value, as the ``loss``
    of the event is the mean over micro-batches.
    """
    inner = accelerator.unwrap_model(objective)
    if not isinstance(inner, DistillationObjective):
        return {}
    sums, forwards = inner.take_components()
    names = [c for c in COMPONENTS if c in sums]
    device = accelerator.device
    values = torch.stack([torch.as_tensor(sums[c], device=device, dtype=torch.float32) for c in names]
                         + [torch.tensor(float(forwards), device=device)])
    values = accelerator.reduce(values, reduction="sum")
    total = max(float(values[-1]), 1.0)
    return {c: round(float(v) / total, 5) for c, v in zip(names, values[:-1].tolist())}
