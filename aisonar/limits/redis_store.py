"""The Redis limit store: every gateway process shares the same buckets and slots, and
each decision is one Lua script run on Redis's own clock (no skew between processes,
no check-then-set race).

Keys: a rate bucket is a string holding its TAT in seconds, expiring once the bucket is
whole again; a slot set is a sorted set of request ids scored by expiry."""

from __future__ import annotations

from collections.abc import Sequence

from aisonar.errors import require_positive
from aisonar.limits.store import CheckState, Decision, RateCheck, SlotCheck
from aisonar.store.redis_client import close, connect
from aisonar.store.redis_clock import CLOCK

# Functions over a segment of a script's KEYS (from k + 1) and ARGV (from a + 1), so that a
# script can admit and hold in one call (aisonar.gateway.redis_counters).
# Admission: KEYS rate buckets, then slot sets; ARGV #rates, #slots, then per rate limit,
# window, cost, then per slot limit, ttl.
# Finish: KEYS slot sets, then rate buckets; ARGV #slots, #buckets, delta, then per bucket
# limit, window.
FUNCTIONS = """
local function admit_check(k, a)
  local n_rates, n_slots = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local refused, retry = 0, 0
  local tats, counts = {}, {}
  local p = a + 3
  for i = 1, n_rates do
    local limit, window, cost = tonumber(ARGV[p]), tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
    p = p + 3
    local base = math.max(tonumber(redis.call('GET', KEYS[k + i]) or '0'), now)
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
    local key, limit = KEYS[k + n_rates + j], tonumber(ARGV[p])
    p = p + 2
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    counts[j] = redis.call('ZCARD', key)
    if counts[j] >= limit and refused == 0 then refused, retry = n_rates + j, 1 end
  end
  return refused, retry, tats, counts
end

local function admit_apply(k, a, tats, id)
  local n_rates, n_slots = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  for i = 1, n_rates do
    local ttl_ms = math.ceil((tats[i] - now) * 1000) + 1000
    redis.call('SET', KEYS[k + i], tostring(tats[i]), 'PX', ttl_ms)
  end
  local p = a + 3 + 3 * n_rates
  for j = 1, n_slots do
    local ttl = tonumber(ARGV[p + 1])
    p = p + 2
    redis.call('ZADD', KEYS[k + n_rates + j], now + ttl, id)
    redis.call('PEXPIRE', KEYS[k + n_rates + j], math.ceil(ttl * 1000) + 1000)
  end
end

-- {refused (0: none, else the 1-based check), retry after ms, then per rate {remaining,
-- reset ms}, then per slot its count}.
local function admit_reply(a, refused, retry, tats, counts)
  local n_rates, n_slots = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local out = {refused, math.ceil(retry * 1000)}
  local p = a + 3
  for i = 1, n_rates do
    local limit, window = tonumber(ARGV[p]), tonumber(ARGV[p + 1])
    p = p + 3
    -- In whole microseconds, TIME's resolution: `now` near 1.8e9 s carries float errors
    -- of a few 1e-7 s, which would otherwise tip a whole remaining token to one fewer.
    local ahead = math.max(math.floor((tats[i] - now) * 1000000 + 0.5) / 1000000, 0)
    out[#out + 1] = math.max(math.floor((window - ahead) * limit / window + 1e-9), 0)
    out[#out + 1] = math.ceil(ahead * 1000)
  end
  for j = 1, n_slots do out[#out + 1] = counts[j] end
  return out
end

local function finish(k, a, id)
  local n_slots, n_buckets = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local delta = tonumber(ARGV[a + 3])
  for j = 1, n_slots do redis.call('ZREM', KEYS[k + j], id) end
  if delta == 0 then return end
  local p = a + 4
  for i = 1, n_buckets do
    local key = KEYS[k + n_slots + i]
    local limit, window = tonumber(ARGV[p]), tonumber(ARGV[p + 1])
    p = p + 2
    local base = math.max(tonumber(redis.call('GET', key) or '0'), now)
    local tat = math.max(base + delta * window / limit, now)
    redis.call('SET', key, tostring(tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
  end
end
"""

# ARGV: request id, then the admission's.
_ADMIT = (
    CLOCK
    + FUNCTIONS
    + """
local refused, retry, tats, counts = admit_check(0, 1)
if refused == 0 then admit_apply(0, 1, tats, ARGV[1]) end
return admit_reply(1, refused, retry, tats, counts)
"""
)

# ARGV: request id, then the finish's.
_FINISH = (
    CLOCK
    + FUNCTIONS
    + """
finish(0, 1, ARGV[1])
return 0
"""
)


def admit_arguments(
    rates: Sequence[RateCheck], slots: Sequence[SlotCheck]
) -> list[str | int | float]:
    """The admission's segment of a script's ARGV."""
    for check in rates:
        if check.cost < 1:
            require_positive(check.cost, f"The cost of {check.name}")
    args: list[str | int | float] = [len(rates), len(slots)]
    for check in rates:
        args += [check.limit, check.window_s, check.cost]
    for slot in slots:
        args += [slot.limit, slot.ttl_s]
    return args


def decision_of(
    reply: Sequence[int], rates: Sequence[RateCheck], slots: Sequence[SlotCheck]
) -> Decision:
    """The decision `admit_reply` returned."""
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
        allowed, None if allowed else checks[refused - 1], retry_ms / 1000, tuple(states)
    )


def finish_arguments(
    slots: Sequence[SlotCheck], tokens: Sequence[RateCheck], delta: int
) -> list[str | int | float]:
    """The finish's segment of a script's ARGV."""
    args: list[str | int | float] = [len(slots), len(tokens), delta]
    for check in tokens:
        args += [check.limit, check.window_s]
    return args


class RedisLimitStore:
    def __init__(self, url: str, *, prefix: str = "aisonar:limit:") -> None:
        self._redis = connect(url)
        self._prefix = prefix
        self._admit = self._redis.register_script(_ADMIT)
        self._finish = self._redis.register_script(_FINISH)

    async def admit(
        self, request_id: str, rates: Sequence[RateCheck], slots: Sequence[SlotCheck]
    ) -> Decision:
        keys = self.rate_keys(rates) + self.slot_keys(slots)
        args = [request_id, *admit_arguments(rates, slots)]
        reply = [int(value) for value in await self._admit(keys=keys, args=args)]
        return decision_of(reply, rates, slots)

    def rate_keys(self, rates: Sequence[RateCheck]) -> list[str]:
        return [self._prefix + check.key for check in rates]

    def slot_keys(self, slots: Sequence[SlotCheck]) -> list[str]:
        return [self._prefix + slot.key for slot in slots]

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
        keys = self.slot_keys(slots) + self.rate_keys(tokens)
        await self._finish(keys=keys, args=[request_id, *finish_arguments(slots, tokens, delta)])

    async def close(self) -> None:
        await close(self._redis)
