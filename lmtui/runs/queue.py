"""The run queue: which run holds which GPUs (or CPU slots) on this machine, and who waits, without a daemon.

Every run that needs devices (:func:`need_of`) has an entry in one state file per host,
``<state dir>/queue-<host>.json``, read and rewritten under an exclusive ``flock`` on
``<state dir>/queue-<host>.lock`` (``fcntl`` as for the run lock, :class:`lmtui.runs.rundir.RunLock`:
one locking primitive, no extra dependency). The state directory is ``$LMTUI_STATE_DIR``, else
``$XDG_STATE_HOME/lmtui``, else ``~/.local/state/lmtui`` (the XDG Base Directory
specification), so every run of the user on the host sees the same reservations (and a home
folder shared by the nodes of a cluster keeps one queue per node). A multi-node run
(``num_machines`` > 1) does not queue: the cluster's scheduler hands out its machines.

- The launcher adds the entry when it starts a run's driver (:meth:`Queue.enqueue`); the driver
  waits in :func:`wait_turn` until it is given its devices, then trains with
  ``CUDA_VISIBLE_DEVICES`` set to them, and drops its entry when it exits (:meth:`Queue.release`).
- Whoever takes the lock first removes the entries of dead runs: an entry belongs to its driver's
  pid and start time (:func:`lmtui.procs.pid_alive`, as run.json does) and is kept while any
  process of the driver's process group lives, so a killed driver's trainer still holds its GPUs.
- Order is first in, first out, per kind of device: the first waiting entry that is not paused
  is served first, and nobody behind it starts before it (:func:`schedule`); :meth:`Queue.move_up`
  and :meth:`Queue.set_paused` change that order.
- A GPU that NVML shows running a process outside every queued run's process group counts as
  taken, unless the run sets ``[hardware] use_busy_gpus``.
- Each entry is also kept as one small record per run in ``<state dir>/queue-<host>.runs/``,
  rewritten (atomically, under the same lock) whenever the entry changes, so the reservation of
  a run is kept with what proves it live (its driver's pid and start time, its process group). A
  state file that is lost, emptied, cut short or of the wrong shape is rebuilt from those
  records, keeping every live run's reservation and place (a warning names the file): a lost
  state file never frees a GPU or a slot that is in use. A record whose run is gone is removed.

Plain Python: no torch, no Textual.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from lmtui.errors import ProjectError, RunError
from lmtui.fsutil import atomic_write_json
from lmtui.procs import pid_alive, process_group, process_start_time
from lmtui.project.lines import line_of
from lmtui.runs import inventory
from lmtui.state import StateError, is_type, object_check, read_json_state, warn

STATE_DIR_ENV = "LMTUI_STATE_DIR"
QUEUE_VERSION = 1
POLL_SECONDS = 1.0


def state_dir() -> Path:
    """The folder of lmtui's per-user state: ``$LMTUI_STATE_DIR``, ``$XDG_STATE_HOME/lmtui`` or
    ``~/.local/state/lmtui``."""
    if os.environ.get(STATE_DIR_ENV):
        return Path(os.environ[STATE_DIR_ENV])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "lmtui"


@dataclass
class Need:
    """What a run asks for: ``count`` devices of ``kind`` (``gpu`` or ``slot``), exactly ``ids`` when given."""

    kind: str
    count: int
    ids: list[int] | None = None
    use_busy: bool = False

    def describe(self) -> str:
        if self.ids:
            return f"GPU{'s' if len(self.ids) > 1 else ''} {','.join(map(str, self.ids))}"
        unit = "GPU" if self.kind == "gpu" else "slot"
        return f"{self.count} {unit}{'s' if self.count > 1 else ''}"


def _parse_ids(text: str) -> list[int] | None:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not all(p.isdigit() for p in parts) or len(set(parts)) != len(parts):
        return None
    return [int(p) for p in parts]


def uses_gpus(project, gpus: list | None = None) -> bool:
    """Whether ``project`` reserves GPUs here: the machine has some and ``device`` is not cpu or tpu."""
    if project.hardware.device in ("cpu", "tpu"):
        return False
    return bool(inventory.gpus() if gpus is None else gpus)


def need_of(project) -> Need | None:
    """What ``project`` reserves on this machine (its [hardware] ``gpus``/``num_processes``,
    ``gpu_ids``, ``slots``), or None when it takes nothing and does not queue."""
    hw = project.hardware
    if hw.num_machines > 1:
        return None
    if uses_gpus(project):
        ids = _parse_ids(hw.gpu_ids) if hw.gpu_ids else None
        return Need("gpu", len(ids) if ids else hw.gpus or hw.num_processes, ids, hw.use_busy_gpus)
    if hw.slots:
        return Need("slot", hw.slots)
    return None


@dataclass
class Machine:
    """What a request is checked against: GPU indices and CPU slots, and how messages name them
    (``this machine``, or the target of `lmtui export slurm`: ``each node (--gpus-per-node 4)``)."""

    gpus: list[int]
    slots: int
    label: str = "this machine"
    slots_hint: str = f"${inventory.SLOTS_ENV}"

    @classmethod
    def here(cls) -> "Machine":
        """This machine (:mod:`lmtui.runs.inventory`).

        Raises:
            LmtuiError: ``LMTUI_SLOTS`` or ``LMTUI_FAKE_GPUS`` is malformed.
        """
        return cls([g.index for g in inventory.gpus()], inventory.slot_count())


def check_request(project, text: str = "", machine: Machine | None = None) -> None:
    """Refuse a request the machine (default: this one, :meth:`Machine.here`) can never serve,
    before anything is written or queued: what would otherwise wait in the queue forever.

    Raises:
        ProjectError: ``gpu_ids`` is not a list of distinct indices, names a GPU the machine does
            not have, or disagrees with ``gpus``; ``gpus`` is below ``num_processes``; more GPUs
            (or slots) than the machine has, ``device = "cpu"`` included; GPUs asked on a machine
            without any.
        LmtuiError: ``LMTUI_SLOTS`` or ``LMTUI_FAKE_GPUS`` is malformed.
    """
    hw = project.hardware
    file = project.path or "<project>"

    def fail(key: str, message: str, hint: str) -> None:
        raise ProjectError(message, file=file, key=f"hardware.{key}", line=line_of(text, "hardware", key) if text
                           else None, hint=hint)

    ids = _parse_ids(hw.gpu_ids) if hw.gpu_ids else None
    if hw.gpu_ids and not ids:
        fail("gpu_ids", f"gpu_ids {hw.gpu_ids!r} is not a list of distinct GPU indices", 'write e.g. gpu_ids = "0,1"')
    if ids and hw.gpus and hw.gpus != len(ids):
        fail("gpus", f"gpus = {hw.gpus} but gpu_ids names {len(ids)} GPUs", "drop gpus (gpu_ids decides) or make them agree")
    if hw.gpus and hw.gpus < hw.num_processes:
        fail("gpus", f"gpus = {hw.gpus} is fewer than the {hw.num_processes} processes (one GPU each)",
             f"set gpus = {hw.num_processes} or remove it")
    machine = machine or Machine.here()
    if hw.device == "tpu":
        return
    have = machine.gpus
    if hw.device == "cpu" or not have:
        if (hw.gpus or ids) and hw.device != "cpu":
            fail("gpu_ids" if ids else "gpus", f"the run asks for GPUs but {machine.label} has none",
                 "remove gpus/gpu_ids, or use slots to queue runs on the CPU")
        if hw.slots > machine.slots:
            fail("slots", f"slots = {hw.slots} but {machine.label} has {machine.slots} ({machine.slots_hint}): "
                 "the run would wait in the queue forever",
                 f"use slots <= {machine.slots}, or raise {machine.slots_hint}")
        return
    listing = f"{len(have)} ({', '.join(map(str, have))})"
    if ids:
        missing = [i for i in ids if i not in have]
        if missing:
            fail("gpu_ids", f"GPU {', '.join(map(str, missing))} does not exist: {machine.label} has {listing}",
                 f"choose among {', '.join(map(str, have))}")
        return
    need = hw.gpus or hw.num_processes
    if need > len(have):
        fail("gpus" if hw.gpus else "num_processes", f"the run needs {need} GPUs but {machine.label} has {listing}",
             f"ask for at most {len(have)}")


@dataclass
class Entry:
    """One run in the queue: its directory, what it needs, its driver, and what it holds (``assigned``)."""

    run: str
    run_id: str
    kind: str
    count: int
    ids: list[int] | None = None
    use_busy: bool = False
    pid: int | None = None
    pid_start_time: float | None = None
    enqueued: float = 0.0
    paused: bool = False
    assigned: list[int] | None = None
    started: float | None = None
    waiting_for: str = ""

    @property
    def need(self) -> Need:
        return Need(self.kind, self.count, self.ids, self.use_busy)


_ENTRY_TYPES = {"run": str, "run_id": str, "kind": str, "count": int, "ids": (list, type(None)),
                "use_busy": bool, "pid": (int, type(None)), "pid_start_time": (float, type(None)),
                "enqueued": float, "paused": bool, "assigned": (list, type(None)), "started": (float, type(None)),
                "waiting_for": str}
_ENTRY_CHECK = object_check({k: _ENTRY_TYPES[k] for k in ("run", "run_id", "kind", "count")},
                            {k: v for k, v in _ENTRY_TYPES.items() if k not in ("run", "run_id", "kind", "count")})


def entry_problem(value) -> str | None:
    """What is wrong with one entry as read from a state file or record (None: it is an :class:`Entry`)."""
    problem = _ENTRY_CHECK(value)
    if problem:
        return problem
    if value["kind"] not in ("gpu", "slot") or value["count"] < 1:
        return f"entry {value['run_id']!r} asks for {value['count']!r} of {value['kind']!r}"
    for key in ("ids", "assigned"):
        if value.get(key) is not None and not all(is_type(i, int) and i >= 0 for i in value[key]):
            return f"entry {value['run_id']!r} has {key} {value[key]!r}, not a list of device indices"
    return None


def _state_check(value) -> str | None:
    problem = object_check({"entries": list}, {"version": int})(value)
    if problem:
        return problem
    for e in value["entries"]:
        problem = entry_problem(e)
        if problem:
            return problem
    return None


def _entry_of(value: dict) -> Entry:
    known = {k: value[k] for k in _ENTRY_TYPES if k in value}
    for k in ("enqueued", "pid_start_time", "started"):
        if isinstance(known.get(k), int):
            known[k] = float(known[k])
    return Entry(**known)


@dataclass
class Pools:
    """The devices to hand out: GPU indices, foreign-busy GPUs (index -> why), CPU slots."""

    gpus: list[int]
    busy: dict[int, str] = field(default_factory=dict)
    slots: int = 1


def _alive(entry: Entry) -> bool:
    """The entry's driver lives, or some process of its process group does (its trainer)."""
    if pid_alive(entry.pid, entry.pid_start_time):
        return True
    if not entry.pid:
        return False
    for proc in psutil.process_iter(["pid", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and process_group(proc.pid) == entry.pid:
            return True
    return False


def schedule(entries: list[Entry], pools: Pools) -> None:
    """Give free devices to waiting entries in order, first in first out per kind: an entry that
    cannot be served blocks every later entry of its kind. Paused entries are passed over. Sets
    ``assigned`` of the entries served and ``waiting_for`` (a phrase) of those still waiting."""
    taken: dict[tuple[str, int], str] = {(e.kind, d): e.run_id for e in entries if e.assigned for d in e.assigned}
    ahead: dict[str, Entry] = {}
    for e in entries:
        if e.assigned:
            e.waiting_for = ""
            continue
        if e.paused:
            e.waiting_for = "paused"
            continue
        if e.kind in ahead:
            e.waiting_for = f"its turn, after {ahead[e.kind].run_id}"
            continue
        pool = pools.gpus if e.kind == "gpu" else list(range(pools.slots))
        busy = {} if e.kind != "gpu" or e.use_busy else pools.busy
        free = [d for d in pool if (e.kind, d) not in taken and d not in busy]
        wanted = e.ids or pool
        pick = [d for d in wanted if d in free][:e.count] if not e.ids else e.ids
        if all(d in free for d in pick) and len(pick) == e.count:
            e.assigned, e.started, e.waiting_for = pick, time.time(), ""
            taken.update({(e.kind, d): e.run_id for d in pick})
            continue
        unit = "GPU" if e.kind == "gpu" else "slot"
        held = [f"{unit} {d} ({taken.get((e.kind, d)) or busy.get(d) or 'not on this machine'})"
                for d in wanted if d not in free]
        e.waiting_for = f"{e.need.describe()}: " + ", ".join(held)
        ahead[e.kind] = e


def current_pools(entries: list[Entry]) -> Pools:
    """The machine's devices now (:mod:`lmtui.runs.inventory`); a GPU is busy when a process on it
    belongs to no queued run's process group (or ``LMTUI_FAKE_GPUS`` marks it busy)."""
    groups = {e.pid for e in entries if e.pid}
    gpus = inventory.gpus()
    busy = {}
    for gpu in gpus:
        foreign = [pid for pid in gpu.pids if process_group(pid) not in groups]
        if gpu.fake_busy or foreign:
            busy[gpu.index] = f"busy: pid {', '.join(map(str, foreign))}" if foreign else "busy"
    return Pools([g.index for g in gpus], busy, inventory.slot_count())


class Queue:
    """The queue state file of one state directory (default :func:`state_dir`)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else state_dir()

    @property
    def file(self) -> Path:
        return self.root / f"queue-{socket.gethostname()}.json"

    @property
    def records(self) -> Path:
        """The folder of the per-run records (see the module docstring)."""
        return self.root / f"queue-{socket.gethostname()}.runs"

    def _record(self, run: str) -> Path:
        return self.records / (hashlib.blake2b(run.encode(), digest_size=8).hexdigest() + ".json")

    @contextmanager
    def _locked(self) -> Iterator[list[Entry]]:
        """The entries under the queue's lock, dead ones removed and the waiting ones scheduled;
        the list may be changed in the block and is written back (atomically) after it, with the
        per-run records."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.file.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            read, rewrite = self._read()
            before = [asdict(e) for e in read]
            entries = [e for e in read if _alive(e)]
            schedule(entries, current_pools(entries))
            yield entries
            schedule(entries, current_pools(entries))
            data = {"version": QUEUE_VERSION, "entries": [asdict(e) for e in entries]}
            self._write_records(entries)
            if rewrite or before != data["entries"]:
                atomic_write_json(self.file, data)
        finally:
            os.close(fd)

    def _read(self) -> tuple[list[Entry], bool]:
        """(entries, rewrite): the state file's entries, and those of the per-run records whose
        runs it lacks (a lost or invalid state file is rebuilt from them: ``rewrite``)."""
        try:
            data = read_json_state(self.file, _state_check, what="the queue's state file",
                                   fix=f"remove {self.file} (it is rebuilt from the live runs)")
            entries = [_entry_of(e) for e in data["entries"]] if data is not None else []
            rewrite = False
        except StateError as exc:
            warn(f"{exc.file}: {exc.message}: rebuilding it from the live runs' records in {self.records}")
            entries, rewrite = [], True
        known = {e.run for e in entries}
        recovered = [e for e in self._read_records() if e.run not in known]
        if recovered:
            # running ones keep their devices; waiting ones queue in their first-come order
            entries += sorted(recovered, key=lambda e: (not e.assigned, e.enqueued))
            rewrite = True
        return entries, rewrite

    def _read_records(self) -> list[Entry]:
        out = []
        if not self.records.is_dir():
            return out
        for file in sorted(self.records.glob("*.json")):
            try:
                value = read_json_state(file, entry_problem, what="a queue record", fix=f"remove {file}")
            except StateError as exc:
                warn(f"{exc.message}: removing {exc.file}")
                file.unlink(missing_ok=True)
                continue
            if value is not None:
                out.append(_entry_of(value))
        return out

    def _write_records(self, entries: list[Entry]) -> None:
        """One record per entry (rewritten when it changed), none for a run no longer queued."""
        keep = set()
        for e in entries:
            record = self._record(e.run)
            keep.add(record.name)
            data = {k: v for k, v in asdict(e).items() if k != "waiting_for"}
            try:
                same = read_json_state(record, entry_problem, what="a queue record", fix="") == data
            except StateError:
                same = False
            if not same:
                atomic_write_json(record, data)
        if self.records.is_dir():
            for file in self.records.glob("*.json"):
                if file.name not in keep:
                    file.unlink(missing_ok=True)

    def entries(self) -> list[Entry]:
        """Every live entry in queue order, running ones included, with ``waiting_for`` up to date
        ([] without a queue file or records: nothing is created)."""
        if not self.file.exists() and not self.records.is_dir():
            return []
        with self._locked() as entries:
            return list(entries)

    def enqueue(self, run_path: str | os.PathLike, need: Need, pid: int, pid_start_time: float | None) -> Entry:
        """Add the run at ``run_path`` at the end of the queue (its driver ``pid``); a run already
        queued keeps its place and takes the new pid. Returns its entry."""
        run_path = str(Path(run_path).resolve())
        with self._locked() as entries:
            for e in entries:
                if e.run == run_path:
                    e.pid, e.pid_start_time = pid, pid_start_time
                    return e
            entry = Entry(run_path, Path(run_path).name, need.kind, need.count, need.ids, need.use_busy, pid,
                          pid_start_time, time.time())
            entries.append(entry)
            return entry

    def poll(self, run_path: str | os.PathLike) -> Entry | None:
        """The run's entry after scheduling (``assigned`` set once it may start), or None when absent."""
        run_path = str(Path(run_path).resolve())
        with self._locked() as entries:
            return next((e for e in entries if e.run == run_path), None)

    def release(self, run_path: str | os.PathLike) -> None:
        """Drop the run's entry (its devices go to the next in line)."""
        if not self.file.exists() and not self.records.is_dir():
            return
        run_path = str(Path(run_path).resolve())
        with self._locked() as entries:
            entries[:] = [e for e in entries if e.run != run_path]

    def find(self, ref: str) -> Entry:
        """The entry named by a run directory path, run id or unique run-id prefix.

        Raises:
            RunError: no queued run matches, or several do.
        """
        entries = self.entries()
        path = str(Path(ref).resolve())
        exact = [e for e in entries if e.run == path or e.run_id == ref]
        matches = exact or [e for e in entries if e.run_id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise RunError(f"run {ref!r} is ambiguous in the queue: {', '.join(e.run_id for e in matches)}",
                           hint="give more of the run id")
        raise RunError(f"no queued run {ref!r}", hint="list the queue with `lmtui queue`")

    def move_up(self, ref: str) -> Entry:
        """Move a waiting run one place up, before the waiting run ahead of it.

        Raises:
            RunError: not in the queue (:meth:`find`), or already running.
        """
        target = self.find(ref)
        with self._locked() as entries:
            i = next(i for i, e in enumerate(entries) if e.run == target.run)
            if entries[i].assigned:
                raise RunError(f"run {target.run_id} is already running", hint="only waiting runs move")
            before = [j for j in range(i) if not entries[j].assigned]
            if before:
                j = before[-1]
                entries[j], entries[i] = entries[i], entries[j]
            return entries[before[-1] if before else i]

    def set_paused(self, ref: str, paused: bool) -> Entry:
        """Pause a waiting run (later runs pass it) or let it wait again in its place.

        Raises:
            RunError: not in the queue (:meth:`find`), or already running.
        """
        target = self.find(ref)
        with self._locked() as entries:
            entry = next(e for e in entries if e.run == target.run)
            if entry.assigned:
                raise RunError(f"run {entry.run_id} is already running", hint=f"stop it with `lmtui stop {entry.run_id}`")
            entry.paused = paused
            return entry


def wait_turn(run, need: Need | None, *, queue: Queue | None = None,
              notify: Callable[[str], None] = lambda message: None, poll_seconds: float = POLL_SECONDS) -> list[int]:
    """Block until the run (a :class:`lmtui.runs.rundir.RunDir`) is given its devices; return them.

    The entry is taken over by the calling process (the driver). For GPUs,
    ``CUDA_VISIBLE_DEVICES`` is set in this process's environment (inherited by the trainer).
    ``notify`` gets a line when the run starts waiting, when what it waits for changes, and
    when it is served. A signal handler's exception (``lmtui stop``, ``lmtui queue cancel``)
    goes through: the caller releases the entry.
    """
    if need is None:
        return []
    queue = queue or Queue()
    pid = os.getpid()
    queue.enqueue(run.path, need, pid, process_start_time(pid))
    said = None
    while True:
        entry = queue.poll(run.path) or queue.enqueue(run.path, need, pid, process_start_time(pid))
        if entry.assigned:
            break
        if entry.waiting_for != said:
            said = entry.waiting_for
            run.update_state(waiting_for=said)
            notify(f"queued: waiting for {said}")
        time.sleep(poll_seconds)
    devices = entry.assigned
    if need.kind == "gpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, devices))
        notify(f"assigned GPU{'s' if len(devices) > 1 else ''} {','.join(map(str, devices))} "
               f"(CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']})")
    else:
        notify(f"assigned slot{'s' if len(devices) > 1 else ''} {','.join(map(str, devices))}")
    run.update_state(devices={"kind": need.kind, "ids": devices}, waiting_for=None)
    return devices
