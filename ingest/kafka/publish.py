"""Publish a simulated alert stream to Kafka, one night after another."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from confluent_kafka import KafkaException, Producer
from tqdm import tqdm

from ingest.simulator import AlertSimulator

log = logging.getLogger(__name__)


def night_topic(template: str, date: str) -> str:
    """The topic of one night: ``template`` with ``{date}`` replaced by ``YYYYMMDD``.

    ZTF publishes one topic per night and program (``ztf_20210901_programid1``);
    ``ztf_{date}_programid1`` does the same, a plain name puts every night in one topic.
    """
    return template.format(date=date) if "{date}" in template else template


def publish_simulation(
    simulator: AlertSimulator,
    servers: str,
    topic: str,
    *,
    every: float | None = None,
    truth_path: Path | None = None,
    stop: threading.Event | None = None,
    progress: bool = True,
) -> int:
    """Produce every simulated packet to Kafka, a night at a time.

    Parameters
    ----------
    simulator
        The stream to publish.
    servers
        Kafka bootstrap servers.
    topic
        Topic name, or a template with ``{date}`` for one topic per night.
    every
        Seconds between the starts of two nights (a night published, then a
        pause); None publishes everything at once.
    truth_path
        Where to write the simulation's truth table (CSV) first.
    stop
        Set it to stop between packets.
    progress
        Show a progress bar per night.

    Returns
    -------
    int
        Number of packets produced.
    """
    if truth_path is not None:
        truth_path.parent.mkdir(parents=True, exist_ok=True)
        simulator.truth.to_csv(truth_path, index=False)
    producer = Producer({"bootstrap.servers": servers, "linger.ms": 50})
    stop = stop or threading.Event()
    produced = 0
    for night in simulator.nights():
        started = time.monotonic()
        name = night_topic(topic, night.date)
        for packet in tqdm(night.packets, desc=name, unit="alert", disable=not progress):
            if stop.is_set():
                break
            while True:
                try:
                    producer.produce(name, packet.data, key=packet.object_id)
                    break
                except BufferError:  # local queue full: let it drain
                    producer.poll(0.5)
            producer.poll(0)
            produced += 1
        if producer.flush(60) != 0:
            raise KafkaException(f"{len(producer)} messages were not delivered to {servers}")
        log.info("published night %s to %s", night.date, name)
        if stop.is_set():
            break
        if every is not None:
            stop.wait(max(0.0, every - (time.monotonic() - started)))
    return produced
