"""streams/batches.py: a marked batch is held until every record arrived, then released whole, once."""

from __future__ import annotations

from pcfx.streams.batches import Cancel, HeldBatches, Mark, marks_for, parse_mark


def test_marks_number_the_graph_updates_records_of_a_batch():
    a, b, c = marks_for([1, 2, 1], "b1")
    assert (a.text(), b.text(), c.text()) == ("b1/0/1/4", "b1/1/2/4", "b1/3/1/4")
    assert b.part(1) == Mark("b1", 2, 1, 4)
    assert parse_mark(b.text()) == b


def test_a_header_that_is_no_mark_counts_as_unmarked():
    assert [parse_mark(t) for t in (None, "", "x", "b/1/1", "b/a/1/2", "b/3/1/3", "/0/1/1")] == [None] * 7


def test_a_batch_is_held_until_its_last_record_then_released_in_order():
    held: HeldBatches[str] = HeldBatches()
    m = marks_for([1, 1, 1], "b")
    taken = held.take([(m[2], "third"), (None, "alone"), (m[0], "first")])
    assert taken.ready == ["alone"] and set(taken.hold) == {("b", 2), ("b", 0)}
    held.commit(taken)
    taken = held.take([(m[1], "second")])
    assert taken.ready == ["first", "second", "third"]
    assert taken.hold == {} and sorted(taken.release) == [("b", 0), ("b", 2)] and taken.done == ["b"]
    held.commit(taken)
    assert held.held() == 0
    assert held.take([(m[1], "replayed")]).ready == ["replayed"]  # a batch applied already: a replay goes straight on


def test_a_batch_whole_in_one_micro_batch_holds_nothing_and_a_redelivery_counts_once():
    held: HeldBatches[str] = HeldBatches()
    m = marks_for([1, 1], "b")
    taken = held.take([(m[0], "x"), (m[0], "x again"), (m[1], "y")])
    assert taken.ready == ["x again", "y"] and taken.hold == {} and taken.release == []


def test_a_record_held_before_and_delivered_again_counts_once():
    held: HeldBatches[str] = HeldBatches()
    m = marks_for([1, 1, 1], "b")
    held.commit(held.take([(m[0], "x")]))
    taken = held.take([(m[0], "x again"), (m[1], "y")])
    assert taken.ready == [] and set(taken.hold) == {("b", 0), ("b", 1)}  # two of three indices: still held
    held.commit(taken)
    assert held.take([(m[2], "z")]).ready == ["x again", "y", "z"]


def test_nothing_changes_until_commit_and_a_reload_finds_complete_batches():
    held: HeldBatches[str] = HeldBatches()
    m = marks_for([1, 1], "b")
    held.take([(m[0], "x")])
    assert held.held() == 0
    reloaded: HeldBatches[str] = HeldBatches()
    reloaded.load("b", 0, 2, "x")
    reloaded.load("b", 1, 2, "y")
    assert reloaded.complete() == ["b"]
    assert reloaded.take([], due=reloaded.complete()).ready == ["x", "y"]


def test_a_cancelled_batch_leaves_nothing_held_and_its_late_records_are_dropped():
    held: HeldBatches[str] = HeldBatches()
    m = marks_for([1, 1, 1], "b")
    held.commit(held.take([(m[0], "first")]))
    taken = held.take([(m[1], "second"), (Cancel("b"), "cancel"), (None, "other")])
    assert taken.ready == ["other"] and taken.hold == {} and taken.release == [("b", 0)] and taken.cancelled == ["b"]
    held.commit(taken)
    assert held.held() == 0 and held.complete() == []
    late = held.take([(m[2], "third, sent before the producer gave up")])
    assert late.ready == [] and late.hold == {}  # the batch can never complete: nothing of it is applied


def test_a_cancel_after_its_batch_was_applied_changes_nothing():
    held: HeldBatches[str] = HeldBatches()
    m = marks_for([1, 1], "b")
    taken = held.take([(m[0], "x"), (m[1], "y"), (Cancel("b"), "cancel")])
    assert taken.ready == ["x", "y"] and taken.done == ["b"] and taken.cancelled == []
    held.commit(taken)
    assert held.take([(Cancel("b"), "cancel again")]).cancelled == []


def test_a_reload_remembers_cancelled_batches():
    held: HeldBatches[str] = HeldBatches()
    held.load_cancelled("b")
    (mark,) = marks_for([1], "b")
    assert held.take([(mark, "late")]).ready == []
