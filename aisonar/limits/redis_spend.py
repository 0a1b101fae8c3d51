"""The Redis spend store: every gateway process shares the same counters, each hold one
Lua script over every counter of the request.

Keys per counter: `aisonar:spend:<counter>` a hash {spent, held}; `...:holds` a sorted
set of hold ids by expiry and `...:amounts` their amounts, so the hold of a process that
died (kill -9) is reaped once it expires instead of eating the quota until the period
ends. All three expire a day after their period. Increments are passed as strings: Lua
would print a large number as 1e+15, which HINCRBY refuses."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import BlockingConnectionPool, Redis

from aisonar.errors import require_not_negative, require_positive
from aisonar.limits.spend import SpendCheck, SpendDecision, SpendLoader

_MAX_CONNECTIONS = 64
_KEPT_AFTER_PERIOD_S = 24 * 3600

# KEYS: per counter its hash, holds and amounts. ARGV: hold id, amount, hold ttl ms,
# then per counter its cap and expiry (epoch seconds).
# Returns {1} held, {0, i, committed} refused by counter i, {-1, i} counter i not loaded.
_HOLD = """
local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local n = #KEYS / 3
for i = 1, n do
  if redis.call('EXISTS', KEYS[3 * i - 2]) == 0 then return {-1, i} end
end
local amount = tonumber(ARGV[2])
for i = 1, n do
  local account, holds, amounts = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
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
  if committed + amount > tonumber(ARGV[2 + 2 * i]) then return {0, i, committed} end
end
for i = 1, n do
  local account, holds, amounts = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  redis.call('HINCRBY', account, 'held', ARGV[2])
  redis.call('ZADD', holds, now_ms + tonumber(ARGV[3]), ARGV[1])
  redis.call('HSET', amounts, ARGV[1], ARGV[2])
  redis.call('EXPIREAT', holds, ARGV[3 + 2 * i])
  redis.call('EXPIREAT', amounts, ARGV[3 + 2 * i])
end
return {1}
"""

# KEYS: per counter its hash, holds and amounts. ARGV: hold id, cost. A counter that is
# gone (Redis restarted, keeps nothing) is left alone: it reloads from the database.
_SETTLE = """
for i = 1, #KEYS / 3 do
  local account, holds, amounts = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  if redis.call('EXISTS', account) == 1 then
    local held = redis.call('HGET', amounts, ARGV[1])
    if held then
      redis.call('HINCRBY', account, 'held', '-' .. held)
      redis.call('HDEL', amounts, ARGV[1])
      redis.call('ZREM', holds, ARGV[1])
    end
    if ARGV[2] ~= '0' then redis.call('HINCRBY', account, 'spent', ARGV[2]) end
  end
end
return 0
"""

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


class RedisSpendStore:
    def __init__(self, url: str, load: SpendLoader, *, hold_ttl_s: float) -> None:
        # Requests wait for a free connection rather than fail when many are in flight.
        pool = BlockingConnectionPool.from_url(url, max_connections=_MAX_CONNECTIONS, timeout=5)
        self._redis = Redis(connection_pool=pool)
        self._load = load
        self._hold_ttl_ms = int(hold_ttl_s * 1000)
        self._hold = self._redis.register_script(_HOLD)
        self._settle = self._redis.register_script(_SETTLE)
        self._load_script = self._redis.register_script(_LOAD)

    async def hold(self, hold_id: str, checks: Sequence[SpendCheck], amount: int) -> SpendDecision:
        require_positive(amount, "A spend hold")
        keys = [key for check in checks for key in _keys(check)]
        args: list[str | int] = [hold_id, str(amount), self._hold_ttl_ms]
        for check in checks:
            args += [str(check.cap), _expiry(check)]
        # Each pass loads at most one missing counter; one more pass decides.
        for _ in range(len(checks) + 1):
            reply = [int(value) for value in await self._hold(keys=keys, args=args)]
            if reply[0] == 1:
                return SpendDecision(True)
            check = checks[reply[1] - 1]
            if reply[0] == 0:
                return SpendDecision(False, check, reply[2])
            spent = await self._load(check.counted, check.period)
            await self._load_script(keys=_keys(check), args=[str(spent), _expiry(check)])
        raise RuntimeError("spend counters could not be loaded into Redis")

    async def settle(self, hold_id: str, checks: Sequence[SpendCheck], cost: int) -> None:
        require_not_negative(cost, "A cost")
        keys = [key for check in checks for key in _keys(check)]
        await self._settle(keys=keys, args=[hold_id, str(cost)])

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)
