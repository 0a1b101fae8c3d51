"""A client's run budget on the hot path: `x-aisonar-run-id` and `x-aisonar-run-budget`
(credits, as the API shows amounts) name a run of the client's application and its
budget (`limits.run_budget`); each request of the run holds on it beside the balance, in
the same call of the request's counters (`gateway.ticket`).

Both headers come together, or neither: one alone, a run id out of the attribution
headers' bounds or a budget that is no positive amount is a 400 before anything is
admitted or held. A run spent is refused with 402 (an SDK does not retry it: waiting
changes nothing), a later request naming another budget for a started run with 400. The
run id is recorded as the request's session (`x-aisonar-session-id`), unless the request
names a session of its own. The headers are the gateway's: they are never sent
upstream."""

from __future__ import annotations

import re
from dataclasses import replace

from aisonar.billing.money import UNITS_PER_CREDIT, format_amount, parse_amount
from aisonar.errors import InvalidInput
from aisonar.gateway.admission import LimitRefusal
from aisonar.gateway.attribution import MAX_ID, Attribution, header_text
from aisonar.gateway.errors import InvalidRequest
from aisonar.limits.run_budget import RunCheck

RUN_ID_HEADER = b"x-aisonar-run-id"
RUN_BUDGET_HEADER = b"x-aisonar-run-budget"
# Whole credits up to 12 digits (parse_amount's bound), at most six decimals.
_PLAIN_AMOUNT = re.compile(rb"([0-9]{1,12})(?:\.([0-9]{1,6}))?")


def run_of(headers: dict[bytes, bytes], org_id: str) -> RunCheck | None:
    """The run the request belongs to, if it names one; InvalidRequest for bad headers."""
    run = headers.get(RUN_ID_HEADER)
    budget = headers.get(RUN_BUDGET_HEADER)
    if run is None and budget is None:
        return None
    if run is None or budget is None:
        raise InvalidRequest(
            "The x-aisonar-run-id and x-aisonar-run-budget headers come together: "
            "a run is named with its budget.",
            param=(RUN_ID_HEADER if run is None else RUN_BUDGET_HEADER).decode(),
        )
    return RunCheck(org_id, header_text(RUN_ID_HEADER, run, MAX_ID), _units(budget))


def _units(budget: bytes) -> int:
    """The budget in micro-units: a plain decimal such as `2.50` (what clients send) is
    read without a Decimal; anything else as every amount is, or refused."""
    plain = _PLAIN_AMOUNT.fullmatch(budget)
    if plain is not None:
        whole, fraction = plain.groups()
        units = int(whole) * UNITS_PER_CREDIT + int((fraction or b"").ljust(6, b"0"))
        if units > 0:
            return units
    text = header_text(RUN_BUDGET_HEADER, budget, MAX_ID)
    try:
        return parse_amount(text, param=RUN_BUDGET_HEADER.decode())
    except InvalidInput as bad:
        raise InvalidRequest(
            f"The x-aisonar-run-budget header must be an amount of credits above zero, such "
            f"as 2.50: {bad.message}.",
            param=bad.param,
        ) from None


def with_run(attribution: Attribution, run: RunCheck | None) -> Attribution:
    """A run is a session with a budget: its id is the session's, unless the request names
    a session of its own."""
    if run is None or attribution.session_id is not None:
        return attribution
    return replace(attribution, session_id=run.run_id)


class RunBudgetSpent(LimitRefusal):
    """The run's budget cannot cover what the request may cost."""

    status = 402
    kind = "insufficient_quota"
    code = "run_budget_exceeded"

    def __init__(self, run: RunCheck, committed: int, amount: int) -> None:
        left = max(run.budget - committed, 0)
        if left == 0:
            message = (
                f"The budget of run {run.run_id!r} is spent: {format_amount(run.budget)} "
                "spent or held. Start a new run to go on."
            )
        else:
            message = (
                f"This request may cost up to {format_amount(amount)} but run {run.run_id!r} "
                f"has {format_amount(left)} left of its budget of {format_amount(run.budget)}. "
                "Lower max_tokens, or start a new run."
            )
        super().__init__(message)
        self.decision = "refused: run budget"


class RunBudgetConflict(InvalidRequest):
    """A started run is named with another budget than its first request's."""

    code = "run_budget_conflict"

    def __init__(self, run: RunCheck, started: int) -> None:
        super().__init__(
            f"Run {run.run_id!r} was started with a budget of {format_amount(started)}, "
            f"not {format_amount(run.budget)}: a run's budget is set by its first request. "
            "Send the same budget, or start a new run.",
            param=RUN_BUDGET_HEADER.decode(),
        )
