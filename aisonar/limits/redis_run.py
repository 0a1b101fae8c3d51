"""Run budgets on Redis: Lua functions the request's counters call in their one script per
step (`aisonar.gateway.redis_counters`), so a run's hold costs no round trip of its own.

Keys per run: `aisonar:run:{<org>}:<run>` a hash {budget, spent, held}; `...:holds` a
sorted set of hold ids by expiry and `...:amounts` their amounts, so the hold of a process
that died (kill -9) is reaped once it expires instead of eating the run's budget. All
three expire a day after the run's last hold or settle. Increments are passed as strings:
Lua would print a large number as 1e+15, which HINCRBY refuses."""

from __future__ import annotations

from aisonar.errors import require_not_negative, require_positive
from aisonar.limits.run_budget import RUN_TTL_S, RunCheck

_RUN_TTL_MS = RUN_TTL_S * 1000

# Functions over a segment of a script's KEYS (from k + 1: the run's hash, holds and
# amounts) and ARGV (from a + 1); they read `now_ms`, Redis's clock.
# Hold: ARGV budget, amount, hold ttl ms, run ttl ms. Returns nil when it may be held, else
# {committed, budget}: the run was started with another budget, or would go over it.
# Settle: ARGV cost, run ttl ms. A run that is gone (expired, or Redis keeps nothing) is
# left alone.
FUNCTIONS = """
local function run_check(k, a)
  local run, holds, amounts = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local budget, amount = ARGV[a + 1], tonumber(ARGV[a + 2])
  if redis.call('EXISTS', run) == 0 then
    if amount > tonumber(budget) then return {0, tonumber(budget)} end
    return nil
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', holds, '-inf', now_ms)) do
    local held = redis.call('HGET', amounts, id)
    if held then
      redis.call('HINCRBY', run, 'held', '-' .. held)
      redis.call('HDEL', amounts, id)
    end
    redis.call('ZREM', holds, id)
  end
  local started = redis.call('HGET', run, 'budget')
  local committed = tonumber(redis.call('HGET', run, 'spent'))
    + tonumber(redis.call('HGET', run, 'held'))
  if started ~= budget or committed + amount > tonumber(budget) then
    return {committed, tonumber(started)}
  end
  return nil
end

local function run_apply(k, a, id)
  local run, holds, amounts = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local amount, ttl = ARGV[a + 2], tonumber(ARGV[a + 4])
  if redis.call('EXISTS', run) == 0 then
    redis.call('HSET', run, 'budget', ARGV[a + 1], 'spent', '0', 'held', '0')
  end
  redis.call('HINCRBY', run, 'held', amount)
  redis.call('ZADD', holds, now_ms + tonumber(ARGV[a + 3]), id)
  redis.call('HSET', amounts, id, amount)
  redis.call('PEXPIRE', run, ttl)
  redis.call('PEXPIRE', holds, ttl)
  redis.call('PEXPIRE', amounts, ttl)
end

local function run_settle(k, a, id)
  local run, holds, amounts = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  if redis.call('EXISTS', run) == 0 then return end
  local held = redis.call('HGET', amounts, id)
  if held then
    redis.call('HINCRBY', run, 'held', '-' .. held)
    redis.call('HDEL', amounts, id)
    redis.call('ZREM', holds, id)
  end
  if ARGV[a + 1] ~= '0' then redis.call('HINCRBY', run, 'spent', ARGV[a + 1]) end
  local ttl = tonumber(ARGV[a + 2])
  redis.call('PEXPIRE', run, ttl)
  redis.call('PEXPIRE', holds, ttl)
  redis.call('PEXPIRE', amounts, ttl)
end
"""


def run_keys(check: RunCheck) -> list[str]:
    run = f"aisonar:{check.key}"
    return [run, run + ":holds", run + ":amounts"]


def hold_arguments(check: RunCheck, amount: int, hold_ttl_ms: int) -> list[str | int]:
    """The hold's segment of a script's ARGV."""
    require_positive(amount, "A run hold")
    return [str(check.budget), str(amount), hold_ttl_ms, _RUN_TTL_MS]


def settle_arguments(cost: int) -> list[str | int]:
    """The settle's segment of a script's ARGV."""
    require_not_negative(cost, "A cost")
    return [str(cost), _RUN_TTL_MS]
