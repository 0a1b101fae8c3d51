"""A request's counters on Redis: whatever `Counters.run` is asked (settle, admit, hold,
finish) is one script, so one round trip, made of the stores' own Lua functions.

The script's KEYS and ARGV are the sections asked, in order, each as its store lays it
out; ARGV starts with the request id and which sections follow. It answers {status,
refusal, admission}: status 0 done, 1 refused by a rate limit, 2 by a spend quota ({i,
committed}), 6 by the run's budget ({committed, budget}), 3 by the balance ({available});
4 a spend counter or 5 the balance is not in Redis ({i}), before anything but the settle
was applied, so it is loaded from the database and the rest is asked again. A run is never
loaded: a run Redis lacks starts afresh."""

from __future__ import annotations

from aisonar.billing import redis_store as balance_lua
from aisonar.billing.redis_store import RedisBalanceStore, account_keys
from aisonar.errors import require_positive
from aisonar.gateway.counters import DONE, Admit, Finish, HoldOn, Outcome, Refusal, Settle
from aisonar.limits import redis_run as run_lua
from aisonar.limits import redis_spend as spend_lua
from aisonar.limits import redis_store as limits_lua
from aisonar.limits.redis_run import run_keys
from aisonar.limits.redis_spend import RedisSpendStore, counter_keys
from aisonar.limits.redis_store import RedisLimitStore, decision_of
from aisonar.store.redis_client import close, connect
from aisonar.store.redis_clock import CLOCK

_RUN = (
    CLOCK
    + limits_lua.FUNCTIONS
    + spend_lua.FUNCTIONS
    + run_lua.FUNCTIONS
    + balance_lua.FUNCTIONS
    + """
local id, asked = ARGV[1], ARGV[2]
local function has(i) return string.sub(asked, i, i) == '1' end
local k, a = 0, 2
if has(1) then
  spend_settle(k, a, id)
  k, a = k + 3 * tonumber(ARGV[a + 1]), a + 2
end
if has(2) then
  balance_settle(k, a, id)
  k, a = k + 3, a + 1
end
if has(3) then
  run_settle(k, a, id)
  k, a = k + 2, a + 2
end
local admit_k, admit_a, refused, retry, tats, counts
if has(4) then
  admit_k, admit_a = k, a
  refused, retry, tats, counts = admit_check(k, a)
  local n_rates, n_slots = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  k, a = k + n_rates + n_slots, a + 2 + 3 * n_rates + 2 * n_slots
  if refused ~= 0 then
    return {1, {}, admit_reply(admit_a, refused, retry, tats, counts)}
  end
end
local spend_k, spend_a, run_k, run_a, balance_k, balance_a
local spend_refused, run_refused, balance_refused
if has(5) then
  spend_k, spend_a = k, a
  local n = tonumber(ARGV[a + 1])
  k, a = k + 3 * n, a + 3 + 2 * n
  spend_refused = spend_check(spend_k, spend_a)
  if spend_refused and spend_refused[1] == -1 then return {4, {spend_refused[2]}, {}} end
end
if has(6) then
  run_k, run_a = k, a
  k, a = k + 2, a + 4
  if not spend_refused then run_refused = run_check(run_k, run_a) end
end
if has(7) then
  balance_k, balance_a = k, a
  k, a = k + 3, a + 2
  balance_refused = balance_check(balance_k, balance_a)
  if balance_refused and balance_refused[1] == -1 then return {5, {}, {}} end
end
local admission = {}
if has(4) then
  admit_apply(admit_k, admit_a, tats, id)
  admission = admit_reply(admit_a, refused, retry, tats, counts)
end
if spend_refused then return {2, {spend_refused[2], spend_refused[3]}, admission} end
if run_refused then return {6, run_refused, admission} end
if balance_refused then return {3, {balance_refused[2]}, admission} end
if has(5) then spend_apply(spend_k, spend_a, id) end
if has(6) then run_apply(run_k, run_a, id) end
if has(7) then balance_apply(balance_k, balance_a, id) end
if has(8) then finish(k, a, id) end
return {0, {}, admission}
"""
)

_ARGUMENT = str | int | float


class RedisCounters:
    def __init__(
        self,
        url: str,
        limits: RedisLimitStore,
        spend: RedisSpendStore,
        balance: RedisBalanceStore,
    ) -> None:
        self._redis = connect(url)
        self._run = self._redis.register_script(_RUN)
        self._limits = limits
        self._spend = spend
        self._balance = balance

    async def run(
        self,
        request_id: str,
        *,
        settle: Settle | None = None,
        admit: Admit | None = None,
        hold: HoldOn | None = None,
        finish: Finish | None = None,
    ) -> Outcome:
        if finish is not None and not finish.delta:
            finish = Finish(finish.slots, (), 0)
        if finish is not None and not (finish.slots or finish.tokens):
            finish = None
        # A section the stores' own calls would not make is not asked either.
        if hold is not None and not (hold.spend or hold.run or hold.org_id is not None):
            hold = None
        if settle is None and admit is None and hold is None and finish is None:
            return DONE
        # Each pass loads at most one missing counter or balance; one more pass decides.
        for _ in range(len(hold.spend) + 2 if hold is not None else 1):
            status, refusal, admission = await self._once(request_id, settle, admit, hold, finish)
            if hold is None or status not in (4, 5):
                break
            if status == 4:
                await self._spend.load(hold.spend[refusal[0] - 1])
            elif hold.org_id is not None:
                await self._balance.load(hold.org_id)
            # The settle was applied: it is not asked twice.
            settle = None
        else:
            raise RuntimeError("spend counters or a balance could not be loaded into Redis")
        decision = None
        if admit is not None:
            decision = decision_of(admission, admit.rates, admit.slots)
        if status == 0:
            return DONE if decision is None else Outcome(decision)
        if status == 1:
            return Outcome(decision, Refusal.RATE)
        if status == 2:
            assert hold is not None
            refused_by = hold.spend[refusal[0] - 1]
            return Outcome(decision, Refusal.SPEND, refused_by, committed=refusal[1])
        if status == 6:
            return Outcome(decision, Refusal.RUN, committed=refusal[0], run_budget=refusal[1])
        return Outcome(decision, Refusal.BALANCE, available=refusal[0])

    async def _once(
        self,
        request_id: str,
        settle: Settle | None,
        admit: Admit | None,
        hold: HoldOn | None,
        finish: Finish | None,
    ) -> tuple[int, list[int], list[int]]:
        keys: list[str] = []
        args: list[_ARGUMENT] = []
        asked = ["0"] * 8
        if settle is not None and settle.spend:
            asked[0] = "1"
            keys += counter_keys(settle.spend)
            args += spend_lua.settle_arguments(settle.spend, settle.cost or 0)
        if settle is not None and settle.balance is not None:
            asked[1] = "1"
            keys += account_keys(settle.balance.org_id)
            # Lua would turn -0 into "-0", which HINCRBY refuses.
            args += [0] if settle.cost is None else balance_lua.settle_arguments(settle.cost)
        if settle is not None and settle.run is not None:
            asked[2] = "1"
            keys += run_keys(settle.run)
            args += run_lua.settle_arguments(settle.cost or 0)
        if admit is not None:
            asked[3] = "1"
            keys += self._limits.rate_keys(admit.rates) + self._limits.slot_keys(admit.slots)
            args += limits_lua.admit_arguments(admit.rates, admit.slots)
        if hold is not None and hold.spend:
            asked[4] = "1"
            keys += counter_keys(hold.spend)
            args += spend_lua.hold_arguments(hold.spend, hold.amount, self._spend.hold_ttl_ms)
        if hold is not None and hold.run is not None:
            asked[5] = "1"
            keys += run_keys(hold.run)
            args += run_lua.hold_arguments(hold.run, hold.amount, self._balance.hold_ttl_ms)
        if hold is not None and hold.org_id is not None:
            asked[6] = "1"
            require_positive(hold.amount, "A hold")
            keys += account_keys(hold.org_id)
            args += [hold.amount, self._balance.hold_ttl_ms]
        if finish is not None:
            asked[7] = "1"
            keys += self._limits.slot_keys(finish.slots) + self._limits.rate_keys(finish.tokens)
            args += limits_lua.finish_arguments(finish.slots, finish.tokens, finish.delta)
        status, refusal, admission = await self._run(
            keys=keys, args=[request_id, "".join(asked), *args]
        )
        return int(status), [int(v) for v in refusal], [int(v) for v in admission]

    async def close(self) -> None:
        await close(self._redis)
