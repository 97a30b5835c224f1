"""``ask_partitions_early``: a client's first metadata request goes out when the client starts, on threads,
and a failure there is left to the send (which asks again and reports it)."""

import threading

from pcfx.connectors.kafka_io import ask_partitions_early


class Producer:
    def __init__(self, refuse: set[str]) -> None:
        self.refuse, self.asked, self.lock = refuse, [], threading.Lock()

    def partitions_for(self, topic: str) -> set[int]:
        with self.lock:
            self.asked.append(topic)
        if topic in self.refuse:
            raise TimeoutError(f"no metadata for {topic}")
        return {0, 1}


def test_each_topic_is_asked_for_on_a_daemon_thread_and_a_refusal_is_left_to_the_send():
    producer = Producer(refuse={"recipes"})
    threads = ask_partitions_early(producer, ["footprints", "recipes"])
    assert all(thread.daemon for thread in threads)  # never keeps a process alive
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(producer.asked) == ["footprints", "recipes"]  # and the refusal raised nowhere
