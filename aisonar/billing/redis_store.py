"""The Redis balance store: every gateway process shares one balance and one set of
holds per organization, each decision one atomic Lua script.

Keys per organization, all in its hash slot on a cluster (`{<org>}`): `aisonar:bal:{<org>}`
a hash {balance, held, through}; `aisonar:holds:{<org>}` a sorted set of hold ids by
expiry and `aisonar:hold:{<org>}` their amounts, so a hold whose process died (kill -9) is
reaped once it expires instead of shrinking the balance forever;
`aisonar:credited:{<org>}` the ids of credits already applied, so each is applied once
whichever process sees it first. An organization's hash is loaded from the database on
first use."""

from __future__ import annotations

from aisonar.billing.store import Hold, InsufficientBalance, LiveBalance, Loader
from aisonar.errors import require_not_negative, require_positive
from aisonar.store.redis_client import close, connect, org_scope
from aisonar.store.redis_clock import CLOCK

_CREDITED_TTL_S = 7 * 24 * 3600

# Functions over a segment of a script's KEYS (from k + 1: the account, its holds and
# their amounts) and ARGV (from a + 1), so that a script can admit and hold in one call
# (aisonar.gateway.redis_counters); they read `now_ms`, Redis's clock.
# Hold: ARGV amount, hold ttl ms. Returns nil when it may be held, {-1, 0} when the
# account is not loaded, {0, available} when it is short.
# Settle: ARGV change of balance (already negated: Lua would turn -0 into "-0", which
# HINCRBY refuses). A hold reaped meanwhile is not subtracted twice. If the account is
# gone (Redis restarted, keeps nothing), nothing is written: a half-made hash would
# corrupt it; the next hold reloads it from the database.
FUNCTIONS = """
local function balance_check(k, a)
  local account, holds, amounts = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  if redis.call('EXISTS', account) == 0 then return {-1, 0} end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', holds, '-inf', now_ms)) do
    local amount = redis.call('HGET', amounts, id)
    if amount then
      redis.call('HINCRBY', account, 'held', 0 - tonumber(amount))
      redis.call('HDEL', amounts, id)
    end
    redis.call('ZREM', holds, id)
  end
  local balance = tonumber(redis.call('HGET', account, 'balance'))
  local held = tonumber(redis.call('HGET', account, 'held'))
  if balance - held < tonumber(ARGV[a + 1]) then return {0, balance - held} end
  return nil
end

local function balance_apply(k, a, id)
  redis.call('HINCRBY', KEYS[k + 1], 'held', ARGV[a + 1])
  redis.call('ZADD', KEYS[k + 2], now_ms + tonumber(ARGV[a + 2]), id)
  redis.call('HSET', KEYS[k + 3], id, ARGV[a + 1])
end

local function balance_settle(k, a, id)
  if redis.call('HEXISTS', KEYS[k + 1], 'through') == 0 then return end
  local amount = redis.call('HGET', KEYS[k + 3], id)
  if amount then
    redis.call('HINCRBY', KEYS[k + 1], 'held', 0 - tonumber(amount))
    redis.call('HDEL', KEYS[k + 3], id)
    redis.call('ZREM', KEYS[k + 2], id)
  end
  redis.call('HINCRBY', KEYS[k + 1], 'balance', ARGV[a + 1])
end
"""

# ARGV hold id, then the hold's. Returns {1, 0} held, else balance_check's refusal.
_HOLD = (
    CLOCK
    + FUNCTIONS
    + """
local refused = balance_check(0, 1)
if refused then return refused end
balance_apply(0, 1, ARGV[1])
return {1, 0}
"""
)

# ARGV hold id, then the settle's.
_SETTLE = (
    FUNCTIONS
    + """
balance_settle(0, 1, ARGV[1])
return 0
"""
)

# KEYS account; ARGV balance, through entry. Only if absent.
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'balance', ARGV[1], 'held', 0, 'through', ARGV[2])
return 1
"""

# KEYS account, credited set; ARGV entry id, amount, ttl.
_CREDIT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(ARGV[1]) <= tonumber(redis.call('HGET', KEYS[1], 'through')) then return 0 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
redis.call('HINCRBY', KEYS[1], 'balance', ARGV[2])
return 1
"""


def account_keys(org_id: str) -> list[str]:
    tag = org_scope(org_id)
    return [f"aisonar:bal:{tag}", f"aisonar:holds:{tag}", f"aisonar:hold:{tag}"]


def settle_arguments(cost: int) -> list[int]:
    """The settle's segment of a script's ARGV: the change of balance."""
    require_not_negative(cost, "A cost")
    return [-cost]


class RedisBalanceStore:
    def __init__(self, url: str, load: Loader, *, hold_ttl_s: float) -> None:
        self._redis = connect(url)
        self._load = load
        self.hold_ttl_ms = int(hold_ttl_s * 1000)
        self._hold = self._redis.register_script(_HOLD)
        self._settle = self._redis.register_script(_SETTLE)
        self._load_script = self._redis.register_script(_LOAD)
        self._credit = self._redis.register_script(_CREDIT)

    async def hold(self, org_id: str, amount: int, hold_id: str) -> Hold:
        require_positive(amount, "A hold")
        keys = account_keys(org_id)
        for _ in range(2):
            result = await self._hold(keys=keys, args=[hold_id, amount, self.hold_ttl_ms])
            if result[0] == 1:
                return Hold(org_id, amount, hold_id)
            if result[0] == 0:
                raise InsufficientBalance(amount, int(result[1]))
            await self.load(org_id)
        raise RuntimeError(f"balance of {org_id} could not be loaded into Redis")

    async def load(self, org_id: str) -> None:
        """Put an organization the store lacks in it, from the database."""
        durable = await self._load(org_id)
        await self._load_script(
            keys=account_keys(org_id)[:1], args=[durable.balance, durable.through_entry]
        )

    async def settle(self, hold: Hold, cost: int) -> None:
        await self._settle(keys=account_keys(hold.org_id), args=[hold.id, *settle_arguments(cost)])

    async def release(self, hold: Hold) -> None:
        await self._settle(keys=account_keys(hold.org_id), args=[hold.id, 0])

    async def credit(self, org_id: str, entry_id: int, amount: int) -> None:
        await self._credit(
            keys=[account_keys(org_id)[0], f"aisonar:credited:{org_scope(org_id)}"],
            args=[entry_id, amount, _CREDITED_TTL_S],
        )

    async def live(self, org_id: str) -> LiveBalance | None:
        balance, held = await self._redis.hmget(account_keys(org_id)[0], ["balance", "held"])
        if balance is None or held is None:
            return None
        return LiveBalance(int(balance), int(held))

    async def close(self) -> None:
        await close(self._redis)
