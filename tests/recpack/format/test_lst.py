import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recpack.errors import ListFileError
from recpack.format.lst import parse_list


def write(tmp_path, text, name="a.lst"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_im2rec_lines_including_multi_label(tmp_path):
    entries = parse_list(
        write(tmp_path, "3\t1.000000\t0752/a.jpg\n7\t0.000000\t2.500000\tb c.png\n\n")
    )
    assert [(e.index, e.labels, e.path) for e in entries] == [
        (3, (1.0,), "0752/a.jpg"),
        (7, (0.0, 2.5), "b c.png"),
    ]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("0\t1.0\ta.jpg\nx\t1.0\tb.jpg\n", 2, "index 'x' is not an integer"),
        ("0\tone\ta.jpg\n", 1, "label 'one' in column 2 is not a number"),
        ("0\ta.jpg\n", 1, "3 or more tab-separated columns"),
        (
            "0\t1.0\ta.jpg\n1\t1.0\tb.jpg\n0\t2.0\tc.jpg\n",
            3,
            "duplicate index 0 (first used on line 1)",
        ),
        ("0\t1.0\t../secret.jpg\n", 1, "escape ROOT"),
        ("0\t1.0\t/etc/passwd\n", 1, "absolute paths are not allowed"),
        ("0\tnan\ta.jpg\n", 1, "not a finite number"),
        ("-1\t1.0\ta.jpg\n", 1, "outside 0..2^64-1"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ListFileError) as caught:
        parse_list(path)
    assert f"{path}:{line}:" in str(caught.value)
    assert message in str(caught.value)


def test_empty_and_non_utf8_lists_are_refused(tmp_path):
    with pytest.raises(ListFileError, match="empty"):
        parse_list(write(tmp_path, "\n\n"))
    path = tmp_path / "b.lst"
    path.write_bytes(b"0\t1.0\t\xff\xfe.jpg\n")
    with pytest.raises(ListFileError, match="not UTF-8"):
        parse_list(path)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789.\t\n -/a.jpgé\\x"), max_size=80))
def test_any_text_parses_or_gives_a_located_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("lst") / "f.lst"
    path.write_text(text, encoding="utf-8")
    try:
        entries = parse_list(path)
    except ListFileError as exc:
        assert str(path) in str(exc)
    else:
        assert len({e.index for e in entries}) == len(entries)
        assert all(not e.path.startswith("/") and ".." not in e.path.split("/") for e in entries)
