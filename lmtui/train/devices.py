"""Which device a run trains on and in which precision, decided once for the trainer, the
evaluation worker and the command that launches them.

``[hardware] device``: ``auto`` is CUDA when torch sees a GPU, else the CPU; ``cpu`` is the
CPU; ``cuda`` needs a GPU (the launcher refuses the project before anything is written when
there is none, see :func:`require_device`). ``mixed_precision = "auto"`` is bf16 on a CUDA
device that supports it (Ampere or newer), else full precision.
"""

from __future__ import annotations

import os

import torch

from lmtui.errors import ProjectError


def cpu_threads() -> int:
    """Threads per CPU training process (the trainer calls ``torch.set_num_threads`` with it): the
    user's ``OMP_NUM_THREADS`` when set (torchrun sets 1 per rank), else every core.

    Several runs sharing a box (or a test runner with two workers) set it to share the cores
    instead of oversubscribing them, which slows every OpenMP thread down.
    """
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else os.cpu_count() or 1


def uses_cpu(device: str) -> bool:
    """Whether a run with ``[hardware] device = device`` runs on the CPU on this machine (a TPU
    run never does: accelerate places it on the XLA device)."""
    return device == "cpu" or device != "tpu" and not torch.cuda.is_available()


def resolve_mixed_precision(setting: str, cpu: bool) -> str:
    """``[hardware] mixed_precision`` for accelerate: ``auto`` becomes ``bf16`` on a CUDA device
    that supports it and ``no`` otherwise; other settings pass unchanged."""
    if setting != "auto":
        return setting
    if cpu:
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported() else "no"


def require_device(project, text: str = "") -> None:
    """Refuse ``[hardware] device = "cuda"`` on a machine where torch sees no CUDA device.

    Raises:
        ProjectError: naming the file, ``hardware.device`` and its line.
    """
    if project.hardware.device == "cuda" and not torch.cuda.is_available():
        from lmtui.project.lines import line_of

        raise ProjectError("hardware.device is \"cuda\" but torch sees no CUDA device on this machine",
                           file=project.path or "<project>", key="hardware.device",
                           line=line_of(text, "hardware", "device") if text else None,
                           hint=f"set device = \"auto\" (falls back to the CPU) or \"cpu\"; torch {torch.__version__} "
                                "is installed" + ("" if torch.version.cuda else " without CUDA support"))
