"""The Redis spend store: every gateway process shares the same counters, each hold one
Lua script over every counter of the request.

Keys per counter: `aisonar:spend:{<org>}:<counter>` a hash {spent, held} (in its
organization's hash slot on a cluster: `spend_check`); `...:holds` a sorted set of hold
ids by expiry and `...:amounts` their amounts, so the hold of a process that
died (kill -9) is reaped once it expires instead of eating the quota until the period
ends. All three expire a day after their period. Increments are passed as strings: Lua
would print a large number as 1e+15, which HINCRBY refuses."""

from __future__ import annotations

from collections.abc import Sequence

from aisonar.errors import require_not_negative, require_positive
from aisonar.limits.spend import SpendCheck, SpendDecision, SpendLoader
from aisonar.store.redis_client import close, connect
from aisonar.store.redis_clock import CLOCK

_KEPT_AFTER_PERIOD_S = 24 * 3600

# Functions over a segment of a script's KEYS (from k + 1: per counter its hash, holds and
# amounts) and ARGV (from a + 1), so that a script can admit and hold in one call
# (aisonar.gateway.redis_counters); they read `now_ms`, Redis's clock.
# Hold: ARGV #counters, amount, hold ttl ms, then per counter its cap and expiry (epoch
# seconds). Returns nil when it may be held, {-1, i} when counter i is not loaded, {0, i,
# committed} when counter i would go over its cap.
# Settle: ARGV #counters, cost. A counter that is gone (Redis restarted, keeps nothing) is
# left alone: it reloads from the database.
FUNCTIONS = """
local function spend_check(k, a)
  local n, amount = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  for i = 1, n do
    if redis.call('EXISTS', KEYS[k + 3 * i - 2]) == 0 then return {-1, i} end
  end
  for i = 1, n do
    local account, holds, amounts = KEYS[k + 3 * i - 2], KEYS[k + 3 * i - 1], KEYS[k + 3 * i]
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', holds, '-inf', now_ms)) do
      local held = redis.call('HGET', amounts, id)
      if held then
        redis.call('HINCRBY', account, 'held', '-' .. held)
        redis.call('HDEL', amounts, id)
      end
      redis.call('ZREM', holds, id)
    end
    local committed = tonumber(redis.call('HGET', account, 'spent'))
      + tonumber(redis.call('HGET', account, 'held'))
    if committed + amount > tonumber(ARGV[a + 2 + 2 * i]) then return {0, i, committed} end
  end
  return nil
end

local function spend_apply(k, a, id)
  local n, amount, ttl = tonumber(ARGV[a + 1]), ARGV[a + 2], tonumber(ARGV[a + 3])
  for i = 1, n do
    local account, holds, amounts = KEYS[k + 3 * i - 2], KEYS[k + 3 * i - 1], KEYS[k + 3 * i]
    redis.call('HINCRBY', account, 'held', amount)
    redis.call('ZADD', holds, now_ms + ttl, id)
    redis.call('HSET', amounts, id, amount)
    redis.call('EXPIREAT', holds, ARGV[a + 3 + 2 * i])
    redis.call('EXPIREAT', amounts, ARGV[a + 3 + 2 * i])
  end
end

local function spend_settle(k, a, id)
  local n, cost = tonumber(ARGV[a + 1]), ARGV[a + 2]
  for i = 1, n do
    local account, holds, amounts = KEYS[k + 3 * i - 2], KEYS[k + 3 * i - 1], KEYS[k + 3 * i]
    if redis.call('EXISTS', account) == 1 then
      local held = redis.call('HGET', amounts, id)
      if held then
        redis.call('HINCRBY', account, 'held', '-' .. held)
        redis.call('HDEL', amounts, id)
        redis.call('ZREM', holds, id)
      end
      if cost ~= '0' then redis.call('HINCRBY', account, 'spent', cost) end
    end
  end
end
"""

# ARGV: hold id, then the hold's. Returns {1} held, else spend_check's refusal.
_HOLD = (
    CLOCK
    + FUNCTIONS
    + """
local refused = spend_check(0, 1)
if refused then return refused end
spend_apply(0, 1, ARGV[1])
return {1}
"""
)

# ARGV: hold id, then the settle's.
_SETTLE = (
    FUNCTIONS
    + """
spend_settle(0, 1, ARGV[1])
return 0
"""
)

# KEYS: a counter's hash, holds and amounts. ARGV: spent, expiry (epoch seconds). Only
# if absent; holds left from the lost counter go too, or reaping them would subtract
# them from the new one.
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'spent', ARGV[1], 'held', '0')
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return 1
"""


def _keys(check: SpendCheck) -> list[str]:
    account = f"aisonar:{check.key}"
    return [account, account + ":holds", account + ":amounts"]


def _expiry(check: SpendCheck) -> int:
    return int(check.period.end.timestamp()) + _KEPT_AFTER_PERIOD_S


def counter_keys(checks: Sequence[SpendCheck]) -> list[str]:
    return [key for check in checks for key in _keys(check)]


def hold_arguments(checks: Sequence[SpendCheck], amount: int, ttl_ms: int) -> list[str | int]:
    """The hold's segment of a script's ARGV."""
    require_positive(amount, "A spend hold")
    args: list[str | int] = [len(checks), str(amount), ttl_ms]
    for check in checks:
        args += [str(check.cap), _expiry(check)]
    return args


def settle_arguments(checks: Sequence[SpendCheck], cost: int) -> list[str | int]:
    """The settle's segment of a script's ARGV."""
    require_not_negative(cost, "A cost")
    return [len(checks), str(cost)]


class RedisSpendStore:
    def __init__(self, url: str, load: SpendLoader, *, hold_ttl_s: float) -> None:
        self._redis = connect(url)
        self._load = load
        self.hold_ttl_ms = int(hold_ttl_s * 1000)
        self._hold = self._redis.register_script(_HOLD)
        self._settle = self._redis.register_script(_SETTLE)
        self._load_script = self._redis.register_script(_LOAD)

    async def hold(self, hold_id: str, checks: Sequence[SpendCheck], amount: int) -> SpendDecision:
        keys = counter_keys(checks)
        args = [hold_id, *hold_arguments(checks, amount, self.hold_ttl_ms)]
        # Each pass loads at most one missing counter; one more pass decides.
        for _ in range(len(checks) + 1):
            reply = [int(value) for value in await self._hold(keys=keys, args=args)]
            if reply[0] == 1:
                return SpendDecision(True)
            check = checks[reply[1] - 1]
            if reply[0] == 0:
                return SpendDecision(False, check, reply[2])
            await self.load(check)
        raise RuntimeError("spend counters could not be loaded into Redis")

    async def load(self, check: SpendCheck) -> None:
        """Put a counter the store lacks in it, from the database."""
        spent = await self._load(check.counted, check.period)
        await self._load_script(keys=_keys(check), args=[str(spent), _expiry(check)])

    async def settle(self, hold_id: str, checks: Sequence[SpendCheck], cost: int) -> None:
        keys = counter_keys(checks)
        await self._settle(keys=keys, args=[hold_id, *settle_arguments(checks, cost)])

    async def close(self) -> None:
        await close(self._redis)
