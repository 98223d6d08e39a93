"""UncachedWriter leaves exactly the bytes written, whether or not the filesystem takes O_DIRECT."""

import errno
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recpack.files import uncached
from recpack.files.atomic import AtomicOutputs
from recpack.files.uncached import UncachedWriter

BLOCK = 1 << 20

# Chunk sizes around the buffer and alignment edges; each chunk's bytes differ so misplaced ones show.
chunk_sizes = st.lists(
    st.sampled_from([0, 1, 7, 4095, 4096, 4097, 30_000, BLOCK - 1, BLOCK, BLOCK + 1]), max_size=6
)


def _chunks(sizes):
    return [
        bytes([(number * 37 + offset) % 251 for offset in range(min(size, 251))])
        * (size // 251 + 1)
        for number, size in enumerate(sizes)
    ]


def _sized(chunks, sizes):
    return [chunk[:size] for chunk, size in zip(chunks, sizes, strict=False)]


@settings(max_examples=25, deadline=None)
@given(sizes=chunk_sizes, flush_after=st.integers(min_value=0, max_value=6))
def test_the_file_holds_exactly_what_was_written(tmp_path_factory, sizes, flush_after):
    path = tmp_path_factory.mktemp("uncached") / "out.rec"
    chunks = _sized(_chunks(sizes), sizes)
    with UncachedWriter(str(path)) as writer:
        for number, chunk in enumerate(chunks):
            assert writer.write(memoryview(chunk) if number % 2 else chunk) == len(chunk)
            if number == flush_after:  # a flush in the middle: later writes must continue after it
                writer.flush()
                assert path.read_bytes() == b"".join(chunks[: number + 1])
        writer.flush()
        writer.flush()
    assert path.read_bytes() == b"".join(chunks)


def test_direct_io_is_used_where_the_filesystem_offers_it(tmp_path):
    if not getattr(os, "O_DIRECT", 0):
        pytest.skip("no O_DIRECT on this platform")
    with UncachedWriter(str(tmp_path / "out.rec")) as writer:
        writer.write(b"x" * (BLOCK + 10))
        writer.flush()
        direct = writer.direct
    if not direct:
        pytest.skip(f"the filesystem under {tmp_path} refuses O_DIRECT")
    assert (tmp_path / "out.rec").stat().st_size == BLOCK + 10


def test_refused_at_open_it_writes_through_the_page_cache(tmp_path, monkeypatch):
    real_open = os.open

    def refusing_open(path, flags, *args):
        if flags & uncached._O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    monkeypatch.setattr(uncached, "_O_DIRECT", getattr(os, "O_DIRECT", 0x4000))
    monkeypatch.setattr(os, "open", refusing_open)
    with UncachedWriter(str(tmp_path / "out.rec")) as writer:
        writer.write(b"abc" * 1000)
        writer.flush()
        assert not writer.direct
    assert (tmp_path / "out.rec").read_bytes() == b"abc" * 1000


def test_refused_at_the_first_write_it_goes_on_through_the_page_cache(tmp_path, monkeypatch):
    if not getattr(os, "O_DIRECT", 0):
        pytest.skip("no O_DIRECT on this platform")
    real_write = os.write
    refusals = []

    def refusing_write(fd, data):
        if not refusals:
            refusals.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", refusing_write)
    payload = os.urandom(BLOCK + 5000)
    with UncachedWriter(str(tmp_path / "out.rec")) as writer:
        writer.write(payload)
        writer.flush()
        assert refusals and not writer.direct
    assert (tmp_path / "out.rec").read_bytes() == payload


def test_other_write_errors_are_not_hidden(tmp_path, monkeypatch):
    def full_disk(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    with UncachedWriter(str(tmp_path / "out.rec")) as writer:
        monkeypatch.setattr(os, "write", full_disk)
        with pytest.raises(OSError) as caught:
            writer.write(b"x" * BLOCK)
        assert caught.value.errno == errno.ENOSPC


def test_atomic_outputs_commit_an_uncached_file_and_discard_one(tmp_path):
    with AtomicOutputs() as outputs:
        outputs.open(str(tmp_path / "kept.rec"), "wb", uncached=True).write(b"kept" * 5000)
        outputs.commit()
    assert (tmp_path / "kept.rec").read_bytes() == b"kept" * 5000
    with AtomicOutputs() as outputs:
        outputs.open(str(tmp_path / "dropped.rec"), "wb", uncached=True).write(b"x" * (BLOCK + 1))
    assert os.listdir(tmp_path) == ["kept.rec"]
