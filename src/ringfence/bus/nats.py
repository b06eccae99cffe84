"""NATS JetStream event bus: a durable stream, one durable pull consumer shared by a group of
workers, explicit ack after the handler stored the batch, redelivery after ``ack_wait``.

Messages carry batches of events (``batch_size``) with a ``Nats-Msg-Id`` derived from the
event ids, so a publisher retry inside the stream's duplicate window is dropped by the server.
A worker killed mid-batch never acks it; JetStream redelivers it to another worker, and the
idempotent store makes the second delivery a no-op. Never acks before the handler returned.

Never drops a batch either: the consumer has no delivery limit (``max_deliver`` -1 on the
server), so a batch whose handler keeps failing — the store is down for a minute, which is an
outage, not a poison record (``Monitor.process`` dead-letters those itself) — is redelivered
with a growing delay until it is stored. ``max_deliver`` here is only the count after which a
message is logged as an error and handled on its own, so it cannot hold back the others
fetched with it. While a batch is being handled, its messages are kept "in progress" so a slow
commit is not redelivered to another worker meanwhile.

NATS down is the publisher's caller's business, never a hang: ``publish`` fails within
``publish_timeout`` (the gateway spools then), a client nats-py closed after its reconnect
attempts is replaced on the next call, and a worker subscribes again when NATS is back. Never
logs the URL's credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import nats
import nats.errors
from nats.js import api
from nats.js.errors import (
    APIError,
    NoStreamResponseError,
    NotFoundError,
    ServiceUnavailableError,
)

from ringfence.bus.base import DeadLetterSink, Handler, chunks, decode_items, encode_batch
from ringfence.core.errors import ConfigError, UnavailableError, ValidationError
from ringfence.core.logging import get_logger
from ringfence.monitor.events import Event

_log = get_logger("ringfence.bus.nats")

# Room left in a message for its headers (Nats-Msg-Id) under the server's max payload.
_HEADER_ROOM = 1024


class NatsBus:
    def __init__(
        self,
        url: str,
        *,
        stream: str = "RINGFENCE_EVENTS",
        subject_prefix: str = "ringfence",
        durable: str = "monitor",
        batch_size: int = 200,
        fetch_batch: int = 25,
        ack_wait: float = 30.0,
        max_deliver: int = 10,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30.0,
        max_age_days: float | None = None,
        replicas: int | None = None,
        mode: str = "analyse",
        after_batch: Callable[[], None] | None = None,
        dead_letter: DeadLetterSink | None = None,
        publish_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.durable = durable
        self.batch_size = batch_size
        self.fetch_batch = fetch_batch
        self.ack_wait = ack_wait
        # not a server-side limit (that is unlimited): the deliveries after which a failing
        # message is logged as an error and handled alone
        self.max_deliver = max_deliver
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        # The stream's retention and replication as configured (monitor.yaml's nats_max_age_days,
        # nats_replicas). None: not configured by this caller — a missing stream is created
        # with the defaults and an existing one is used as it is (so a publisher that does not
        # read monitor.yaml never changes the stream). Set: an existing stream with other
        # values is updated, or a clear ConfigError says why it cannot be.
        if max_age_days is not None and not max_age_days > 0:
            raise ConfigError(f"NATS stream max age must be more than 0 days, not {max_age_days}")
        if replicas is not None and not 1 <= replicas <= MAX_REPLICAS:
            raise ConfigError(f"NATS stream replicas must be 1 to {MAX_REPLICAS}, not {replicas}")
        if mode not in MODES:
            raise ConfigError(f"unknown monitor worker mode {mode!r}: {' or '.join(MODES)}")
        self.max_age_days = max_age_days
        self.replicas = replicas
        # what this bus's workers do with a batch: analyse (and store) it, or only store it
        self.mode = mode
        # called on the worker's loop after each batch (acked or not), once its events are
        # released: the worker runs the cyclic GC there, not in the middle of decoding
        self.after_batch = after_batch
        # where a message that is not a batch of events is stored before it is terminated
        self.dead_letter = dead_letter
        self.dead_lettered = 0
        # How long a publish may take, connecting included: a stalled server or a lost ack
        # must make it fail (the caller spools) rather than wait for ever.
        if not publish_timeout > 0:
            raise ConfigError(f"NATS publish timeout must be more than 0 s, not {publish_timeout}")
        self.publish_timeout = publish_timeout
        self._nc: Any = None
        self._js: Any = None
        # one connection per bus: concurrent first publishes wait for the one being made
        self._connecting: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self.handled_batches = 0
        self.redeliveries = 0
        self.failed_deliveries = 0

    @property
    def subjects(self) -> str:
        return f"{self.subject_prefix}.events.>"

    @property
    def connected(self) -> bool:
        return self._nc is not None and not self._nc.is_closed

    def _connect_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._connecting is None or self._connecting[0] is not loop:
            self._connecting = (loop, asyncio.Lock())
        return self._connecting[1]

    async def connect(self) -> None:
        """Connect (once: concurrent callers share the connection being made). A client that
        gave up reconnecting (nats-py closes it after ``_RECONNECT_ATTEMPTS`` failed attempts,
        ~30 s of outage) is replaced, so publishers and workers come back with NATS."""
        if self.connected:
            return
        async with self._connect_lock():
            if self.connected:
                return
            if self._nc is not None:
                _log.warning("bus connection was closed; connecting again", url=self._shown)
                self._nc = self._js = None
            await _probe(self.url)
            try:
                nc = await nats.connect(
                    self.url,
                    connect_timeout=2,
                    max_reconnect_attempts=_RECONNECT_ATTEMPTS,
                    reconnect_time_wait=0.5,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
            except Exception as exc:
                raise UnavailableError(
                    f"NATS unreachable at {self._shown}: {_no_secret(exc, self.url)}"
                ) from None
            self._nc, self._js = nc, nc.jetstream(timeout=10)
            try:
                await self.ensure_stream()
            except BaseException:
                # not kept half set up: the next call checks the stream again
                self._nc = self._js = None
                with contextlib.suppress(Exception):
                    await nc.close()
                raise

    @property
    def _shown(self) -> str:
        return shown_url(self.url)

    async def _on_error(self, exc: Exception) -> None:
        # nats-py's default logs a traceback at error level for every reconnect attempt
        _log.warning("bus connection error", url=self._shown, error=_no_secret(exc, self.url))

    async def _on_disconnected(self) -> None:
        if self._nc is not None:  # not our own close()
            _log.warning("bus disconnected; reconnecting", url=self._shown)

    async def _on_reconnected(self) -> None:
        _log.info("bus reconnected", url=self._shown)

    async def ensure_stream(self, _recovering: int = 0) -> None:
        replicas = self.replicas if self.replicas is not None else DEFAULT_REPLICAS
        max_age_days = self.max_age_days if self.max_age_days is not None else DEFAULT_MAX_AGE_DAYS
        try:
            info = await self._js.stream_info(self.stream)
        except NotFoundError:
            try:
                await self._js.add_stream(
                    api.StreamConfig(
                        name=self.stream,
                        subjects=[self.subjects],
                        storage=api.StorageType.FILE,
                        retention=api.RetentionPolicy.LIMITS,
                        max_age=max_age_days * 86400,
                        num_replicas=replicas,
                        duplicate_window=120,
                    )
                )
            except APIError as exc:
                if exc.err_code == _STREAM_NAME_IN_USE:  # another process created it meanwhile
                    return await self.ensure_stream()
                if exc.err_code == _STREAM_SUBJECT_OVERLAP and _recovering < _RECOVERY_CHECKS:
                    # Just after a NATS restart JetStream may still be recovering its streams
                    # from disk: ours answers "not found" while its subjects are already taken.
                    # Look again shortly instead of failing the worker or publisher for good.
                    await asyncio.sleep(_RECOVERY_PAUSE)
                    return await self.ensure_stream(_recovering + 1)
                raise ConfigError(
                    f"cannot create NATS stream {self.stream} ({replicas} replicas, max age "
                    f"{max_age_days:g} days): {exc.description or exc!r}"
                    + (_REPLICAS_HINT if replicas > 1 else ""),
                    code="nats_stream_config",
                ) from None
            return
        await self._check_stream(info)

    async def _check_stream(self, info: Any) -> None:
        """An existing stream: its subjects must cover ours; the configured replicas and max
        age are applied to it (updated in place: JetStream changes both without data loss),
        never silently left as they are."""
        current = info.config
        subjects = list(current.subjects or [])
        if self.subjects not in subjects:
            raise ConfigError(
                f"NATS stream {self.stream} exists with subjects {subjects}, not "
                f"{self.subjects}: set nats_subject_prefix in monitor.yaml to the stream's, or "
                "use another nats_stream",
                code="nats_stream_config",
            )
        changes: dict[str, Any] = {}
        if self.replicas is not None and (current.num_replicas or 1) != self.replicas:
            changes["num_replicas"] = self.replicas
        if self.max_age_days is not None:
            want = self.max_age_days * 86400
            if abs(float(current.max_age or 0) - want) > 1:
                changes["max_age"] = want
        if not changes:
            return
        if self.replicas is not None and self.replicas > 1 and info.cluster is None:
            # a server without clustering accepts the update and reports the new count, but
            # it has no peer to replicate to: refused here rather than pretended
            raise ConfigError(
                f"NATS stream {self.stream}: monitor.yaml asks for {self.replicas} replicas "
                f"but the server at {shown_url(self.url)} is not clustered; it has "
                f"{current.num_replicas or 1} replicas" + _REPLICAS_HINT,
                code="nats_stream_config",
            )
        was = {
            "num_replicas": current.num_replicas or 1,
            "max_age_days": round(float(current.max_age or 0) / 86400, 3),
        }
        try:
            await self._js.update_stream(current.evolve(**changes))
        except APIError as exc:
            raise ConfigError(
                f"NATS stream {self.stream} has {was['num_replicas']} replicas and max age "
                f"{was['max_age_days']:g} days (0 = unlimited); monitor.yaml asks for "
                f"{self.replicas if self.replicas is not None else was['num_replicas']} "
                f"replicas and "
                f"{self.max_age_days if self.max_age_days is not None else was['max_age_days']:g}"
                f" days, and the server refused the update: {exc.description or exc!r}"
                + (_REPLICAS_HINT if "num_replicas" in changes else ""),
                code="nats_stream_config",
            ) from None
        _log.info(
            "bus stream updated",
            stream=self.stream,
            was=was,
            now={
                "num_replicas": changes.get("num_replicas", was["num_replicas"]),
                "max_age_days": round(changes.get("max_age", 0) / 86400, 3)
                if "max_age" in changes
                else was["max_age_days"],
            },
        )

    async def publish(self, events: Sequence[Event]) -> None:
        """Publish and wait for JetStream's acks, within ``publish_timeout`` (connecting
        included). Raises UnavailableError when NATS does not take them — down, stalled, or an
        ack lost — so the caller keeps the events (the gateway spools them); a retry is
        deduplicated by Nats-Msg-Id within the stream's duplicate window, and by event id in
        the store after it."""
        futures: list[asyncio.Future[Any]] = []
        deadline = asyncio.timeout(self.publish_timeout)
        try:
            async with deadline:
                await self.connect()
                messages = self._messages(events)
                try:
                    futures = await self._publish_all(messages)
                    await asyncio.gather(*futures)
                except NoStreamResponseError:
                    # No stream takes the subject: NATS came back without its JetStream
                    # storage, or the stream was deleted. Made again (as configured) and sent
                    # once more; before, every publish failed for good (the gateway spooled
                    # for ever). A message the stream did take is dropped by its Nats-Msg-Id.
                    for f in futures:
                        f.cancel()
                    _log.warning("bus stream missing; creating it again", stream=self.stream)
                    await self.ensure_stream()
                    futures = await self._publish_all(messages)
                    await asyncio.gather(*futures)
        except TimeoutError as exc:
            for f in futures:
                f.cancel()
            why = (
                f"no acknowledgement from {self._shown} within {self.publish_timeout:g} s"
                if deadline.expired()
                else _no_secret(exc, self.url)
            )
            raise UnavailableError(
                f"publishing to NATS stream {self.stream} failed: {why}"
            ) from None
        except (UnavailableError, ConfigError, ValidationError):
            raise
        except Exception as exc:
            for f in futures:
                f.cancel()
            raise UnavailableError(
                f"publishing to NATS stream {self.stream} failed: {_no_secret(exc, self.url)}"
            ) from None

    async def _publish_all(
        self, messages: list[tuple[str, bytes, str]]
    ) -> list[asyncio.Future[Any]]:
        return [
            await self._js.publish_async(subject, data, headers={"Nats-Msg-Id": msg_id})
            for subject, data, msg_id in messages
        ]

    def _messages(self, events: Sequence[Event]) -> list[tuple[str, bytes, str]]:
        """(subject, payload, Nats-Msg-Id) per message: batches of ``batch_size`` events, each
        halved until it fits the server's max payload (1 MB by default). Before, a batch of
        large records (a push of 150 Okta records with 6 KB user agents) was refused whole with
        MaxPayloadError — reported as "NATS unavailable" on every retry, so never accepted."""
        limit = int(getattr(self._nc, "max_payload", 0) or 1024 * 1024) - _HEADER_ROOM
        out: list[tuple[str, bytes, str]] = []

        def add(batch: Sequence[Event]) -> None:
            data = encode_batch(batch)
            if len(data) > limit:
                if len(batch) == 1:
                    e = batch[0]
                    raise ValidationError(
                        f"event {e.id} of {e.source} is {len(data)} bytes encoded, more than "
                        f"the NATS server's max payload ({limit + _HEADER_ROOM} bytes)",
                        code="event_too_large",
                    )
                mid = len(batch) // 2
                add(batch[:mid])
                add(batch[mid:])
                return
            msg_id = hashlib.sha256("|".join(e.id for e in batch).encode()).hexdigest()
            out.append((f"{self.subject_prefix}.events.{batch[0].source}", data, msg_id))

        for batch in chunks(events, self.batch_size):
            add(batch)
        return out

    def _consumer_config(self) -> api.ConsumerConfig:
        return api.ConsumerConfig(
            durable_name=self.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            # Unlimited: the server must never discard a batch the store has not taken.
            max_deliver=-1,
            max_ack_pending=max(1000, self.fetch_batch * 20),
            filter_subject=self.subjects,
            description=_description(self.mode),
        )

    async def _check_mode(self) -> None:
        """Refuse to mix analysing and store-only workers on one stream. A store-only worker
        sharing the analysing workers' durable takes batches that are then never analysed; one
        on a durable of its own stores every event, and an analysing worker analyses only the
        events it stores itself (stored means analysed), so it would skip those too."""
        for info in await self._js.consumers_info(self.stream):
            config = info.config
            name = config.durable_name or info.name
            other = _mode_of(config.description, name == self.durable)
            if other is None or other == self.mode:
                continue
            label = {"analyse": "analysing", "store-only": "store-only"}
            same = "shares its durable with" if name == self.durable else "reads the stream of"
            raise ConfigError(
                f"this {label[self.mode]} monitor worker {same} {label[other]} workers "
                f"(durable {name!r} of stream {self.stream}): batches would be stored without "
                "being analysed. Run "
                "store-only workers only on a stream that no analysing worker reads (a "
                f"deployment without detection); a durable left over can be removed with "
                f"'nats consumer rm {self.stream} {name}'",
                code="bus_mode_conflict",
            )

    async def _subscription(self) -> Any:
        await self._check_mode()
        config = self._consumer_config()
        sub = await self._js.pull_subscribe(
            self.subjects, durable=self.durable, stream=self.stream, config=config
        )
        # pull_subscribe keeps an existing durable as it is: one created by an older release
        # (max_deliver 10) would still discard batches after ten failed deliveries.
        info = await self._js.consumer_info(self.stream, self.durable)
        current = info.config
        if (
            (current.max_deliver or -1) > 0
            or current.ack_wait != config.ack_wait
            or current.description != config.description
        ):
            await self._js.add_consumer(self.stream, config)
            _log.info(
                "bus consumer updated",
                durable=self.durable,
                max_deliver=-1,
                was=current.max_deliver,
            )
        return sub

    async def run_worker(self, handler: Handler, stop: asyncio.Event) -> None:
        """Fetch, handle, ack; until ``stop`` is set. Several workers share the durable.

        Outlives NATS outages: when the connection is lost for good (nats-py gives up after
        its reconnect attempts) or cannot be made, the worker waits (``retry_delay``, doubling
        up to 5 s) and connects and subscribes again. Before, it died with
        ConnectionClosedError ~30 s into an outage and monitoring stopped with it."""
        delay = self.retry_delay
        first = True
        while True:
            try:
                await self.connect()
                if not first:  # the stream may be gone with the server's storage
                    await self.ensure_stream()
                sub = await self._subscription()
            except _CONNECTION_LOST as exc:
                if first:  # NATS down or misnamed at start-up: said at once, not retried
                    raise
                _log.warning("bus worker cannot subscribe; retrying", error=self._why(exc))
            else:
                delay = self.retry_delay
                try:
                    await self._work(sub, handler, stop)
                    return
                except _CONNECTION_LOST as exc:
                    _log.warning("bus worker lost its connection", error=self._why(exc))
                finally:
                    # Unacked messages in hand are simply redelivered after ack_wait.
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
            first = False
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(self.max_retry_delay, _MAX_RESUBSCRIBE_DELAY, delay * 2)

    def _why(self, exc: BaseException) -> str:
        return _no_secret(exc, self.url)[:500]

    async def _check_consumer(self) -> None:
        try:
            await self._js.consumer_info(self.stream, self.durable)
        except NotFoundError:
            raise ConsumerLostError(
                f"durable {self.durable!r} of NATS stream {self.stream} is gone"
            ) from None

    async def _fetch(self, sub: Any) -> list[Any]:
        try:
            return list(await sub.fetch(self.fetch_batch, timeout=1.0))
        except (TimeoutError, nats.errors.TimeoutError):
            return []

    async def _work(self, sub: Any, handler: Handler, stop: asyncio.Event) -> None:
        """Pipelined: the next fetch is in flight while a batch is decoded and stored (in a
        worker thread), so the network round trip overlaps the database commit. Acks go out
        only after the handler returned, i.e. after the commit."""
        nxt: asyncio.Task[list[Any]] = asyncio.create_task(self._fetch(sub))
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        try:
            while not stop.is_set():
                msgs = await nxt
                if stop.is_set():
                    await _nak_all(msgs)  # not handled: hand them to another worker now
                    break
                if msgs:
                    idle_since = loop.time()
                elif loop.time() - idle_since > _IDLE_CHECK:
                    # An empty fetch looks the same whether nothing was published or the
                    # durable is gone (a server restarted without its storage, the stream
                    # deleted): the worker idled for good. Checked now and then when idle.
                    idle_since = loop.time()
                    await self._check_consumer()
                nxt = asyncio.create_task(self._fetch(sub))
                if msgs:
                    try:
                        await self._handle(msgs, handler)
                    finally:
                        if self.after_batch is not None:
                            self.after_batch()
        finally:
            if not nxt.done():
                nxt.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await nxt
            elif not nxt.cancelled() and nxt.exception() is None:
                await _nak_all(nxt.result())

    async def _handle(self, msgs: list[Any], handler: Handler) -> None:
        for m in msgs:
            if m.metadata.num_delivered > 1:
                self.redeliveries += 1
        # A message that already failed max_deliver times is handled on its own, so whatever
        # makes it fail does not hold back the messages fetched with it.
        suspects = [m for m in msgs if m.metadata.num_delivered > self.max_deliver]
        rest = [m for m in msgs if m.metadata.num_delivered <= self.max_deliver]
        groups = ([rest] if rest else []) + [[m] for m in suspects]
        for group in groups:
            await self._handle_group(group, handler)

    async def _handle_group(self, msgs: list[Any], handler: Handler) -> None:
        def decode_and_handle() -> tuple[list[tuple[Any, str]], BaseException | None]:
            bad: list[tuple[Any, str]] = []
            events: list[Event] = []
            # events of a message that are not events: dead-lettered one by one once the
            # rest of their message is handled (one malformed event must not poison it)
            odd: list[tuple[bytes, str]] = []
            good = 0
            for m in msgs:
                try:
                    items, malformed = decode_items(m.data)
                except ValueError as exc:
                    bad.append((m, str(exc)))
                    continue
                events.extend(items)
                odd.extend(malformed)
                good += 1
            if not good:
                return bad, None
            try:
                if events:
                    handler(events)
                for data, reason in odd:
                    self._dead_letter_item(data, reason)
            except Exception as exc:  # the handler's failure must not kill the worker
                return bad, exc
            return bad, None

        keep_alive = asyncio.create_task(self._keep_in_progress(msgs))
        try:
            bad, failure = await asyncio.to_thread(decode_and_handle)
        finally:
            keep_alive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keep_alive
        bad_msgs = {id(m) for m, _ in bad}
        for m, reason in bad:
            if await self._dead_letter(m, reason):
                _log.error("bus message dead-lettered and terminated", error=reason)
                await m.term()
            else:  # not stored anywhere: keep it (retried, and visible as pending)
                await m.nak(delay=self.max_retry_delay)
        good = [m for m in msgs if id(m) not in bad_msgs]
        if failure is not None:
            self.failed_deliveries += len(good)
            deliveries = max((m.metadata.num_delivered for m in good), default=1)
            delay = min(self.max_retry_delay, self.retry_delay * 2 ** min(deliveries - 1, 16))
            log = _log.error if deliveries >= self.max_deliver else _log.warning
            log(
                "batch handler failed; kept for redelivery",
                error=repr(failure)[:500],
                messages=len(good),
                deliveries=deliveries,
                retry_in=delay,
            )
            for m in good:
                await m.nak(delay=delay)
            return
        # Acks are plain publishes (no round trip each); only now, after the commit.
        for m in good:
            await m.ack()
        self.handled_batches += len(good)

    def _dead_letter_item(self, data: bytes, reason: str) -> None:
        """Store one malformed event of a message (in the handler's thread); raises if the
        store cannot take it, so the message is not acked and comes again."""
        _log.error("malformed event in a bus message", error=reason)
        if self.dead_letter is not None:
            self.dead_letter(data, reason)
            self.dead_lettered += 1

    async def _dead_letter(self, m: Any, reason: str) -> bool:
        """Store an undecodable message as a dead letter; False if that failed."""
        if self.dead_letter is None:
            _log.error("bus message lost: no dead-letter store", error=reason)
            return True
        try:
            await asyncio.to_thread(self.dead_letter, bytes(m.data), f"undecodable: {reason}")
        except Exception as exc:
            _log.error("dead-lettering a bus message failed", error=repr(exc)[:500])
            return False
        self.dead_lettered += 1
        return True

    async def _keep_in_progress(self, msgs: list[Any]) -> None:
        """Tell the server the batch is still being handled (a slow commit would otherwise be
        redelivered to another worker after ack_wait and stored twice over)."""
        every = max(0.2, self.ack_wait / 3)
        while True:
            await asyncio.sleep(every)
            for m in msgs:
                with contextlib.suppress(Exception):
                    await m.in_progress()

    async def pending(self) -> tuple[int, int]:
        """(messages not yet delivered, delivered but not acked) of the durable consumer."""
        await self.connect()
        try:
            info = await self._js.consumer_info(self.stream, self.durable)
        except NotFoundError:  # no worker has joined yet: everything is pending
            stream = await self._js.stream_info(self.stream)
            return int(stream.state.messages), 0
        return int(info.num_pending), int(info.num_ack_pending)

    async def delete_stream(self) -> None:
        await self.connect()
        with contextlib.suppress(NotFoundError):
            await self._js.delete_stream(self.stream)

    async def close(self) -> None:
        if self._nc is not None:
            nc, self._nc, self._js = self._nc, None, None
            if not nc.is_closed:
                with contextlib.suppress(Exception):  # a dead server: nothing left to flush
                    await asyncio.wait_for(nc.flush(), self.publish_timeout)
                await nc.close()


# nats-py closes a client for good after this many failed reconnects (~0.5 s apart):
# ``connect`` then makes a new one, so the count only bounds how long one client tries.
_RECONNECT_ATTEMPTS = 60
_MAX_RESUBSCRIBE_DELAY = 5.0  # s: a worker is back within this of NATS
_IDLE_CHECK = 10.0  # s of empty fetches after which a worker checks its durable still exists


class ConsumerLostError(UnavailableError):
    """The worker's durable consumer no longer exists: it subscribes again."""


# What ends a worker's subscription without being its own fault: it connects again.
_CONNECTION_LOST: tuple[type[BaseException], ...] = (
    UnavailableError,
    nats.errors.ConnectionClosedError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.TimeoutError,
    ServiceUnavailableError,
    TimeoutError,
)
DEFAULT_REPLICAS = 1
DEFAULT_MAX_AGE_DAYS = 7.0
MAX_REPLICAS = 5
MODES = ("analyse", "store-only")
_STREAM_NAME_IN_USE = 10058
_STREAM_SUBJECT_OVERLAP = 10065  # JSStreamSubjectOverlapErr
_RECOVERY_CHECKS = 20  # ... looked at again this many times,
_RECOVERY_PAUSE = 0.5  # seconds apart, before the overlap is taken as a real conflict
_REPLICAS_HINT = (
    " (a stream has at most as many replicas as the NATS cluster has JetStream servers: a "
    "single server holds 1; set nats_replicas in monitor.yaml to what the cluster can hold)"
)


def _description(mode: str) -> str:
    return f"ringfence monitor workers ({mode})"


def _mode_of(description: str | None, ours: bool) -> str | None:
    """The mode a durable's description names; a durable of ours without one (made by a
    release before session 11) is an analysing one; None for other programs' consumers."""
    for mode in MODES:
        if description == _description(mode):
            return mode
    return "analyse" if ours and not description else None


async def _nak_all(msgs: list[Any]) -> None:
    for m in msgs:
        with contextlib.suppress(Exception):
            await m.nak()


def shown_url(url: str) -> str:
    """``url`` as it may appear in a message or a log: without the user, password or token
    of ``nats://user:password@host`` / ``nats://token@host`` (a credential)."""
    from ringfence.core.urls import without_credentials

    return without_credentials(url, default_scheme="nats", what="NATS", keep_path=False)


def _no_secret(exc: BaseException, url: str) -> str:
    """repr(exc) with the URL's credentials cut out, should the client library quote it."""
    text = repr(exc)
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url if "://" in url else f"nats://{url}")
    except ValueError:
        return type(exc).__name__
    for secret in (parts.password, parts.username):
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


async def _probe(url: str) -> None:
    """Fail fast when nothing listens (nats-py would retry the first connect for long)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url if "://" in url else f"nats://{url}")
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=3)
    except (OSError, TimeoutError) as exc:
        raise UnavailableError(f"NATS unreachable at {shown_url(url)}: {exc!r}") from None
    writer.close()
