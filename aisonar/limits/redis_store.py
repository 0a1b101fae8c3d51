"""The Redis limit store: every gateway process shares the same buckets and slots, and
each decision is one Lua script run on Redis's own clock (no skew between processes,
no check-then-set race).

Keys: a rate bucket is a string holding its TAT in seconds, expiring once the bucket is
whole again; a slot set is a sorted set of request ids scored by expiry."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import BlockingConnectionPool, Redis

from aisonar.errors import require_positive
from aisonar.limits.store import CheckState, Decision, RateCheck, SlotCheck

_MAX_CONNECTIONS = 64

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

# KEYS: rate buckets, then slot sets. ARGV: request id, #rates, #slots, then per rate
# limit, window, cost, then per slot limit, ttl. Returns {refused (0: none, else the
# 1-based check), retry after ms, then per rate {remaining, reset ms}, per slot its count}.
_ADMIT = (
    _NOW
    + """
local n_rates, n_slots = tonumber(ARGV[2]), tonumber(ARGV[3])
local refused, retry = 0, 0
local tats, counts = {}, {}
local a = 4
for i = 1, n_rates do
  local limit, window, cost = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  local base = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now)
  local new_tat = base + cost * window / limit
  local wait = 0
  if cost > limit then
    wait = window
  elseif new_tat - window > now then
    wait = new_tat - window - now
  end
  if wait > 0 then
    tats[i] = base
    if refused == 0 then refused, retry = i, wait end
  else
    tats[i] = new_tat
  end
end
for j = 1, n_slots do
  local key, limit = KEYS[n_rates + j], tonumber(ARGV[a])
  a = a + 2
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  counts[j] = redis.call('ZCARD', key)
  if counts[j] >= limit and refused == 0 then refused, retry = n_rates + j, 1 end
end
if refused == 0 then
  for i = 1, n_rates do
    redis.call('SET', KEYS[i], tostring(tats[i]), 'PX', math.ceil((tats[i] - now) * 1000) + 1000)
  end
  a = 4 + 3 * n_rates
  for j = 1, n_slots do
    local ttl = tonumber(ARGV[a + 1])
    a = a + 2
    redis.call('ZADD', KEYS[n_rates + j], now + ttl, ARGV[1])
    redis.call('PEXPIRE', KEYS[n_rates + j], math.ceil(ttl * 1000) + 1000)
  end
end
local out = {refused, math.ceil(retry * 1000)}
a = 4
for i = 1, n_rates do
  local limit, window = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 3
  local ahead = math.max(tats[i] - now, 0)
  out[#out + 1] = math.max(math.floor((window - ahead) * limit / window + 1e-9), 0)
  out[#out + 1] = math.ceil(ahead * 1000)
end
for j = 1, n_slots do out[#out + 1] = counts[j] end
return out
"""
)

# KEYS: slot sets, then rate buckets. ARGV: request id, #slots, delta, then per bucket
# limit, window.
_FINISH = (
    _NOW
    + """
local n_slots, delta = tonumber(ARGV[2]), tonumber(ARGV[3])
for j = 1, n_slots do redis.call('ZREM', KEYS[j], ARGV[1]) end
if delta == 0 then return 0 end
local a = 4
for i = n_slots + 1, #KEYS do
  local limit, window = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  local base = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now)
  local tat = math.max(base + delta * window / limit, now)
  redis.call('SET', KEYS[i], tostring(tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
end
return 0
"""
)


class RedisLimitStore:
    def __init__(self, url: str, *, prefix: str = "aisonar:limit:") -> None:
        # Requests wait for a free connection rather than fail when many are in flight.
        pool = BlockingConnectionPool.from_url(url, max_connections=_MAX_CONNECTIONS, timeout=5)
        self._redis = Redis(connection_pool=pool)
        self._prefix = prefix
        self._admit = self._redis.register_script(_ADMIT)
        self._finish = self._redis.register_script(_FINISH)

    async def admit(
        self, request_id: str, rates: Sequence[RateCheck], slots: Sequence[SlotCheck]
    ) -> Decision:
        for check in rates:
            if check.cost < 1:
                require_positive(check.cost, f"The cost of {check.name}")
        keys = [self._prefix + c.key for c in rates] + [self._prefix + s.key for s in slots]
        args: list[str | int | float] = [request_id, len(rates), len(slots)]
        for check in rates:
            args += [check.limit, check.window_s, check.cost]
        for slot in slots:
            args += [slot.limit, slot.ttl_s]
        reply = [int(value) for value in await self._admit(keys=keys, args=args)]
        refused, retry_ms = reply[0], reply[1]
        allowed = refused == 0
        states = [
            CheckState(check.name, check.limit, reply[2 + 2 * i], reply[3 + 2 * i] / 1000)
            for i, check in enumerate(rates)
        ]
        counts = reply[2 + 2 * len(rates) :]
        states += [
            CheckState(slot.name, slot.limit, max(slot.limit - count - allowed, 0), 0.0)
            for slot, count in zip(slots, counts, strict=True)
        ]
        checks = [c.name for c in rates] + [s.name for s in slots]
        return Decision(
            allowed,
            None if allowed else checks[refused - 1],
            retry_ms / 1000,
            tuple(states),
        )

    async def finish(
        self,
        request_id: str,
        slots: Sequence[SlotCheck],
        tokens: Sequence[RateCheck],
        delta: int,
    ) -> None:
        """One round trip: the slots given back and the buckets corrected together."""
        if not delta:
            tokens = ()
        if not (slots or tokens):
            return
        args: list[str | int | float] = [request_id, len(slots), delta]
        for check in tokens:
            args += [check.limit, check.window_s]
        keys = [self._prefix + s.key for s in slots] + [self._prefix + c.key for c in tokens]
        await self._finish(keys=keys, args=args)

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)
