"""``pulls.json`` through ``PendingPulls``: what a restart resumes and what the prune keeps."""

from __future__ import annotations

import json
from pathlib import Path

from app.models.pending_pulls import PendingPulls

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def test_a_pull_is_pending_from_start_to_end_with_the_blobs_it_needs(tmp_path: Path) -> None:
    pending = PendingPulls(tmp_path / "pulls.json")
    assert pending.read() == {} and pending.resumable() == []
    assert pending.blobs_to_keep() == set(), "nothing pending: nothing to keep"

    pending.add("reg.example/library/one:latest", insecure=True)
    assert pending.blobs_to_keep() is None, "blobs not known yet: the prune must keep all"
    pending.note_blobs("reg.example/library/one:latest", [A, B])
    pending.note_blobs("reg.example/library/unknown:latest", [A])  # not pending: ignored
    pending.add("reg.example/library/one:latest", insecure=False)  # a restart's resume
    assert json.loads((tmp_path / "pulls.json").read_text()) == {
        "reg.example/library/one:latest": {"insecure": False, "blobs": [A, B]}
    }, "starting again keeps the blobs already noted"
    assert pending.blobs_to_keep() == {A, B}

    pending.add("reg.example/library/two:latest", insecure=True)
    assert pending.resumable() == [
        ("reg.example/library/one:latest", False),
        ("reg.example/library/two:latest", True),
    ]
    pending.remove("reg.example/library/one:latest")
    pending.remove("reg.example/library/one:latest")  # twice is fine
    assert list(pending.read()) == ["reg.example/library/two:latest"]
    assert not list(tmp_path.glob("*.tmp")), "written through a temporary name, then renamed"


def test_a_damaged_file_means_nothing_pending(tmp_path: Path) -> None:
    path = tmp_path / "pulls.json"
    pending = PendingPulls(path)
    for text in ("{not json", "[1, 2]", '"text"'):
        path.write_text(text)
        assert pending.read() == {}
    path.write_text(json.dumps({"odd": "not an object", "old": {"insecure": 1}}))
    assert pending.resumable() == [("odd", False), ("old", True)]
    assert pending.blobs_to_keep() is None, "an entry without blobs keeps every partial"
    pending.replace({"kept": {"insecure": False, "blobs": [A]}})
    assert pending.read() == {"kept": {"insecure": False, "blobs": [A]}}
