"""A torn last line in events.jsonl (a writer killed mid-line) does not swallow the next event."""

from __future__ import annotations

from lmtui.runs.rundir import RunDir


def test_an_event_after_a_torn_line_starts_a_line_of_its_own(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.emit("log", message="before")
    with open(run.events_file, "ab") as fh:
        fh.write(b'{"v":1,"type":"train","step":3,"lo')  # killed here
    run.emit("log", message="after")
    assert [e.get("message") for e in run.events()] == ["before", "after"]
    run.emit("log", message="again")
    assert run.events_file.read_bytes().count(b"\n\n") == 0  # an intact last line gets no extra newline
    assert [e.get("message") for e in run.events()] == ["before", "after", "again"]
