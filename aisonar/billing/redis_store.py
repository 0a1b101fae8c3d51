"""The Redis balance store: every gateway process shares one balance and one set of
holds per organization, each decision one atomic Lua script.

Keys: `aisonar:bal:{org}` is a hash {balance, held, through}; `aisonar:credited:{org}`
the ids of credits already applied, so each is applied once whichever process sees it
first. An organization's hash is loaded from the database on first use."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from aisonar.billing.store import Hold, InsufficientBalance, LiveBalance, Loader

_PREFIX = "aisonar:bal:"
_CREDITED = "aisonar:credited:"
_CREDITED_TTL_S = 7 * 24 * 3600
_MAX_CONNECTIONS = 64

# KEYS[1] account; ARGV[1] amount. Returns {1, 0} held, {0, available} short, {-1} unknown.
_HOLD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local balance = tonumber(redis.call('HGET', KEYS[1], 'balance'))
local held = tonumber(redis.call('HGET', KEYS[1], 'held'))
local amount = tonumber(ARGV[1])
if balance - held < amount then return {0, balance - held} end
redis.call('HINCRBY', KEYS[1], 'held', amount)
return {1, 0}
"""

# KEYS[1] account; ARGV[1] change of held, ARGV[2] change of balance. (Negated in Python:
# Lua would turn -0 into "-0", which HINCRBY refuses.)
_SETTLE = """
redis.call('HINCRBY', KEYS[1], 'held', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'balance', ARGV[2])
return 1
"""

# KEYS[1] account; ARGV[1] balance, ARGV[2] through entry. Only if absent.
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'balance', ARGV[1], 'held', 0, 'through', ARGV[2])
return 1
"""

# KEYS[1] account, KEYS[2] credited set; ARGV[1] entry id, ARGV[2] amount, ARGV[3] ttl.
_CREDIT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(ARGV[1]) <= tonumber(redis.call('HGET', KEYS[1], 'through')) then return 0 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
redis.call('HINCRBY', KEYS[1], 'balance', tonumber(ARGV[2]))
return 1
"""


class RedisBalanceStore:
    def __init__(self, url: str, load: Loader) -> None:
        # Requests wait for a free connection rather than fail when many are in flight.
        pool = BlockingConnectionPool.from_url(url, max_connections=_MAX_CONNECTIONS, timeout=5)
        self._redis = Redis(connection_pool=pool)
        self._load = load
        self._hold = self._redis.register_script(_HOLD)
        self._settle = self._redis.register_script(_SETTLE)
        self._load_script = self._redis.register_script(_LOAD)
        self._credit = self._redis.register_script(_CREDIT)

    async def hold(self, org_id: str, amount: int) -> Hold:
        key = _PREFIX + org_id
        for _ in range(2):
            result = await self._hold(keys=[key], args=[amount])
            if result[0] == 1:
                return Hold(org_id, amount)
            if result[0] == 0:
                raise InsufficientBalance(amount, int(result[1]))
            durable = await self._load(org_id)
            await self._load_script(keys=[key], args=[durable.balance, durable.through_entry])
        raise RuntimeError(f"balance of {org_id} could not be loaded into Redis")

    async def settle(self, hold: Hold, cost: int) -> None:
        await self._settle(keys=[_PREFIX + hold.org_id], args=[-hold.amount, -cost])

    async def release(self, hold: Hold) -> None:
        await self._settle(keys=[_PREFIX + hold.org_id], args=[-hold.amount, 0])

    async def credit(self, org_id: str, entry_id: int, amount: int) -> None:
        await self._credit(
            keys=[_PREFIX + org_id, _CREDITED + org_id], args=[entry_id, amount, _CREDITED_TTL_S]
        )

    async def live(self, org_id: str) -> LiveBalance | None:
        balance, held = await self._redis.hmget(_PREFIX + org_id, ["balance", "held"])
        if balance is None or held is None:
            return None
        return LiveBalance(int(balance), int(held))

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)
