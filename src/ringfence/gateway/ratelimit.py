"""Rate limits per integration and route with the ``limits`` library (fixed window).

Memory storage when the gateway runs embedded; Redis when several gateway processes share
limits. With Redis each hit is one atomic Lua ``INCRBY``+``EXPIRE``+``TTL`` (the semantics of
``limits``' ``incr_expire``, sent by the lean pipelined client in ``redisclient``; ``limits``'
own Redis storage only for URLs that client does not handle), so the count is exact across
processes: exactly N requests per window pass. If the storage cannot
answer, ``hit`` raises ``UnavailableError`` — the gateway answers 503, never unlimited.
"""

from __future__ import annotations

import asyncio
import math
import time
from functools import partial
from typing import Any, NamedTuple

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from ringfence.core.errors import UnavailableError
from ringfence.gateway.redisclient import LeanRedis, RedisUnavailable, discard_reply


class LimitDecision(NamedTuple):
    """One hit's verdict. A named tuple, immutable as the frozen dataclass it was, built in a
    fraction of its cost (a frozen dataclass sets each field through ``object.__setattr__``;
    one is made per request)."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


# ``LimitDecision(...)`` without its generated Python ``__new__`` (which does just this):
# ≈ 3k instructions less for the verdict every limited request gets.
_new_decision: Any = partial(tuple.__new__, LimitDecision)


def _unavailable(exc: BaseException) -> UnavailableError:
    return UnavailableError(
        f"rate-limit storage unavailable ({type(exc).__name__})", code="ratelimit_unavailable"
    )


def _decision(item: RateLimitItem, count: int, ttl: int) -> LimitDecision:
    reset = ttl if ttl > 0 else item.get_expiry()
    amount = item.amount
    decision: LimitDecision = _new_decision(
        (count <= amount, amount, max(0, amount - count), max(1, reset))
    )
    return decision


class PendingHit:
    """A rate-limit hit in flight (``RateLimiter.begin``)."""

    __slots__ = ("_identifiers", "_item", "_key", "_limiter", "_reply")

    def __init__(
        self,
        limiter: RateLimiter,
        item: RateLimitItem,
        identifiers: tuple[str, ...],
        reply: asyncio.Future[Any] | None = None,
        key: str = "",
    ) -> None:
        self._limiter = limiter
        self._item = item
        self._identifiers = identifiers
        self._reply = reply  # the lean Redis command already sent, or None: hit on decision()
        self._key = key

    async def decision(self) -> LimitDecision:
        reply = self._reply
        if reply is None:  # not sent yet (memory storage, or Redis not connected): hit now
            return await self._limiter.hit(self._item, *self._identifiers)
        self._reply = None
        lean = self._limiter._lean
        assert lean is not None
        item = self._item
        try:
            # ``PendingReply.result()`` without its coroutine: one await fewer a request
            try:
                raw = await reply
            except TimeoutError:
                raise RedisUnavailable("Redis did not answer in time") from None
            if type(raw) is list and len(raw) == 2 and type(raw[0]) is int and type(raw[1]) is int:
                count, ttl = raw  # the usual reply, as ``lean.counted`` reads it
            else:
                counted = lean.counted(raw)
                if counted is None:  # the script must be loaded first
                    counted = await lean.incr_expire_ttl_reply(raw, self._key, item.get_expiry())
                count, ttl = counted
        except Exception as exc:
            raise _unavailable(exc) from None
        return _decision(item, count, ttl)

    def discard(self) -> None:
        if self._reply is not None:
            discard_reply(self._reply)
            self._reply = None


class RateLimiter:
    """A fixed-window limiter over a ``limits`` async storage."""

    def __init__(
        self, storage: Storage, *, exact_reset: bool = True, lean: LeanRedis | None = None
    ) -> None:
        self.storage = storage
        # Redis via the lean client: one EVALSHA per hit (count and TTL together).
        self._lean = lean
        self._lean_prefix = ""
        # ``begin``'s (route, integration) -> (the limit item, its Redis key, the command)
        self._begun: dict[tuple[str, ...], tuple[RateLimitItem, str, bytes]] = {}
        self._strategy = FixedWindowRateLimiter(storage)
        # Reading the reset time costs a second round trip on Redis: do it only on denial.
        self._exact_reset = exact_reset

    @classmethod
    def memory(cls) -> RateLimiter:
        return cls(MemoryStorage())

    @classmethod
    def redis(cls, url: str, prefix: str, *, timeout: float = 0.5) -> RateLimiter:
        import redis.asyncio as aredis

        uri = url.replace("redis://", "async+redis://", 1)
        uri = uri.replace("rediss://", "async+rediss://", 1)
        # A bounded pool that waits for a free connection (instead of opening one per
        # concurrent request and timing out under bursts); waiting too long is a 503.
        pool: aredis.BlockingConnectionPool[Any] = aredis.BlockingConnectionPool.from_url(
            url,
            max_connections=64,
            timeout=3.0,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(
            uri, implementation="redispy", key_prefix=prefix.rstrip(":"), **options
        )
        if LeanRedis.supports(url):
            limiter = cls(storage, exact_reset=False, lean=LeanRedis(url, timeout=timeout))
            limiter._lean_prefix = prefix.rstrip(":") + ":"  # the same keys as ``limits``
            return limiter
        return cls(storage, exact_reset=False)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> LimitDecision:
        key = item.key_for(*identifiers)
        expiry = item.get_expiry()
        if self._lean is not None:
            try:
                count, ttl = await self._lean.incr_expire_ttl(self._lean_prefix + key, expiry)
            except Exception as exc:
                raise _unavailable(exc) from None
            return _decision(item, count, ttl)
        try:
            count = await self.storage.incr(key, expiry)
            allowed = count <= item.amount
            if allowed and not self._exact_reset:
                reset = expiry
            else:
                reset_at = await self.storage.get_expiry(key)
                reset = max(1, math.ceil(reset_at - time.time()))
        except Exception as exc:
            raise UnavailableError(
                f"rate-limit storage unavailable ({type(exc).__name__})",
                code="ratelimit_unavailable",
            ) from None
        return LimitDecision(allowed, item.amount, max(0, item.amount - count), reset)

    def begin(self, item: RateLimitItem, *identifiers: str) -> PendingHit:
        """``hit`` started now: with Redis the command leaves at once, so the gateway can
        read and check the body while Redis answers. Finish with ``await pending.decision()``
        before anything is forwarded, or ``pending.discard()`` if the request is abandoned.
        """
        lean = self._lean
        if lean is not None:
            # The same few (route, integration) pairs come back on every request: their key
            # and encoded command are kept, for this very item (a reloaded policy's new item
            # object, even with the same limit, builds its own; the entry holds the item, so
            # its identity cannot be reused by another). Bounded: reset when it fills.
            known = self._begun.get(identifiers)
            if known is None or known[0] is not item:
                key = self._lean_prefix + item.key_for(*identifiers)
                expiry = item.get_expiry()
                if len(self._begun) >= 4096:
                    self._begun.clear()
                known = self._begun[identifiers] = (item, key, lean.evalsha(key, expiry))
            reply = lean.send_future(known[2])
            if reply is not None:
                return PendingHit(self, item, identifiers, reply, known[1])
        return PendingHit(self, item, identifiers)

    async def ping(self) -> bool:
        if self._lean is not None:
            return await self._lean.ping()
        try:
            return bool(await self.storage.check())
        except Exception:
            return False

    async def aclose(self) -> None:
        if self._lean is not None:
            await self._lean.aclose()

    @property
    def strategy(self) -> FixedWindowRateLimiter:
        return self._strategy
