"""Following train.log: partial lines, progress bars, huge logs, a writer far ahead, truncation."""

from __future__ import annotations

from lmtui.runs.logtail import LogTail


def test_partial_lines_wait_for_their_newline(tmp_path):
    log = tmp_path / "train.log"
    log.write_bytes(b"first\nsec")
    tail = LogTail(log)
    assert tail.read() == ["first"]
    assert tail.partial == "sec"
    with open(log, "ab") as fh:
        fh.write(b"ond\nthird")
    assert tail.read() == ["second"]
    assert tail.partial == "third"
    assert tail.read() == []


def test_a_utf8_character_split_across_writes_is_decoded_whole(tmp_path):
    log = tmp_path / "train.log"
    data = "perplexité 12\n".encode()
    cut = data.index("é".encode()) + 1
    log.write_bytes(data[:cut])
    tail = LogTail(log)
    assert tail.read() == []
    with open(log, "ab") as fh:
        fh.write(data[cut:])
    assert tail.read() == ["perplexité 12"]


def test_carriage_return_progress_keeps_the_last_redraw(tmp_path):
    log = tmp_path / "train.log"
    log.write_bytes(b"Map:  10%\rMap:  50%\rMap: 100%\ndone\n")
    assert LogTail(log).read() == ["Map: 100%", "done"]


def test_a_huge_log_is_not_read_whole(tmp_path):
    log = tmp_path / "train.log"
    with open(log, "wb") as fh:
        for i in range(400_000):
            fh.write(f"step {i} loss 1.0\n".encode())
    tail = LogTail(log, start_bytes=4096)
    lines = tail.read()
    assert lines[0].startswith("…") and "earlier bytes not shown" in lines[0]
    assert lines[-1] == "step 399999 loss 1.0"
    assert len(lines) < 300
    assert all(line.startswith("step ") for line in lines[1:])  # starts on a line boundary


def test_a_writer_far_ahead_is_skipped_to_keep_up(tmp_path):
    log = tmp_path / "train.log"
    log.write_bytes(b"start\n")
    tail = LogTail(log, start_bytes=1024, skip_bytes=64 << 10, max_bytes=16 << 10)
    assert tail.read() == ["start"]
    with open(log, "ab") as fh:
        fh.write(b"x" * 100 + b"\n" + b"".join(f"line {i}\n".encode() for i in range(20_000)))
    lines = tail.read()
    assert "skipped to keep up" in lines[0]
    assert lines[-1] == "line 19999"
    assert tail.behind() == 0


def test_a_truncated_log_is_read_again(tmp_path):
    log = tmp_path / "train.log"
    log.write_bytes(b"old line one\nold line two\n")
    tail = LogTail(log)
    tail.read()
    log.write_bytes(b"new\n")
    lines = tail.read()
    assert "truncated" in lines[0]
    assert lines[1:] == ["new"]


def test_very_long_lines_are_cut(tmp_path):
    log = tmp_path / "train.log"
    log.write_bytes(b"y" * 50 + b"\n")
    assert LogTail(log, max_line=20).read() == ["y" * 20 + " … (+30 characters)"]
