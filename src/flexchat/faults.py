"""Faults on demand: per account and route family, off until someone switches them on.

A :class:`FaultRule` holds what one account asked for on one family (``flex``,
``chat``, ``taskrouter``, ``studio``, or ``*`` for every family without a rule of its
own):

- ``error_rate``: the share of requests answered with Twilio's 500/20500 or 503/20503
  (``error_status``) instead of running;
- ``throttle_rate`` and ``throttle_burst``: the share of requests that start a burst of
  ``throttle_burst`` consecutive 429/20429 answers with ``Twilio-Concurrent-Requests``;
- ``latency_ms``: added before every request of the family runs;
- ``drop_delivery_rate``: the share of webhook deliveries the delivery worker drops
  (:meth:`Faults.should_drop_delivery`).

Rules live in the database (``faults`` table), so every API process on it applies the
same ones. Each process keeps all rules in memory and reloads them every
``settings.faults_refresh`` seconds (default 1) in the background, so a request never
waits for a rule lookup: with no rule for its account the cost is one dictionary lookup.
A change made through this process's control API applies here at once, elsewhere within
one refresh.

A response shaped by a fault says so: ``X-Flexchat-Fault: latency, throttle, error-rate``
(the faults that applied, in that order).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from .dates import now_iso
from .errors import InjectedInternalError, InjectedUnavailable, InvalidParameter, TooManyRequests
from .params import Converter, Param, enum, parse, whole_number
from .routing import API_FAMILIES
from .store.queries.faults import CLEAR_FAULT, CLEAR_FAULTS, LIST_ACCOUNT_FAULTS, LIST_FAULTS, PUT_FAULT
from .store.sql import Script

if TYPE_CHECKING:
    from .context import AppContext
    from .http import Request, Response
    from .metrics import Counter, Metrics
    from .routing import Endpoint
    from .store import Store

log = logging.getLogger("flexchat.faults")

ALL_FAMILIES = "*"
FAMILIES = (*API_FAMILIES, ALL_FAMILIES)
ERROR_STATUSES = ("500", "503")
MAX_LATENCY_MS = 60_000
MAX_BURST = 10_000
HEADER = "x-flexchat-fault"
# The family whose rule decides a delivery when the delivery worker names none (webhooks
# of chat channels come from the Chat service).
DELIVERY_FAMILY = "chat"


def rate(name: str, raw: str) -> float:
    """A share of requests: a decimal from 0 to 1."""
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameter(f"Invalid {name}: {raw!r} is not a number from 0 to 1") from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise InvalidParameter(f"Invalid {name}: {raw!r} is not a number from 0 to 1")
    return value


def bounded(low: int, high: int) -> Converter:
    """A whole number from ``low`` to ``high``."""

    def convert(name: str, raw: str) -> int:
        value = whole_number(name, raw)
        if not low <= value <= high:
            raise InvalidParameter(f"Invalid {name}: {raw!r} is not a whole number from {low} to {high}")
        return value

    return convert


PARAMS = (
    Param("ErrorRate", "error_rate", rate),
    Param("ErrorStatus", "error_status", enum(*ERROR_STATUSES)),
    Param("ThrottleRate", "throttle_rate", rate),
    Param("ThrottleBurst", "throttle_burst", bounded(1, MAX_BURST)),
    Param("LatencyMs", "latency_ms", bounded(0, MAX_LATENCY_MS)),
    Param("DropDeliveryRate", "drop_delivery_rate", rate),
)


@dataclass(frozen=True)
class FaultRule:
    """The faults one account switched on for one family; all zero means off."""

    account_sid: str
    family: str
    error_rate: float = 0.0
    error_status: int = 500
    throttle_rate: float = 0.0
    throttle_burst: int = 1
    latency_ms: int = 0
    drop_delivery_rate: float = 0.0
    date_updated: str = ""

    @property
    def active(self) -> bool:
        """Whether any fault is on."""
        return bool(self.error_rate or self.throttle_rate or self.latency_ms or self.drop_delivery_rate)

    def to_wire(self, base: str) -> dict[str, Any]:
        """The control API's representation."""
        return {
            "account_sid": self.account_sid,
            "family": self.family,
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "throttle_rate": self.throttle_rate,
            "throttle_burst": self.throttle_burst,
            "latency_ms": self.latency_ms,
            "drop_delivery_rate": self.drop_delivery_rate,
            "date_updated": self.date_updated or None,
            "url": f"{base}/flexchat/v1/Faults/{self.family}",
        }


RULE_COLUMNS = tuple(field.name for field in fields(FaultRule))


def list_faults(account_sid: str | None) -> Script[list[FaultRule]]:
    """The account's rules by family, or every account's (``None``)."""
    rows = yield (LIST_FAULTS() if account_sid is None else LIST_ACCOUNT_FAULTS(account_sid))
    return [FaultRule(*row) for row in rows]


def put_fault(rule: FaultRule) -> Script[FaultRule]:
    """Store ``rule`` in place of the account's rule for its family."""
    stored = replace(rule, date_updated=now_iso())
    yield PUT_FAULT(*(getattr(stored, name) for name in RULE_COLUMNS))
    return stored


def clear_faults(account_sid: str, family: str | None) -> Script[int]:
    """Remove one family's rule, or all of the account's; how many there were."""
    rows = yield (CLEAR_FAULTS(account_sid) if family is None else CLEAR_FAULT(account_sid, family))
    return len(rows)


def check_family(family: str) -> str:
    """``family`` if it is one faults can be set on; InvalidParameter otherwise."""
    if family not in FAMILIES:
        raise InvalidParameter(f"Invalid Family: {family!r} is not one of {', '.join(FAMILIES)}")
    return family


def updated_rule(current: FaultRule, form: Mapping[str, str]) -> FaultRule:
    """``current`` with the parameters present in ``form`` applied (the others stay)."""
    values = parse(form, PARAMS)
    if "error_status" in values:
        values["error_status"] = int(values["error_status"])
    return replace(current, **values)


class Faults:
    """The rules of every account, held in memory and refreshed from the store.

    The app calls :meth:`apply` on each API request; the delivery worker calls
    :meth:`should_drop_delivery` before each webhook delivery.
    """

    def __init__(self, store: Store, metrics: Metrics, refresh_seconds: float = 1.0) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        # Account -> family -> rule; only active rules. Replaced whole on reload, so a
        # request reads one consistent set.
        self.rules: dict[str, dict[str, FaultRule]] = {}
        # Consecutive 429s still owed by a burst, per account and family; per process.
        self._bursts: dict[tuple[str, str], int] = {}
        # Requests of each account with a rule being handled here: the 429s'
        # Twilio-Concurrent-Requests. Only those accounts are counted, so the others'
        # requests pay nothing for it.
        self.in_flight: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self.injected: Counter = metrics.counter(
            "flexchat_faults_injected_total",
            "Requests and deliveries shaped by a fault, by route family and fault.",
            ("family", "fault"),
        )

    # -- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Load the rules, then keep reloading them in the background."""
        await self.reload()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def stop(self) -> None:
        """Stop reloading."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # not `await`: a cancel of this stop must not be swallowed

    async def reload(self) -> None:
        """Read every active rule from the store."""
        rules: dict[str, dict[str, FaultRule]] = {}
        for rule in await self.store.read(list_faults(None)):
            if rule.active:
                rules.setdefault(rule.account_sid, {})[rule.family] = rule
        self.rules = rules
        self._bursts = {key: left for key, left in self._bursts.items() if key[0] in rules}

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.reload()
            except Exception as error:
                # The database is away (the requests say so with 503s): keep the last
                # rules and try again at the next refresh.
                log.debug("fault rules not reloaded: %s: %s", error.__class__.__name__, error)

    # -- control ---------------------------------------------------------------------

    async def put(self, rule: FaultRule) -> FaultRule:
        """Store ``rule`` (all zero switches its family off) and apply it here at once."""
        stored = await self.store.write(put_fault(rule))
        await self.reload()
        return stored

    async def clear(self, account_sid: str, family: str | None = None) -> int:
        """Switch off one family's faults, or all of the account's; how many rules there were."""
        cleared = await self.store.write(clear_faults(account_sid, family))
        await self.reload()
        return cleared

    # -- requests and deliveries -----------------------------------------------------

    def rule(self, account_sid: str, family: str) -> FaultRule | None:
        """The rule that applies to the account on ``family``: its own, else the ``*`` one."""
        rules = self.rules.get(account_sid)
        if rules is None:
            return None
        return rules.get(family) or rules.get(ALL_FAMILIES)

    async def run(self, request: Request, family: str, endpoint: Endpoint, ctx: AppContext) -> Response:
        """Run ``endpoint`` for a request of an account that has rules, shaped by them."""
        account_sid = request.account_sid
        self.in_flight[account_sid] = self.in_flight.get(account_sid, 0) + 1
        try:
            await self.apply(request, family, self.in_flight[account_sid])
            return await endpoint(request, ctx)
        finally:
            left = self.in_flight[account_sid] - 1
            if left:
                self.in_flight[account_sid] = left
            else:
                del self.in_flight[account_sid]

    async def apply(self, request: Request, family: str, concurrent_requests: int) -> None:
        """Shape one request by the account's rule for ``family``: wait, or raise a
        Twilio error. Marks ``request.fault`` with what applied, for the header and log."""
        rule = self.rule(request.account_sid, family)
        if rule is None:
            return
        applied: list[str] = []
        try:
            if rule.latency_ms:
                applied.append("latency")
                self.injected.inc(family, "latency")
                await asyncio.sleep(rule.latency_ms / 1000)
            if rule.throttle_rate and self._throttled(rule, family):
                applied.append("throttle")
                self.injected.inc(family, "throttle")
                raise TooManyRequests(concurrent_requests)
            if rule.error_rate and random.random() < rule.error_rate:
                applied.append("error-rate")
                self.injected.inc(family, "error-rate")
                raise InjectedUnavailable() if rule.error_status == 503 else InjectedInternalError()
        finally:
            if applied:
                request.fault = ", ".join(applied)

    def _throttled(self, rule: FaultRule, family: str) -> bool:
        key = (rule.account_sid, family)
        left = self._bursts.get(key, 0)
        if left > 0:
            self._bursts[key] = left - 1
            return True
        if random.random() < rule.throttle_rate:
            self._bursts[key] = rule.throttle_burst - 1
            return True
        return False

    def should_drop_delivery(self, account_sid: str, family: str = DELIVERY_FAMILY) -> bool:
        """Whether the delivery worker should drop this webhook delivery of the account
        (not send it, and record it as dropped); decided afresh for each delivery."""
        rule = self.rule(account_sid, family)
        if rule is None or not rule.drop_delivery_rate or random.random() >= rule.drop_delivery_rate:
            return False
        self.injected.inc(family, "dropped-delivery")
        return True
