"""How many parts a pull fetches at once (few on a fast link, more while they pay),
and the hash that follows them.

The rule alone, with readings given by the test; the pulls through a real
registry that exercise it are in ``test_pull.py``.
"""

from __future__ import annotations

from app.models.download import ConnectionRamp


def readings(ramp: ConnectionRamp, rates: list[float]) -> list[int]:
    return [ramp.observe(rate) for rate in rates]


def test_doubles_while_each_doubling_pays_then_stops_for_good() -> None:
    ramp = ConnectionRamp(start=1, most=16, gain=1.15)
    # Each change is followed by one skipped reading (new connections still
    # starting), then each count is judged by the best of two readings.
    rates = [0, 10, 9, 0, 20, 19, 0, 40, 38, 0, 41, 42, 80, 160]
    assert readings(ramp, rates) == [1, 1, 2, 2, 2, 4, 4, 4, 8, 8, 8, 8, 8, 8]
    assert ramp.settled


def test_one_reading_without_gain_does_not_end_the_ramp() -> None:
    ramp = ConnectionRamp(start=1, most=16, gain=1.15)
    assert readings(ramp, [0, 10, 10, 0, 9, 25, 0, 60]) == [1, 1, 2, 2, 2, 4, 4, 4]
    assert not ramp.settled


def test_one_low_reading_before_a_doubling_does_not_make_it_look_like_a_gain() -> None:
    """A capped link with one slow reading at one connection (a busy machine): the
    doubling to two is judged against the better reading, so the ramp stops at two."""
    ramp = ConnectionRamp(start=1, most=16, gain=1.15)
    assert readings(ramp, [0, 80, 100, 0, 101, 99, 300]) == [1, 1, 2, 2, 2, 2, 2]
    assert ramp.settled


def test_one_connection_that_fills_the_link_ends_at_two() -> None:
    """The first doubling is always tried; a link already full stops it there."""
    ramp = ConnectionRamp(start=1, most=16, gain=1.15)
    assert readings(ramp, [0, 900, 890, 0, 910, 905, 2000]) == [1, 1, 2, 2, 2, 2, 2]
    assert ramp.settled


def test_never_more_than_most_or_the_parts() -> None:
    ramp = ConnectionRamp(start=1, most=3, gain=1.15)
    assert readings(ramp, [0, 1, 1, 0, 2, 2, 0, 4]) == [1, 1, 2, 2, 2, 3, 3, 3]
    assert ramp.settled
    assert ConnectionRamp(start=16, most=4, gain=1.15).connections == 4
    assert ConnectionRamp(start=16, most=4, gain=1.15).settled


def test_following_hash_takes_chunks_from_memory_and_the_rest_from_the_file(tmp_path) -> None:
    """The part at the frontier is hashed as it is written; a part written ahead of it
    is read back once the frontier reaches it; the digest is the file's either way."""
    import hashlib
    import os

    from app.models.download.hashing import FollowingHash
    from app.models.download.parts import Part

    data = os.urandom(3 * 2**20)
    half = len(data) // 2
    path = tmp_path / "blob-partial"
    path.write_bytes(b"\0" * len(data))
    parts = [Part(0, 0, half), Part(1, half, len(data) - half)]
    hasher = FollowingHash(path, len(data), lambda: parts)
    with path.open("r+b") as out:
        out.seek(half)
        out.write(data[half:])  # the second part first: nothing to hash yet
        out.flush()
        parts[1].completed = parts[1].size
        hasher.feed(half, data[half:])  # not next in line: ignored
        hasher.start()
        out.seek(0)
        for start in range(0, half, 65536):
            chunk = data[start : min(start + 65536, half)]
            out.write(chunk)
            out.flush()
            parts[0].completed += len(chunk)
            hasher.feed(start, chunk)
    assert hasher.finish() == "sha256:" + hashlib.sha256(data).hexdigest()
    assert 0 < hasher.fed <= half  # the first part, or most of it, came from memory
