"""Per-run resources: the table cells of a reading, and NVML's per-process GPU readings (a fake NVML)."""

from __future__ import annotations

from types import SimpleNamespace

from lmtui import hardware
from lmtui.runs.resources import GroupSampler, RunResources, resource_cells


def test_cells_of_a_reading():
    assert resource_cells(None) == {"cpu": "-", "mem": "-", "gpu": "-"}
    r = RunResources(processes=3, cpu_percent=181.4, rss=3 << 29)
    assert resource_cells(r) == {"cpu": "181%", "mem": "1.5 GB", "gpu": "-"}
    r.gpu_utilization, r.gpu_memory = 87.0, 3 << 30
    assert resource_cells(r)["gpu"] == "87% 3.0 GB"


class FakeNvml:
    class NVMLError(Exception):
        pass

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        if handle == "broken":
            raise self.NVMLError("gone")
        return [SimpleNamespace(pid=11, usedGpuMemory=1 << 30), SimpleNamespace(pid=12, usedGpuMemory=None)]

    def nvmlDeviceGetProcessUtilization(self, handle, since):
        return [SimpleNamespace(pid=11, smUtil=10, timeStamp=1), SimpleNamespace(pid=11, smUtil=70, timeStamp=5),
                SimpleNamespace(pid=11, smUtil=30, timeStamp=3)]


def test_gpu_processes_take_the_newest_utilization_sample_and_skip_a_failing_device():
    nvml = hardware._Nvml.__new__(hardware._Nvml)
    nvml.nv, nvml.handles, nvml.ok = FakeNvml(), ["gpu0", "broken"], True
    procs = nvml.processes()
    assert [(p.pid, p.gpu, p.memory_used, p.utilization) for p in procs] == [(11, 0, 1 << 30, 70.0),
                                                                             (12, 0, None, None)]


def test_a_gone_process_group_reads_as_none():
    sampler = GroupSampler(gpu_processes=lambda: [])
    assert sampler.sample(None) is None
    assert sampler.sample(2 ** 22 + 12345, 1.0) is None  # no such pid
