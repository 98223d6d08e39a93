"""ImageResult, the named result of one list entry, and the bytes it travels as from a worker."""

import pickle

import pytest

from recpack.format import recordio
from recpack.pack.results import ImageResult, Kind, ListResult
from recpack.pack.workers import _as_message, _from_message


def received(*results):
    """What the parent reads back from one worker message holding `results` at positions 7, 8..."""
    message = [part for n, r in enumerate(results, 7) for part in _as_message(n, r)]
    return list(_from_message(bytearray(b"".join(message))))


def test_each_kind_of_result_crosses_the_pipe_unchanged():
    record = recordio.encode_record(recordio.pack(2.0, 5, b"\xff\xd8 image bytes \xff\xd9"))
    packed = ImageResult.record([record[:10], record[10:]], 640, 480)  # a record in pieces
    copy = ImageResult.copy(300, 200)
    skipped = ImageResult.skipped("truncated image data (é, 画像)")
    back = dict(received(packed, copy, skipped))
    assert back[7].kind is Kind.RECORD and bytes(b"".join(back[7].pieces)) == record
    assert (back[7].width, back[7].height, back[7].size) == (640, 480, len(record))
    assert back[8] == copy and back[9] == skipped


def test_a_reason_that_is_not_valid_unicode_still_arrives():
    ((_, back),) = received(ImageResult.skipped("bad name \udcff"))
    assert back.kind is Kind.SKIPPED and back.reason == "bad name ?"


def test_results_pickle_for_a_spawned_pool():
    result = ImageResult.record((b"framed",), 3, 4)
    assert pickle.loads(pickle.dumps(result)) == result


def test_results_cannot_be_changed_once_made():
    with pytest.raises(AttributeError):
        ImageResult.skipped("x").reason = "y"


def test_a_list_result_keeps_the_range_of_short_sides():
    result = ListResult("a.lst", "a.rec", "a.idx")
    for size, width, height in ((100, 640, 480), (50, 200, 300), (70, 1000, 900)):
        result.add_record(size, width, height)
    assert (result.records, result.bytes, result.min_side, result.max_side) == (3, 220, 200, 900)
