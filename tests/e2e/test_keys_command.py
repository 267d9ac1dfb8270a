"""`lmtui keys` prints docs/reference.md's text and `--output FILE` writes it (a bad path: exit 2)."""

from __future__ import annotations

from support.cli import lmtui

from lmtui.project.reference import reference_page


def test_lmtui_keys_prints_and_writes_the_page(tmp_path):
    assert lmtui("keys", check=True).stdout == reference_page()
    out = tmp_path / "reference.md"
    proc = lmtui("keys", "--output", str(out), check=True)
    assert out.read_text(encoding="utf-8") == reference_page() and str(out) in proc.stdout
    (tmp_path / "file").write_text("not a folder")
    proc = lmtui("keys", "--output", str(tmp_path / "file" / "reference.md"))
    assert proc.returncode == 2 and "cannot write the key reference" in proc.stderr and "Traceback" not in proc.stderr
