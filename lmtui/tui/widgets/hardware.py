"""Hardware panel: GPU utilization, memory and temperature (NVML), else CPU and RAM."""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.widgets import Static

from lmtui import hardware
from lmtui.fmt import fmt_bytes


def bar(fraction: float, width: int = 10) -> str:
    """A text gauge: ``███████░░░`` for 0.7."""
    fraction = min(1.0, max(0.0, fraction))
    full = int(round(fraction * width))
    return "█" * full + "░" * (width - full)


def describe(sample: hardware.HardwareSample) -> Text:
    """The panel's text for one reading."""
    out = Text()
    for g in sample.gpus:
        mem = g.memory_used / g.memory_total if g.memory_total else 0.0
        power = f"  {g.power_w:.0f} W" if g.power_w is not None else ""
        out.append(f"GPU{g.index} {g.name}\n", style="bold")
        out.append(f"  util {bar(g.utilization / 100)} {g.utilization:3.0f}%  {g.temperature:.0f}°C{power}\n")
        out.append(f"  mem  {bar(mem)} {fmt_bytes(g.memory_used)} / {fmt_bytes(g.memory_total)}\n")
    mem = sample.memory_used / sample.memory_total if sample.memory_total else 0.0
    out.append(f"CPU  {bar(sample.cpu_percent / 100)} {sample.cpu_percent:3.0f}%\n")
    out.append(f"RAM  {bar(mem)} {fmt_bytes(sample.memory_used)} / {fmt_bytes(sample.memory_total)}")
    return out


class HardwarePanel(Static):
    """This machine's load, refreshed every ``interval`` seconds while it is on screen.

    Args:
        sampler: returns a :class:`lmtui.hardware.HardwareSample` (tests pass a fixed one).
    """

    def __init__(self, sampler: Callable[[], hardware.HardwareSample] = hardware.sample, *,
                 interval: float = 2.0, id: str | None = None):
        super().__init__("", id=id)
        self.sampler = sampler
        self.interval = interval

    def on_mount(self) -> None:
        self.border_title = "this machine"
        self.sample(force=True)
        self.set_interval(self.interval, self.sample)

    def on_show(self) -> None:
        self.sample(force=True)

    def sample(self, force: bool = False) -> None:
        """Take a reading and show it (skipped while the panel is not on screen, unless ``force``)."""
        if not force and not self.is_on_screen:
            return
        reading = self.sampler()
        self.border_subtitle = "" if reading.gpus else "no NVIDIA GPU visible"
        self.update(describe(reading))
