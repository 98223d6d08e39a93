import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recpack.format import recordio

magic = recordio.MAGIC_BYTES
# Payloads built from pieces so the magic word lands at aligned and unaligned offsets.
payloads = st.lists(
    st.sampled_from([magic, b"\x00", b"ab", b"\x0a\x23", b"xyz!", b"\xd7\xce"])
    | st.binary(max_size=9),
    max_size=12,
).map(b"".join)


def write_all(tmp_path, items, name="t"):
    rec, idx = tmp_path / f"{name}.rec", tmp_path / f"{name}.idx"
    with open(rec, "wb") as r, open(idx, "w") as i:
        writer = recordio.RecordWriter(r, i)
        for key, payload in enumerate(items):
            writer.write(payload, key)
    return rec, idx


@settings(max_examples=150, deadline=None)
@given(st.lists(payloads, min_size=1, max_size=6))
def test_round_trip_sequential_and_indexed(tmp_path_factory, items):
    rec, idx = write_all(tmp_path_factory.mktemp("rt"), items)
    with recordio.RecordReader(rec) as reader:
        assert [payload for _, payload in reader] == items
        for key, offset in recordio.read_index(idx):
            assert reader.read_at(offset)[0] == items[key]
    assert rec.stat().st_size % 4 == 0


def test_aligned_magic_splits_the_record_and_unaligned_does_not():
    aligned = b"abcd" + magic + b"ef"
    encoded = recordio.encode_record(aligned)
    first = struct.unpack_from("<II", encoded, 0)
    assert first == (recordio.MAGIC, (1 << 29) | 4)
    last = struct.unpack_from("<II", encoded, 12)
    assert last == (recordio.MAGIC, (3 << 29) | 2)
    assert len(encoded) == 8 + 4 + 8 + 4  # two headers, 4 bytes, 2 bytes padded to 4
    unaligned = b"ab" + magic + b"cd"
    assert struct.unpack_from("<II", recordio.encode_record(unaligned))[1] == len(unaligned)


def test_records_of_2_to_the_29_bytes_are_refused():
    class Huge(bytes):
        def __len__(self):
            return 1 << 29

    with pytest.raises(recordio.RecordIOError, match="too large"):
        recordio.encode_record(Huge())


def test_ir_header_single_and_multi_label():
    single = recordio.pack(3.0, 17, b"img")
    assert len(single) == recordio.IR_HEADER_SIZE + 3
    header, body = recordio.unpack(single)
    assert (header.flag, header.label, header.id, body) == (0, 3.0, 17, b"img")
    header, body = recordio.unpack(recordio.pack([1.0, 0.5], 2, b"x"))
    assert (header.flag, header.label, body) == (2, (1.0, 0.5), b"x")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data + b"garbage!", "bad magic"),
        (lambda data: data[:-3], "truncated record"),
        (lambda data: data[:5], "truncated record header"),
    ],
)
def test_damaged_files_name_the_offset(tmp_path, damage, message):
    rec, _ = write_all(tmp_path, [b"first record", b"second"])
    rec.write_bytes(damage(rec.read_bytes()))
    with (
        pytest.raises(recordio.RecordIOError, match=message) as caught,
        recordio.RecordReader(rec) as reader,
    ):
        list(reader)
    assert "offset" in str(caught.value) and str(rec) in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_give_a_clear_error_never_a_crash(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "x.rec"
    path.write_bytes(data)
    try:
        with recordio.RecordReader(path) as reader:
            for _, payload in reader:
                try:
                    recordio.unpack(payload)
                except recordio.RecordIOError:
                    pass
    except recordio.RecordIOError as exc:
        assert "offset" in str(exc)


def test_bad_index_lines_name_file_and_line(tmp_path):
    idx = tmp_path / "x.idx"
    idx.write_text("0\t0\n1\tnot-a-number\n")
    with pytest.raises(recordio.RecordIOError, match=r"x.idx:2"):
        recordio.read_index(idx)
