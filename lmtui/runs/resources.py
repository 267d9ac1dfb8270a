"""What a run's processes use now: CPU, resident memory and, on CUDA, GPU utilization and memory.

A run is its driver's process group (docs/architecture.md, the process model: the driver's
pid is the group id, the trainer and workers are its descendants in the same group). A
:class:`GroupSampler` finds the group's processes from the pid in run.json (checked against
its start time, so a reused pid is not taken for the run), sums their CPU (psutil
``cpu_percent`` since the sampler's previous reading, 100 = one core) and resident set sizes
(shared pages count once per process, as ``ps`` and ``top`` count them), and adds the GPU
memory and SM utilization NVML reports for those pids (:func:`lmtui.hardware.gpu_processes`).
Plain Python: no Textual, no torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import psutil

from lmtui import hardware
from lmtui.fmt import fmt_bytes
from lmtui.procs import pid_alive


@dataclass
class RunResources:
    """One reading of a run's process group.

    Attributes:
        processes: how many processes the group has.
        cpu_percent: CPU since the previous reading, summed (100 = one core busy).
        rss: resident memory in bytes, summed.
        gpu_utilization: SM utilization in percent, summed over the group's GPU processes
            (None when no process of the group uses a GPU, or without NVML).
        gpu_memory: GPU memory in bytes, summed (None likewise).
    """

    processes: int
    cpu_percent: float
    rss: int
    gpu_utilization: float | None = None
    gpu_memory: int | None = None


def group_processes(pid: int) -> list[psutil.Process]:
    """The processes of the process group led by ``pid``: ``pid`` and its descendants still in that group."""
    try:
        root = psutil.Process(pid)
        family = [root] + root.children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for p in family:
        try:
            if os.getpgid(p.pid) == pid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (OSError, psutil.Error):
            continue
    return out


class GroupSampler:
    """Readings of run process groups, keeping the psutil objects between calls (``cpu_percent``
    measures since the previous call on the same object; the first reading of a process is 0).

    Args:
        gpu_processes: returns the GPU processes (tests pass fixed ones); None: NVML's
            (:func:`lmtui.hardware.gpu_processes`, looked up at each reading).
    """

    def __init__(self, gpu_processes: Callable[[], list[hardware.GpuProcess]] | None = None):
        self.gpu_processes = gpu_processes
        self._known: dict[tuple[int, float], psutil.Process] = {}
        self._groups: dict[int, set[tuple[int, float]]] = {}

    def sample(self, pid: int | None, pid_start_time: float | None = None) -> RunResources | None:
        """The group of the driver ``pid`` (started at ``pid_start_time``, Unix seconds); None when it is gone."""
        procs = group_processes(pid) if pid and pid_alive(pid, pid_start_time) else []
        if not procs:
            self._forget(pid, set())
            return None
        cpu, rss, seen = 0.0, 0, {}
        for p in procs:
            try:
                key = (p.pid, p.create_time())
                known = self._known.setdefault(key, p)
                with known.oneshot():
                    cpu += known.cpu_percent(interval=None)
                    rss += known.memory_info().rss
                seen[key] = known
            except psutil.Error:
                continue
        self._forget(pid, set(seen))
        pids = {k[0] for k in seen}
        gpu_util = gpu_mem = None
        for g in (self.gpu_processes or hardware.gpu_processes)():
            if g.pid in pids:
                if g.memory_used is not None:
                    gpu_mem = (gpu_mem or 0) + g.memory_used
                if g.utilization is not None:
                    gpu_util = (gpu_util or 0.0) + g.utilization
        return RunResources(len(seen), cpu, rss, gpu_util, gpu_mem)

    def _forget(self, pid: int | None, keep: set) -> None:
        """Drop the processes of ``pid``'s group that are not in ``keep`` (gone since the last reading)."""
        for key in self._groups.pop(pid, set()) - keep:
            self._known.pop(key, None)
        if keep:
            self._groups[pid] = keep


def resource_cells(r: RunResources | None) -> dict[str, str]:
    """Table cells of a reading: ``cpu`` (``180%``), ``mem`` (``1.2 GB``), ``gpu`` (``87% 3.4 GB``);
    ``-`` for a run whose processes are gone and for no GPU use."""
    if r is None:
        return {"cpu": "-", "mem": "-", "gpu": "-"}
    gpu = "-"
    if r.gpu_memory is not None or r.gpu_utilization is not None:
        util = "-" if r.gpu_utilization is None else f"{r.gpu_utilization:.0f}%"
        gpu = f"{util} {fmt_bytes(r.gpu_memory) if r.gpu_memory is not None else '-'}"
    return {"cpu": f"{r.cpu_percent:.0f}%", "mem": fmt_bytes(r.rss), "gpu": gpu}


_table_sampler = GroupSampler()


def table_cells(status: str, state: dict) -> dict[str, str]:
    """:func:`resource_cells` of a run for a table row: its process group now while ``status`` is
    queued or running (``state`` is its run.json), ``-`` otherwise. One sampler serves every table,
    so each run's CPU is measured since the previous row of that run."""
    if status not in ("queued", "running"):
        return resource_cells(None)
    return resource_cells(_table_sampler.sample(state.get("pid"), state.get("pid_start_time")))
