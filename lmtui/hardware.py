"""This machine's GPUs and load: NVIDIA GPUs through NVML, else CPU and RAM.

NVML comes from ``nvidia-ml-py`` (module ``pynvml``, the ``gpu`` extra); without it, or
without a driver, the panel shows CPU and memory from psutil. Utilization and CPU are
percent, memory is bytes, temperature degrees Celsius, power watts.

Plain Python (no Textual, no torch), used by the UI and the core alike: the app takes
:func:`sample` as its ``hardware_sampler`` and :class:`lmtui.tui.widgets.hardware.HardwarePanel`
draws the readings (tests pass a fixed :class:`HardwareSample` instead); the project estimate
counts GPUs with :func:`gpu_count`; :mod:`lmtui.runs.resources` reads the GPU share of a run's
processes with :func:`gpu_processes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil


@dataclass
class GpuSample:
    index: int
    name: str
    utilization: float  # percent
    memory_used: int  # bytes
    memory_total: int  # bytes
    temperature: float  # degrees Celsius
    power_w: float | None = None


@dataclass
class GpuProcess:
    """One process's use of one GPU (NVML): memory in bytes, SM utilization in percent (None when
    NVML has no reading for it, e.g. no sample since the last call)."""

    pid: int
    gpu: int
    memory_used: int | None
    utilization: float | None


@dataclass
class HardwareSample:
    """One reading: the GPUs (empty without NVML) and the CPU and RAM."""

    gpus: list[GpuSample]
    cpu_percent: float
    memory_used: int
    memory_total: int


class _Nvml:
    """NVML opened once; ``ok`` is False when the library or a driver is missing."""

    def __init__(self):
        self.ok = False
        self.handles = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nv = pynvml
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            self.ok = bool(self.handles)
        except Exception:  # ImportError, NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded, ...
            self.ok = False

    def sample(self) -> list[GpuSample]:
        out = []
        nv = self.nv
        for i, h in enumerate(self.handles):
            try:
                name = nv.nvmlDeviceGetName(h)
                util = nv.nvmlDeviceGetUtilizationRates(h).gpu
                mem = nv.nvmlDeviceGetMemoryInfo(h)
                temp = nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)
                try:
                    power = nv.nvmlDeviceGetPowerUsage(h) / 1000.0
                except nv.NVMLError:
                    power = None
            except nv.NVMLError:
                continue
            out.append(GpuSample(i, name.decode() if isinstance(name, bytes) else str(name), float(util),
                                 int(mem.used), int(mem.total), float(temp), power))
        return out

    def processes(self) -> list[GpuProcess]:
        """Compute processes of every GPU with their memory and recent SM utilization."""
        out = []
        nv = self.nv
        for i, h in enumerate(self.handles):
            try:
                running = nv.nvmlDeviceGetComputeRunningProcesses(h)
            except nv.NVMLError:
                continue
            util: dict[int, float] = {}
            latest: dict[int, int] = {}
            try:  # per-process samples since timestamp 0 (all the driver holds); the newest one counts
                for u in nv.nvmlDeviceGetProcessUtilization(h, 0):
                    if u.timeStamp >= latest.get(u.pid, -1):
                        latest[u.pid], util[u.pid] = u.timeStamp, float(u.smUtil)
            except nv.NVMLError:  # NVMLError_NotFound when there is no sample yet, NotSupported on some boards
                pass
            for p in running:
                memory = p.usedGpuMemory if isinstance(p.usedGpuMemory, int) else None
                out.append(GpuProcess(int(p.pid), i, memory, util.get(p.pid)))
        return out


_nvml: _Nvml | None = None


def _get_nvml() -> _Nvml:
    global _nvml
    if _nvml is None:
        _nvml = _Nvml()
    return _nvml


def gpu_count() -> int:
    """NVIDIA GPUs visible through NVML (0 without nvidia-ml-py or a driver)."""
    nvml = _get_nvml()
    return len(nvml.handles) if nvml.ok else 0


def gpu_processes() -> list[GpuProcess]:
    """Every process using an NVIDIA GPU, with its memory and utilization ([] without NVML)."""
    nvml = _get_nvml()
    return nvml.processes() if nvml.ok else []


def sample() -> HardwareSample:
    """Read the GPUs (if any), CPU utilization since the last call, and memory."""
    nvml = _get_nvml()
    mem = psutil.virtual_memory()
    return HardwareSample(gpus=nvml.sample() if nvml.ok else [], cpu_percent=psutil.cpu_percent(interval=None),
                          memory_used=int(mem.total - mem.available), memory_total=int(mem.total))
