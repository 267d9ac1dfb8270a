"""Benchmarks of the terminal UI (not tests): start-up, chart redraw, following a fast events file.

    python bench/tui_bench.py                 # all three, a JSON summary at the end
    python bench/tui_bench.py startup charts  # some of them

1. startup: wall time from running `lmtui` in a real terminal (tmux) to the first painted
   screen (the runs table showing a run), Python's own start included. Goal: under 1 s.
2. charts: one redraw of a chart holding 100,000 points (downsampling to the chart's width
   and plotext), full screen at 120x40 and as one of the run screen's four charts at 80x24,
   linear and log scale, step and time axes. Goal: under 50 ms.
3. follow: an events file (and train.log) growing by 1,000 lines a second for 10 s while the
   run screen is open; reports how far the view fell behind (lines not yet read) and the
   event loop's latency (how late a 20 ms timer fires), i.e. whether the UI keeps up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from lmtui.runs.rundir import RunDir

REPO = Path(__file__).resolve().parents[1]


def make_run(root: Path, run_id: str, points: int = 200) -> RunDir:
    """A finished run directory with ``points`` train events, written through RunDir."""
    run = RunDir(root / run_id)
    run.path.mkdir(parents=True)
    run.project_file.write_text("[project]\nname = \"bench\"\n")
    run.update_state(version=1, run_id=run_id, project_name="bench", status="finished", created=time.time(),
                     started=time.time(), ended=time.time() + 60, host="bench")
    run.emit("train_start", max_steps=points * 10, start_step=0, device="cpu", num_processes=1, params=1e6)
    lines = []
    for i in range(1, points + 1):
        lines.append(json.dumps({"v": 1, "time": time.time() + i, "type": "train", "step": i * 10,
                                 "max_steps": points * 10, "loss": 2 + 6 * math.exp(-i / 50), "learning_rate": 1e-3,
                                 "tokens_per_s": 5000.0}))
    with open(run.events_file, "a") as fh:
        fh.write("\n".join(lines) + "\n")
    run.log_file.write_text("log line\n" * 100)
    return run


# 1. start-up ----------------------------------------------------------------------------
def bench_startup(repeats: int = 5) -> dict:
    if not shutil.which("tmux"):
        return {"skipped": "tmux is not installed"}
    work = Path(tempfile.mkdtemp(prefix="lmtui-bench-"))
    (work / "projects").mkdir()
    shutil.copy(REPO / "projects" / "demo.toml", work / "projects" / "demo.toml")
    for i in range(5):
        make_run(work / "runs", f"bench-2027011{i}-000000")
    times = []
    for i in range(repeats):
        name = f"lmtui-bench-{os.getpid()}-{i}"
        t0 = time.perf_counter()
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24",
                        f"cd {work} && exec {sys.executable} -m lmtui"], check=True)
        while True:
            out = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout
            if "bench-20270114-000000" in out:
                times.append(time.perf_counter() - t0)
                break
            if time.perf_counter() - t0 > 30:
                times.append(float("nan"))
                break
            time.sleep(0.005)
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
        time.sleep(0.3)
    shutil.rmtree(work, ignore_errors=True)
    python_alone = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        python_alone.append(time.perf_counter() - t0)
    return {"first_paint_s": {"median": statistics.median(times), "min": min(times), "max": max(times)},
            "python_start_s": statistics.median(python_alone), "goal_s": 1.0}


# 2. chart redraw ------------------------------------------------------------------------
def bench_charts(points: int = 100_000, repeats: int = 15) -> dict:
    from textual.app import App

    from lmtui.runs.series import Series
    from lmtui.tui.widgets.chart import Chart, Curve

    rng = random.Random(0)
    series = Series(0.6)
    for i in range(points):
        series.append(i, 1000.0 + i * 0.5, 2 + 6 * math.exp(-i / 20000) + rng.random() * 0.3)
    results = {}

    class One(App):
        CSS = "Chart { width: 1fr; height: 1fr; }"

        def compose(self):
            yield Chart("loss", id="c")

    class Grid(App):
        CSS = "Screen { layout: grid; grid-size: 2 2; } Chart { width: 1fr; height: 1fr; }"

        def compose(self):
            for i in range(4):
                yield Chart("loss", id=f"c{i}")

    async def measure(app_cls, size, label):
        app = app_cls()
        async with app.run_test(size=size) as pilot:
            chart = app.screen.query(Chart).first()
            chart.set_curves([Curve("train", series, origin=1000.0)])
            await pilot.pause()
            for log_y in (False, True):
                for axis in ("step", "time"):
                    chart.log_y, chart.x_axis = log_y, axis
                    samples = []
                    for _ in range(repeats):
                        chart._cache_key = None  # a new point arrived: the cache is stale
                        chart.render()
                        samples.append(chart.render_ms)
                    results[f"{label} {'log' if log_y else 'linear'} {axis}"] = {
                        "median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1),
                        "chart_cells": f"{chart.size.width}x{chart.size.height}"}

    asyncio.run(measure(One, (120, 40), "full screen 120x40"))
    asyncio.run(measure(Grid, (80, 24), "run-screen grid at 80x24"))
    return {"points": points, "goal_ms": 50, "redraw": results}


# 3. following a fast events file -----------------------------------------------------------
def bench_follow(rate: int = 1000, seconds: float = 10.0) -> dict:
    from lmtui.tui.app import LmtuiApp
    from lmtui.tui.screens.run import RunScreen

    work = Path(tempfile.mkdtemp(prefix="lmtui-follow-"))
    run = make_run(work / "runs", "fast-20270101-000000", points=10)
    run.update_state(status="running", pid=os.getpid(),
                     pid_start_time=__import__("psutil").Process(os.getpid()).create_time())
    stop = threading.Event()
    written = {"lines": 0}

    def writer():
        step = 1000
        batch = max(1, rate // 50)
        next_t = time.perf_counter()
        with open(run.events_file, "a") as ev, open(run.log_file, "a") as log:
            while not stop.is_set():
                rows = []
                for _ in range(batch):
                    step += 1
                    rows.append(json.dumps({"v": 1, "time": time.time(), "type": "train", "step": step,
                                            "max_steps": 10**9, "loss": 2.0 + random.random(),
                                            "learning_rate": 1e-3, "tokens_per_s": 5000.0, "eta_s": 100}))
                ev.write("\n".join(rows) + "\n")
                ev.flush()
                log.write("".join(f"step {step} loss 2.0\n" for _ in range(batch)))
                log.flush()
                written["lines"] += batch
                next_t += batch / rate
                time.sleep(max(0.0, next_t - time.perf_counter()))

    async def main():
        app = LmtuiApp([str(work / "runs")], cwd=work)
        lags, late = [], []
        async with app.run_test(size=(120, 40)) as pilot:
            app.open_run(run.path)
            await pilot.pause(0.5)
            screen = app.screen
            assert isinstance(screen, RunScreen)
            thread = threading.Thread(target=writer)
            thread.start()
            t_end = time.perf_counter() + seconds
            loop = asyncio.get_running_loop()
            while time.perf_counter() < t_end:
                t0 = loop.time()
                await asyncio.sleep(0.02)
                late.append((loop.time() - t0 - 0.02) * 1000)
                if len(late) % 25 == 0:
                    lags.append(screen.tracker.behind())
            stop.set()
            thread.join()
            t0 = time.perf_counter()
            while screen.tracker.behind() and time.perf_counter() - t0 < 10:
                await pilot.pause(0.05)
            catch_up = time.perf_counter() - t0
            shown = len(screen.tracker.series["loss"])
            chart_ms = screen.charts["chart-loss"].render_ms
        line_bytes = run.events_file.stat().st_size / max(1, shown)
        return {"lines_written": written["lines"], "rate_per_s": rate, "seconds": seconds,
                "points_in_chart_at_end": shown,
                "max_lag_lines": round(max(lags) / line_bytes) if lags else 0,
                "median_lag_lines": round(statistics.median(lags) / line_bytes) if lags else 0,
                "catch_up_after_stop_s": round(catch_up, 2),
                "event_loop_late_ms": {"median": round(statistics.median(late), 1),
                                       "p95": round(sorted(late)[int(len(late) * 0.95)], 1),
                                       "max": round(max(late), 1)},
                "last_chart_redraw_ms": round(chart_ms, 1)}

    try:
        return asyncio.run(main())
    finally:
        shutil.rmtree(work, ignore_errors=True)


BENCHES = {"startup": bench_startup, "charts": bench_charts, "follow": bench_follow}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="a JSON summary goes to stdout, progress to stderr")
    parser.add_argument("benches", nargs="*", metavar="BENCH", help=f"some of {', '.join(BENCHES)} (default: all)")
    names = parser.parse_args(argv).benches or list(BENCHES)
    if unknown := [n for n in names if n not in BENCHES]:
        parser.error(f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(BENCHES)})")
    out = {"machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)}}
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        out[name] = BENCHES[name]()
        print(json.dumps({name: out[name]}, indent=2), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
