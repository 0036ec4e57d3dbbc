"""read_ahead: chunks in order, errors where they happened, no thread left behind."""

import threading

import pytest

from gleif_data.read_ahead import read_ahead


def test_chunks_come_in_order_and_whole():
    assert list(read_ahead(range(10), 4)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert list(read_ahead([], 4)) == []


def test_an_error_while_reading_is_raised_after_the_chunks_before_it():
    def rows():
        yield from range(5)
        raise ValueError("line 6: bad")

    chunks = read_ahead(rows(), 2)
    assert next(chunks) == [0, 1]
    assert next(chunks) == [2, 3]
    with pytest.raises(ValueError, match="line 6: bad"):
        next(chunks)


def test_a_caller_that_stops_early_stops_the_reader():
    consumed = []

    def rows():
        for n in range(1_000_000):
            consumed.append(n)
            yield n

    before = threading.active_count()
    for chunk in read_ahead(rows(), 10, depth=1):
        assert chunk == list(range(10))
        break
    # The generator's cleanup ran when the loop left it: the reader is gone, and it read
    # no more than the chunks that fit in the queue, plus the one it was making.
    assert threading.active_count() == before
    assert len(consumed) <= 40
