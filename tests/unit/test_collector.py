"""The collector pause around bulk builds (pcfx/collector.py): off inside, back as it was outside, whatever
happens inside; nested and overlapping blocks resume it only when the last one ends."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from pcfx.collector import collector_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_on_again_after():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_exception_inside_still_resumes_it():
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a bad CSV row")
    assert gc.isenabled()


def test_nested_blocks_resume_it_when_the_outer_one_ends():
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_as_a_decorator_each_call_pauses_it():
    @collector_paused()
    def build() -> bool:
        return gc.isenabled()

    assert build() is False
    assert build() is False
    assert gc.isenabled()


def test_overlapping_blocks_in_two_threads_resume_it_when_the_last_ends():
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def second() -> None:
        first_in.wait()
        with collector_paused():
            pass
        seen.append(gc.isenabled())  # the first block is still open
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    with collector_paused():
        first_in.set()
        second_done.wait()
    thread.join()
    assert seen == [False]
    assert gc.isenabled()
