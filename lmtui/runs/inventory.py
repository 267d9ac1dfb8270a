"""What a run can be given on this machine: its GPUs (with the ones busy with other programs), or CPU slots.

The GPUs come from NVML (:func:`lmtui.hardware.gpu_count`, :func:`lmtui.hardware.gpu_processes`).
On a machine without GPUs, runs that ask for ``[hardware] slots`` share :func:`slot_count` slots.

Two environment variables are read here and nowhere else:

- ``LMTUI_FAKE_GPUS`` replaces NVML with a made-up inventory, for tests and for trying the
  queue on a CPU machine: ``"0,1,2,3"`` is four free GPUs, ``"0,1:busy"`` two GPUs of which GPU 1
  runs a program that is not an lmtui run, ``""`` (set but empty) no GPU at all.
- ``LMTUI_SLOTS`` is the number of CPU slots of the machine (default :data:`DEFAULT_SLOTS`).

Plain Python: no torch, no Textual.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lmtui import hardware
from lmtui.errors import LmtuiError
from lmtui.numbers import env_number

FAKE_GPUS_ENV = "LMTUI_FAKE_GPUS"
SLOTS_ENV = "LMTUI_SLOTS"
DEFAULT_SLOTS = 1  # a CPU run uses every core: one at a time unless the user says otherwise


@dataclass
class Gpu:
    """One GPU: its index (as CUDA_VISIBLE_DEVICES counts them) and the pids of the programs on it."""

    index: int
    pids: list[int] = field(default_factory=list)
    fake_busy: bool = False  # LMTUI_FAKE_GPUS "N:busy": taken by a program we cannot see


def gpus() -> list[Gpu]:
    """This machine's GPUs, from ``LMTUI_FAKE_GPUS`` when it is set, else from NVML (empty
    without nvidia-ml-py or a driver).

    Raises:
        LmtuiError: ``LMTUI_FAKE_GPUS`` is not a comma-separated list of ``N`` or ``N:busy``.
    """
    fake = os.environ.get(FAKE_GPUS_ENV)
    if fake is not None:
        return _parse_fake(fake)
    count = hardware.gpu_count()
    if not count:
        return []
    processes = hardware.gpu_processes()
    return [Gpu(i, [p.pid for p in processes if p.gpu == i]) for i in range(count)]


def _parse_fake(text: str) -> list[Gpu]:
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        index, _, flag = item.partition(":")
        if not index.isdigit() or flag not in ("", "busy"):
            raise LmtuiError(f"{FAKE_GPUS_ENV}={text!r}: {item!r} is not N or N:busy",
                             hint=f'write e.g. {FAKE_GPUS_ENV}="0,1,2:busy,3"')
        out.append(Gpu(int(index), fake_busy=flag == "busy"))
    return out


def slot_count() -> int:
    """CPU slots of this machine: ``LMTUI_SLOTS`` when set, else :data:`DEFAULT_SLOTS`.

    Raises:
        LmtuiError: ``LMTUI_SLOTS`` is not a positive integer.
    """
    return env_number(SLOTS_ENV, DEFAULT_SLOTS, int, minimum=1)
