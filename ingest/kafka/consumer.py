"""Live ingest from Kafka: the consumer loop around the same decode and writer as file ingest.

Delivery is at-least-once made exactly-once in effect: a message's offset is
stored only after its batch's database commit, and every write is idempotent,
so a crash or a rebalance re-delivers messages that then change nothing.

The loop follows confluent-kafka's consumer example: ``enable.auto.offset.store``
off, offsets stored after the commit, ``close()`` in ``finally``; SIGTERM or
SIGINT finish the current batch, commit and return.
"""

from __future__ import annotations

import logging
import re
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import FrameType

import psycopg
import psycopg.errors
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from ingest.decode import AlertDecoder
from ingest.objects_stage import ObjectStage
from ingest.pipeline import IngestSummary, decode_packet
from ingest.rows import AlertRows
from ingest.sources import Packet
from ingest.writer import ArchiveWriter, BatchResult, QuarantinedPacket

log = logging.getLogger(__name__)

REGEX_CHARACTERS = re.compile(r"[\\^$.|?*+()\[\]{}]")
MAX_BACKOFF_S = 30.0
MAX_CONFLICT_RETRIES = 5
ASSIGNMENT_WAIT_S = 60.0
"""With ``stop_when_idle``: give up if no partition is assigned this long after subscribing
(or after two session timeouts and 10 s, if longer: a restart takes about 1.8 of them)."""
MAX_HEARTBEAT_MS = 3_000
"""librdkafka's default heartbeat interval; shorter for short sessions (a quarter of them)."""


def subscription(pattern: str) -> str:
    """A topic name as is; anything with regex characters as a librdkafka regex (``^…``).

    ZTF publishes one topic per night and program, e.g. ``ztf_20210901_programid1``;
    ``ztf_.*_programid1`` follows them all. (A plain name with a dot is also taken
    as a regex; it still matches itself.)
    """
    if pattern.startswith("^") or not REGEX_CHARACTERS.search(pattern):
        return pattern
    return "^" + pattern


@dataclass
class KafkaSettings:
    """How to consume: servers, topic pattern, group, batching and group session.

    ``session_timeout`` (seconds) becomes ``session.timeout.ms`` unless
    ``consumer_config`` sets that itself. On the embedded Tansu broker it decides
    how soon an ingester restarted after ``kill -9`` gets its partitions back.
    Tansu holds every JoinGroup for half a session timeout and a SyncGroup for up
    to 0.8 of one, and drops the dead member (still the group's leader) only a
    session timeout after its last heartbeat; so the restarted ingester joins,
    fails to sync, joins again and is assigned after about 1.8 session timeouts:
    about 40 s with the default 20 s, about 80 s with librdkafka's 45 s.

    Tansu keeps the session timeout of whichever member created the group, for as
    long as the broker runs; a changed setting applies to groups created after it.

    Static membership (``group.instance.id``) rejoins faster on Tansu (about half
    a session timeout plus 3 s) but is not used: Tansu never drops a static
    member, so the partitions of an ingester that is stopped or killed and not
    restarted stay assigned to it, unread, for as long as the broker runs.
    """

    servers: str
    topic: str
    group: str = "lasair-nb"
    batch_size: int = 500
    max_wait: float = 1.0
    stop_when_idle: float | None = None
    consumer_config: dict[str, object] = field(default_factory=dict)
    session_timeout: float = 20.0


class KafkaIngester:
    """Consume ZTF packets from Kafka into the archive until stopped.

    Parameters
    ----------
    settings
        Servers, topic pattern, group, batch size, waits.
    connect
        Opens a new psycopg 3 connection to the archive (:func:`ingest.connection.connect`);
        called again after an outage.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        connect: Callable[[], psycopg.Connection],
    ) -> None:
        if settings.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {settings.batch_size}")
        if not settings.session_timeout > 0:
            raise ValueError(f"session timeout must be positive, got {settings.session_timeout}")
        self.settings = settings
        self.connect = connect
        self.decoder = AlertDecoder()
        self.stopping = False
        self._connection: psycopg.Connection | None = None
        self._writer: ArchiveWriter | None = None
        self._objects: ObjectStage | None = None
        self._broker_down_since: float | None = None
        self._last_activity = time.monotonic()
        self._assigned = False
        self._assignment_wait = max(ASSIGNMENT_WAIT_S, 2 * self._session_seconds() + 10)

    def stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Finish the current batch, commit and return from :meth:`run`."""
        if signum is not None:
            log.info("received %s: finishing the current batch", signal.Signals(signum).name)
        self.stopping = True

    def consumer_config(self) -> dict[str, object]:
        """The librdkafka configuration: ours, then ``consumer_config`` on top.

        The heartbeat interval, unless set, is a quarter of the session timeout
        (at most librdkafka's default 3 s), so it stays below a third of it.
        """
        config: dict[str, object] = {
            "bootstrap.servers": self.settings.servers,
            "group.id": self.settings.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,
            # ZTF opens a topic per night: notice new ones matching the pattern soon.
            "topic.metadata.refresh.interval.ms": 5_000,
            "session.timeout.ms": round(self.settings.session_timeout * 1000),
            "error_cb": self._on_error,
        }
        config.update(self.settings.consumer_config)
        if "heartbeat.interval.ms" not in self.settings.consumer_config:
            session_ms = round(self._session_seconds() * 1000)
            config["heartbeat.interval.ms"] = max(1, min(MAX_HEARTBEAT_MS, session_ms // 4))
        return config

    def _session_seconds(self) -> float:
        """The session timeout in effect: ``session.timeout.ms`` if given, else ours."""
        given = self.settings.consumer_config.get("session.timeout.ms")
        if given is None:
            return self.settings.session_timeout
        try:
            return float(str(given)) / 1000
        except ValueError:
            return self.settings.session_timeout  # librdkafka will reject it

    def _consumer(self) -> Consumer:
        return Consumer(self.consumer_config())

    def _on_error(self, error: KafkaError) -> None:
        if error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            if self._broker_down_since is None:
                self._broker_down_since = time.monotonic()
                log.warning("Kafka broker unreachable (%s); librdkafka keeps retrying", error)
        else:
            log.warning("Kafka error: %s", error)

    def run(self, install_signal_handlers: bool = True) -> IngestSummary:
        """Consume and ingest until stopped, or idle for ``stop_when_idle`` seconds."""
        if install_signal_handlers:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        summary = IngestSummary()
        started = time.monotonic()
        consumer = self._subscribe()
        # A writer thread commits batch n while this thread consumes and decodes
        # batch n+1; batch n's offsets are stored only once its commit is done.
        pending: tuple[Future[BatchResult | None], list[Message]] | None = None

        def settle() -> bool:
            """Wait for the batch being written; False if it was abandoned on stop."""
            nonlocal pending
            if pending is None:
                return True
            future, written = pending
            pending = None
            result = future.result()
            if result is None:  # stopped while the database was away
                return False
            summary.add(result)
            self._store_offsets(consumer, written)
            if self._objects is not None:
                self._objects.after_batch()  # a stage process that died starts again
            return True

        try:
            with ThreadPoolExecutor(1, thread_name_prefix="archive-writer") as writer:
                while not self.stopping:
                    messages = consumer.consume(self.settings.batch_size, self.settings.max_wait)
                    good = [m for m in messages if not self._is_error(m)]
                    if not good:
                        if not settle() or self._idle_too_long():
                            break
                        continue
                    if self._broker_down_since is not None:
                        down = time.monotonic() - self._broker_down_since
                        log.warning("Kafka broker back after %.0f s", down)
                        self._broker_down_since = None
                    self._last_activity = time.monotonic()
                    batch = self._decode(good)
                    if not settle():
                        break
                    pending = (writer.submit(self._write, len(good), *batch), good)
                settle()
        finally:
            # The consumer first: its last offsets, and the group let go at once.
            try:
                self._close(consumer)
            finally:
                self._finish_objects()
                if self._connection is not None:
                    self._connection.close()
        summary.seconds = time.monotonic() - started
        return summary

    def _subscribe(self) -> Consumer:
        self._last_activity = time.monotonic()
        self._assigned = False
        consumer = self._consumer()
        topic = subscription(self.settings.topic)
        consumer.subscribe([topic], on_assign=self._on_assign)
        log.info(
            "consuming %s from %s as group %s (session timeout %g s)",
            topic,
            self.settings.servers,
            self.settings.group,
            self._session_seconds(),
        )
        return consumer

    def _close(self, consumer: Consumer) -> None:
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as error:
            # Nothing stored since the last automatic commit raises _NO_OFFSET.
            if error.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("final offset commit failed: %s", error)
        consumer.close()

    def _idle_too_long(self) -> bool:
        if self.settings.stop_when_idle is None:
            return False
        idle = time.monotonic() - self._last_activity
        if not self._assigned:
            # Joining a group (and waiting out a crashed member's session) takes a
            # while; idleness counts from the first assignment.
            if idle >= max(self._assignment_wait, self.settings.stop_when_idle):
                log.warning("no partition assigned after %.0f s: is the topic right?", idle)
                return True
            return False
        if idle >= self.settings.stop_when_idle:
            log.info("no message for %.0f s: stopping", idle)
            return True
        return False

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned = True
        self._last_activity = time.monotonic()
        log.info("assigned %d partitions", len(partitions))

    def _is_error(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            # A pattern subscription before the night's first topic exists.
            log.info("waiting for a topic matching %s", self.settings.topic)
        elif error.code() != KafkaError._PARTITION_EOF:
            log.warning("Kafka message error: %s", error)
        return True

    def _decode(
        self, messages: list[Message]
    ) -> tuple[list[AlertRows], list[QuarantinedPacket], list[float], float]:
        """Decode one batch: good alerts, quarantined packets, message times, start time."""
        started = time.monotonic()
        alerts: list[AlertRows] = []
        quarantined: list[QuarantinedPacket] = []
        times: list[float] = []
        for message in messages:
            source = f"{message.topic()}[{message.partition()}]@{message.offset()}"
            result = decode_packet(self.decoder, Packet(message.value() or b"", source))
            if isinstance(result, QuarantinedPacket):
                quarantined.append(result)
            else:
                alerts.extend(result)
            kind, stamp = message.timestamp()
            if kind != 0:  # TIMESTAMP_NOT_AVAILABLE
                times.append(stamp / 1000.0)
        return alerts, quarantined, times, started

    def _write(
        self,
        count: int,
        alerts: list[AlertRows],
        quarantined: list[QuarantinedPacket],
        times: list[float],
        started: float,
    ) -> BatchResult | None:
        """Write one batch, retrying with backoff while the database is away.

        Returns None if told to stop before the database came back.
        """
        source = f"kafka: {self.settings.servers} {self.settings.topic}"
        backoff = 1.0
        conflicts = 0
        while True:
            try:
                writer = self._archive_writer()
                return writer.write_batch(alerts, quarantined, source, started, times)
            except (
                psycopg.errors.UniqueViolation,
                psycopg.errors.DeadlockDetected,
                psycopg.errors.SerializationFailure,
            ) as error:
                # A concurrent ingester wrote the same stamps or locked the same rows;
                # the batch rolled back, and its retry finds what is now there.
                conflicts += 1
                if conflicts > MAX_CONFLICT_RETRIES:
                    raise
                log.info("%s with a concurrent ingester; retrying the batch", type(error).__name__)
                time.sleep(0.1 * conflicts)
                continue
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                self._drop_connection()
                if self.stopping:
                    log.error(
                        "stopping while the database is unavailable; %d messages will be "
                        "delivered again",
                        count,
                    )
                    return None
                log.warning(
                    "database unavailable (%s); retrying the batch of %d in %.0f s",
                    str(error).strip().splitlines()[0]
                    if str(error).strip()
                    else type(error).__name__,
                    count,
                    backoff,
                )
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _archive_writer(self) -> ArchiveWriter:
        if self._writer is None:
            self._connection = self.connect()
            self._writer = ArchiveWriter(self._connection)
            log.info("connected to the archive")
            # Objects are summarised beside the stream, in a process of their own.
            if self._objects is None:
                self._objects = ObjectStage(self._connection, in_process=False)
                self._objects.start()
            self._objects.connection = self._connection
        return self._writer

    def _finish_objects(self) -> None:
        """Stop the objects stage; with the archive reachable, summarise what is queued."""
        if self._objects is None:
            return
        try:
            self._objects.finish(drain=self._connection is not None)
        except Exception as error:  # noqa: BLE001 - stopping goes on; the queue waits
            log.warning("objects not all summarised on stopping: %s", error)
        self._objects = None

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except psycopg.Error:
                log.debug("closing a broken connection failed", exc_info=True)
        self._connection = None
        self._writer = None

    @staticmethod
    def _store_offsets(consumer: Consumer, messages: list[Message]) -> None:
        latest: dict[tuple[str, int], int] = {}
        for message in messages:
            key = (message.topic(), message.partition())
            latest[key] = max(latest.get(key, -1), message.offset())
        offsets = [
            TopicPartition(topic, partition, offset + 1)
            for (topic, partition), offset in latest.items()
        ]
        try:
            consumer.store_offsets(offsets=offsets)
        except KafkaException as error:
            # After a rebalance this process may no longer own a partition; the new
            # owner re-reads those messages, which the archive already holds.
            log.warning("could not store offsets (%s); messages may be re-read", error)
