"""Benchmarks of the terminal UI (not tests): start-up, chart redraw, following a fast events file,
key latency under load.

    python bench/tui_bench.py                 # all four, a JSON summary at the end
    python bench/tui_bench.py startup charts  # some of them
    python bench/tui_bench.py --load latency  # with a CPU-hungry process on every core beside the app

``--load`` starts one busy-looping process per core (``os.cpu_count()``) for the benchmarks run,
as a trainer that takes every core would; the summary gives the load average and ``nproc``.

1. startup: wall time from running `lmtui` in a real terminal (tmux) to the first painted
   screen (the runs table showing the newest of 20 runs), Python's own start included. Goal: under 1 s.
2. charts: one redraw of a chart holding 100,000 points (downsampling to the chart's width
   and plotext), full screen at 120x40 and as one of the run screen's four charts at 80x24,
   linear and log scale, step and time axes. Goal: under 50 ms.
3. follow: an events file (and train.log) growing by 1,000 lines a second for 10 s while the
   run screen is open; reports how far the view fell behind (lines not yet read) and the
   event loop's latency (how late a 20 ms timer fires), i.e. whether the UI keeps up.
4. latency: `lmtui` in a real terminal (tmux) on the Run screen of a live run that writes 50
   events and 50 log lines a second. The app (this script's ``--serve`` mode, the real app with
   a probe) measures its own CPU over 10 s of following the run, then the time from each key's
   arrival (Textual's key event) to the end of the first screen update that shows its effect,
   for tab keys (Details, Charts, Log) and the chart's x-axis key (a redraw of four charts).
   Goals: key-to-paint median under 150 ms and p95 under 400 ms; app CPU under 10% of one core.
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
def bench_startup(repeats: int = 5, runs: int = 20) -> dict:
    if not shutil.which("tmux"):
        return {"skipped": "tmux is not installed"}
    work = Path(tempfile.mkdtemp(prefix="lmtui-bench-"))
    (work / "projects").mkdir()
    shutil.copy(REPO / "projects" / "demo.toml", work / "projects" / "demo.toml")
    for i in range(runs):
        make_run(work / "runs", f"bench-202701{i + 1:02d}-000000")
    newest = f"202701{runs:02d}-000000"  # the table may show the run id without its project prefix
    times = []
    for i in range(repeats):
        name = f"lmtui-bench-{os.getpid()}-{i}"
        t0 = time.perf_counter()
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24",
                        f"cd {work} && exec {sys.executable} -m lmtui"], check=True)
        while True:
            out = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout
            if newest in out:
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
    return {"runs_on_disk": runs, "first_paint_s": {"median": round(statistics.median(times), 3),
                                                    "min": round(min(times), 3), "max": round(max(times), 3)},
            "python_start_s": round(statistics.median(python_alone), 3), "goal_s": 1.0}


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
                        chart.frame()  # what a new point costs: read the curve, draw it
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


# 4. key latency and CPU on a live run screen ----------------------------------------------
WRITER = """
import json, random, sys, time
events, log, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
step, t_next = 1000, time.perf_counter()
with open(events, "a") as ev, open(log, "a") as lg:
    while True:
        step += 1
        ev.write(json.dumps({"v": 1, "time": time.time(), "type": "train", "step": step, "max_steps": 10**6,
                             "loss": 2.0 + random.random(), "learning_rate": 1e-3, "tokens_per_s": 5000.0,
                             "eta_s": 1000}) + "\\n")
        ev.flush()
        lg.write(f"step {step} loss 2.0 lr 1.0e-03 5,000 tok/s\\n")
        lg.flush()
        t_next += 1 / rate
        time.sleep(max(0.0, t_next - time.perf_counter()))
"""

# Keys sent on the run screen, in turn: (key, what shows that it took effect).
LATENCY_KEYS = [("3", "tab details"), ("1", "tab charts"), ("t", "axis"), ("2", "tab log"), ("1", "tab charts"),
                ("t", "axis")]


def serve(config: str) -> int:
    """``--serve CONFIG``: the app on the run screen of CONFIG's run, probed; results to CONFIG's ``out``."""
    import psutil
    from textual import events
    from textual._time import get_time

    from lmtui.tui.app import LmtuiApp
    from lmtui.tui.screens.run import RunScreen

    cfg = json.loads(Path(config).read_text())
    proc = psutil.Process()
    result: dict = {"latency_ms": {}, "cpu": None}

    class Probe(LmtuiApp):
        CSS_PATH = str(REPO / "lmtui" / "tui" / "lmtui.tcss")

        def __init__(self):
            super().__init__([str(Path(cfg["run"]).parent)])
            self.waiting = None

        def on_mount(self) -> None:
            super().on_mount()
            self.call_after_refresh(self.open_run, cfg["run"])
            threading.Thread(target=self.measure_cpu, daemon=True).start()

        def measure_cpu(self) -> None:
            while not isinstance(self.screen, RunScreen):
                time.sleep(0.05)
            Path(cfg["ready"]).write_text("ready")
            time.sleep(2.0)
            c0, t0 = sum(proc.cpu_times()[:2]), time.perf_counter()
            time.sleep(cfg["follow_s"])
            c1, t1 = sum(proc.cpu_times()[:2]), time.perf_counter()
            result["cpu"] = {"percent_of_one_core": round(100 * (c1 - c0) / (t1 - t0), 1), "seconds": round(t1 - t0, 1)}

        async def on_event(self, event) -> None:
            if isinstance(event, events.Key) and isinstance(self.screen, RunScreen) and self.waiting is None:
                what = dict(LATENCY_KEYS).get(event.key)
                if what:
                    screen = self.screen
                    expected = ("time" if screen.charts["chart-loss"].x_axis == "step" else "step") \
                        if what == "axis" else what.split()[1]
                    self.waiting = (what, expected, event.time)
            await super().on_event(event)

        def _display(self, screen, renderable) -> None:
            super()._display(screen, renderable)
            if self.waiting is None or not isinstance(self.screen, RunScreen):
                return
            what, expected, t_key = self.waiting
            run_screen = self.screen
            if what == "axis":
                key = run_screen.charts["chart-loss"].frame_key
                done = bool(key) and key[0][0].x_axis == expected
            else:
                done = run_screen.tab == expected
            if done:
                result["latency_ms"].setdefault(what, []).append(round((get_time() - t_key) * 1000, 1))
                self.waiting = None

    Probe().run()
    Path(cfg["out"]).write_text(json.dumps(result))
    return 0


def bench_latency(rate: int = 50, follow_s: float = 10.0, keys: int = 36, gap_s: float = 0.6) -> dict:
    if not shutil.which("tmux"):
        return {"skipped": "tmux is not installed"}
    import psutil

    work = Path(tempfile.mkdtemp(prefix="lmtui-latency-"))
    for i in range(19):
        make_run(work / "runs", f"bench-202701{i + 1:02d}-000000")
    run = make_run(work / "runs", "live-20270201-000000", points=300)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(run.events_file), str(run.log_file), str(rate)],
                              start_new_session=True)
    run.update_state(status="running", pid=writer.pid, pid_start_time=psutil.Process(writer.pid).create_time(),
                     ended=None)
    cfg = {"run": str(run.path), "ready": str(work / "ready"), "out": str(work / "result.json"), "follow_s": follow_s}
    (work / "config.json").write_text(json.dumps(cfg))
    name = f"lmtui-latency-{os.getpid()}"
    try:
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40",
                        f"cd {work} && exec {sys.executable} {Path(__file__).resolve()} "
                        f"--serve {work / 'config.json'}"],
                       check=True)
        deadline = time.monotonic() + 60
        while not (work / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(follow_s + 3)
        for i in range(keys):
            subprocess.run(["tmux", "send-keys", "-t", name, LATENCY_KEYS[i % len(LATENCY_KEYS)][0]], check=True)
            time.sleep(gap_s)
        subprocess.run(["tmux", "send-keys", "-t", name, "C-q"], check=True)
        deadline = time.monotonic() + 30
        while not (work / "result.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        result = json.loads((work / "result.json").read_text())
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
        writer.kill()
        writer.wait()
        shutil.rmtree(work, ignore_errors=True)
    every = [ms for samples in result["latency_ms"].values() for ms in samples]

    def stats(samples):
        ordered = sorted(samples)
        return {"n": len(ordered), "median_ms": round(statistics.median(ordered), 1),
                "p95_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], "max_ms": ordered[-1]}

    return {"events_per_s": rate, "key_to_paint": stats(every) if every else None,
            "by_key": {what: stats(samples) for what, samples in result["latency_ms"].items()},
            "app_cpu": result["cpu"], "goals": {"median_ms": 150, "p95_ms": 400, "cpu_percent": 10}}


BENCHES = {"startup": bench_startup, "charts": bench_charts, "follow": bench_follow, "latency": bench_latency}

HOG = "while True:\n    pass\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="a JSON summary goes to stdout, progress to stderr")
    parser.add_argument("benches", nargs="*", metavar="BENCH", help=f"some of {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--load", action="store_true", help="a busy-looping process on every core meanwhile")
    parser.add_argument("--serve", metavar="CONFIG", help=argparse.SUPPRESS)  # the probed app of `latency`
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve)
    names = args.benches or list(BENCHES)
    if unknown := [n for n in names if n not in BENCHES]:
        parser.error(f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(BENCHES)})")
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(os.cpu_count() or 1)] if args.load else []
    try:
        if hogs:
            time.sleep(5)  # let the load average see them
        out = {"machine": {"nproc": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2),
                           "cpu_hogs": len(hogs)}}
        for name in names:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            out[name] = BENCHES[name]()
            print(json.dumps({name: out[name]}, indent=2), file=sys.stderr, flush=True)
        out["machine"]["load_1min_after"] = round(os.getloadavg()[0], 2)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
