"""Run budgets on Redis: Lua functions the request's counters call in their one script per
step (`aisonar.gateway.redis_counters`), so a run's hold costs no round trip of its own.

Keys per run: `aisonar:run:{<org>}:<run>` a hash {budget, spent, held, and `h:<id>` the
amount of each hold}; `...:holds` a sorted set of hold ids by expiry, so the hold of a
process that died (kill -9) is reaped once it expires instead of eating the run's budget.
Both expire a day after the run's last hold or settle. Increments are passed as strings:
Lua would print a large number as 1e+15, which HINCRBY refuses."""

from __future__ import annotations

from aisonar.errors import require_not_negative, require_positive
from aisonar.limits.run_budget import RUN_TTL_S, RunCheck

_RUN_TTL_MS = RUN_TTL_S * 1000

# Functions over a segment of a script's KEYS (from k + 1: the run's hash and holds) and
# ARGV (from a + 1); they read `now_ms`, Redis's clock.
# Hold: ARGV budget, amount, hold ttl ms, run ttl ms. Returns nil when it may be held, else
# {committed, budget}: the run was started with another budget, or would go over it.
# Settle: ARGV cost, run ttl ms. A run that is gone (expired, or Redis keeps nothing) is
# left alone.
FUNCTIONS = """
local function run_check(k, a)
  local run, holds = KEYS[k + 1], KEYS[k + 2]
  local budget, amount = ARGV[a + 1], tonumber(ARGV[a + 2])
  local state = redis.call('HMGET', run, 'budget', 'spent', 'held')
  if not state[1] then
    if amount > tonumber(budget) then return {0, tonumber(budget)} end
    return nil
  end
  local held = tonumber(state[3])
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', holds, '-inf', now_ms)) do
    local expired = redis.call('HGET', run, 'h:' .. id)
    if expired then
      held = held - tonumber(expired)
      redis.call('HINCRBY', run, 'held', '-' .. expired)
      redis.call('HDEL', run, 'h:' .. id)
    end
    redis.call('ZREM', holds, id)
  end
  local committed = tonumber(state[2]) + held
  if state[1] ~= budget or committed + amount > tonumber(budget) then
    return {committed, tonumber(state[1])}
  end
  return nil
end

local function run_apply(k, a, id)
  local run, holds, amount, ttl = KEYS[k + 1], KEYS[k + 2], ARGV[a + 2], tonumber(ARGV[a + 4])
  if redis.call('HSETNX', run, 'budget', ARGV[a + 1]) == 1 then
    redis.call('HSET', run, 'spent', '0', 'held', amount, 'h:' .. id, amount)
  else
    redis.call('HINCRBY', run, 'held', amount)
    redis.call('HSET', run, 'h:' .. id, amount)
  end
  redis.call('ZADD', holds, now_ms + tonumber(ARGV[a + 3]), id)
  redis.call('PEXPIRE', run, ttl)
  redis.call('PEXPIRE', holds, ttl)
end

local function run_settle(k, a, id)
  local run, holds = KEYS[k + 1], KEYS[k + 2]
  local state = redis.call('HMGET', run, 'budget', 'h:' .. id)
  if not state[1] then return end
  if state[2] then
    redis.call('HINCRBY', run, 'held', '-' .. state[2])
    redis.call('HDEL', run, 'h:' .. id)
    redis.call('ZREM', holds, id)
  end
  if ARGV[a + 1] ~= '0' then redis.call('HINCRBY', run, 'spent', ARGV[a + 1]) end
  local ttl = tonumber(ARGV[a + 2])
  redis.call('PEXPIRE', run, ttl)
  redis.call('PEXPIRE', holds, ttl)
end
"""


def run_keys(check: RunCheck) -> list[str]:
    run = f"aisonar:{check.key}"
    return [run, run + ":holds"]


def hold_arguments(check: RunCheck, amount: int, hold_ttl_ms: int) -> list[str | int]:
    """The hold's segment of a script's ARGV."""
    require_positive(amount, "A run hold")
    return [str(check.budget), str(amount), hold_ttl_ms, _RUN_TTL_MS]


def settle_arguments(cost: int) -> list[str | int]:
    """The settle's segment of a script's ARGV."""
    require_not_negative(cost, "A cost")
    return [str(cost), _RUN_TTL_MS]
