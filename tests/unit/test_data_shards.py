"""Cache builds own their folders (issue 10, and issue 15's stale .tmp-* folders): one builder
at a time, and the temporary folders of writers that are gone are removed."""

from __future__ import annotations

import json
import os

import pytest

from lmtui.data.shards import ShardBuild, clean_stale, mark_owner
from lmtui.errors import CorpusError
from lmtui.procs import process_start_time


def test_stale_tmp_folders_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = tmp_path / ".tmp-abc-dead"
    dead.mkdir()
    (dead / "owner.json").write_text(json.dumps({"pid": 2 ** 22 + 12345, "start_time": 1.0}))
    reused = tmp_path / ".tmp-abc-reused"  # our pid, but another process's start time
    reused.mkdir()
    (reused / "owner.json").write_text(json.dumps({"pid": os.getpid(),
                                                    "start_time": process_start_time(os.getpid()) - 3600}))
    live = tmp_path / ".tmp-abc-live"
    live.mkdir()
    mark_owner(live)
    unknown = tmp_path / ".tmp-abc-starting"  # no owner record yet: left alone
    unknown.mkdir()
    assert sorted(clean_stale(tmp_path)) == sorted([dead, reused])
    assert live.is_dir() and unknown.is_dir() and not dead.exists() and not reused.exists()


def test_a_second_builder_of_the_same_cache_is_refused(tmp_path):
    first = ShardBuild(tmp_path / ".build-x", {"v": 1})
    with pytest.raises(CorpusError) as err:
        ShardBuild(tmp_path / ".build-x", {"v": 1})
    assert f"pid {os.getpid()}" in err.value.message
    first.close(remove=False)
    again = ShardBuild(tmp_path / ".build-x", {"v": 2})  # released: taken over, other settings start over
    assert again.shards == []
    again.close(remove=True)
    assert not (tmp_path / ".build-x").exists()
