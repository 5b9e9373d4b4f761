"""Input measures for the promtool cases of each KPI alert, solved from its threshold.

Every KPI alert gets four cases: it fires; a terrible value below the minimum sample does
not; a value exactly at the threshold (exact in floating point, checked here with the
same arithmetic PromQL does) does not; a quiet team (all measures 0) does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from streams.catalog import (
    KPI_BY_NAME,
    MEASURES,
    QUOTA_ATTAINMENT,
    WINDOW_BY_NAME,
    Alert,
    Kpi,
    team_kpi_values,
)
from streams.catalog.kpis import WEEK_SECONDS

Rows = dict[tuple[str, str, str], dict[str, float]]  # (rep, team, window) -> measures
SEARCH = 200


class CaseError(ValueError):
    """No exact test values exist for an alert's threshold within the search bounds."""


@dataclass
class Case:
    """One promtool alert test: measure rows, team targets, the expected alert (if any)."""

    name: str
    rows: Rows
    subject: tuple[str, str] | None  # (rep, team) that fires, None when nothing should
    value: float | None = None
    targets: dict[str, float] = field(default_factory=dict)
    quotas: dict[str, float] = field(default_factory=dict)  # rep -> weekly quota


def _zeros(kpi: Kpi, extra: tuple[str, ...] = ()) -> dict[str, float]:
    return {m: 0.0 for m in (*(m for m, _ in kpi.numerator), *kpi.denominator, *extra)}


def kpi_measures(kpi: Kpi, num: Fraction | int, den: int, guard: tuple[str, ...] = (),
                 guard_total: int | None = None) -> dict[str, float]:
    """Measures whose numerator sum (before scale) is `num` and denominator sum is `den`."""
    values = _zeros(kpi, guard)
    top = next(m for m, sign in kpi.numerator if sign > 0)
    values[top] = float(num)
    rest = [m for m in kpi.denominator if m != top]
    if top in kpi.denominator:
        if num > den or not rest:
            raise CaseError(f"{kpi.name}: numerator {num} cannot exceed denominator {den}")
        values[rest[0]] = float(den - num)
    else:
        values[kpi.denominator[0]] = float(den)
    if guard and guard_total is not None:
        if set(guard) <= set(kpi.denominator):
            if den != guard_total:
                raise CaseError(f"{kpi.name}: guard is the denominator, {den} != {guard_total}")
        elif set(guard) & set(values) - set(guard):
            raise CaseError(f"{kpi.name}: guard {guard} overlaps the KPI's measures")
        else:
            values[guard[0]] = float(guard_total)
    return values


def _bounded(kpi: Kpi) -> bool:
    return kpi.unit == "ratio"


def _breach(op: str, value: float | None, bound: float | None) -> bool:
    if value is None or bound is None:
        return False
    return value < bound if op == "<" else value > bound


def _guarded(alert: Alert) -> tuple[int, tuple[str, ...]]:
    """The smallest denominator that meets the guard (the guard may be the denominator)."""
    return max(1, math.ceil(alert.guard_min)), alert.guard


def absolute_cases(alert: Alert, team: str) -> list[Case]:
    kpi = KPI_BY_NAME[alert.kpi]
    rep = "r-1"
    t = Fraction(str(alert.threshold)) * kpi.per / Fraction(str(kpi.scale))
    den, guard = _guarded(alert)
    g_min = math.ceil(alert.guard_min)

    def row(num: Fraction | int, d: int, g: int | None = None) -> Rows:
        return {(rep, team, alert.window): kpi_measures(kpi, num, d, guard,
                                                        d if g is None else g)}

    fire_num = math.ceil(t * den) - 1 if alert.op == "<" else math.floor(t * den) + 1
    if fire_num < 0 or (_bounded(kpi) and fire_num > den):
        raise CaseError(f"{alert.name}: no breaching value with denominator {den}")
    cases = [Case("fires", row(fire_num, den), (rep, team), _value(kpi, row(fire_num, den)))]
    low = max(g_min - 1, 0)
    worst = 0 if alert.op == "<" else (low if _bounded(kpi) else 100 * max(low, 1))
    cases.append(Case("below the minimum sample", row(worst if low else 0, low), None))
    exact = next((d for d in range(den, den + SEARCH) if (t * d).denominator == 1), None)
    if exact is None:
        raise CaseError(f"{alert.name}: no denominator makes {alert.threshold} exact")
    at = row(t * exact, exact)
    if _value(kpi, at) != alert.threshold:
        raise CaseError(f"{alert.name}: {alert.threshold} is not exact in floating point")
    cases.append(Case("exactly at the threshold", at, None))
    cases.append(Case("quiet team", row(0, 0, 0), None))
    return cases


def relative_cases(alert: Alert, team: str) -> list[Case]:
    """A rep compared with a team of two: the subject and a peer with equal denominators."""
    kpi = KPI_BY_NAME[alert.kpi]
    low_rep, peer = "r-1", "r-2"
    den, guard = _guarded(alert)
    bound = den if _bounded(kpi) else 100 * den

    def rows(n_low: int, n_peer: int, d: int = den, d_low: int | None = None) -> Rows:
        d_low = d if d_low is None else d_low
        return {(low_rep, team, alert.window): kpi_measures(kpi, n_low, d_low, guard, d_low),
                (peer, team, alert.window): kpi_measures(kpi, n_peer, d, guard, d)}

    def compare(r: Rows) -> tuple[float | None, float | None]:
        """(rep value, threshold * team value), with PromQL's float arithmetic."""
        team_value = kpi.in_base_units(_sum(r.values()))
        return (kpi.in_base_units(r[(low_rep, team, alert.window)]),
                None if team_value is None else alert.threshold * team_value)

    n_peer = den if _bounded(kpi) else 4 * den
    fire = next((rows(n, n_peer) for n in range(1, bound + 1)
                 if _breach(alert.op, *compare(rows(n, n_peer)))), None)
    if fire is None:
        raise CaseError(f"{alert.name}: no breaching value found")
    g_low = max(math.ceil(alert.guard_min) - 1, 0)
    worst = 0 if alert.op == "<" or not g_low else (g_low if _bounded(kpi) else 100 * g_low)
    return [
        Case("fires", fire, (low_rep, team), compare(fire)[0]),
        Case("below the minimum sample", rows(worst, n_peer, den, g_low), None),
        Case("exactly at the threshold", _exact_relative(alert, kpi, rows, compare), None),
        Case("quiet team", rows(0, 0, 0), None),
    ]


def _exact_relative(alert: Alert, kpi: Kpi, rows: Callable[..., Rows],
                    compare: Callable[[Rows], tuple[float | None, float | None]]) -> Rows:
    den, _ = _guarded(alert)
    t = Fraction(str(alert.threshold))
    if t >= 2:
        raise CaseError(f"{alert.name}: a threshold of {t} x team cannot be met in a team of 2")
    for d in range(den, den + SEARCH):
        for n_peer in range(1, (d if _bounded(kpi) else 100 * d) + 1):
            n_low = t * n_peer / (2 - t)  # n_low / d == t * (n_low + n_peer) / (2 d)
            if n_low.denominator != 1 or (_bounded(kpi) and n_low > d):
                continue
            candidate = rows(int(n_low), n_peer, d)
            rep_value, bound = compare(candidate)
            if rep_value is not None and rep_value == bound:
                return candidate
    raise CaseError(f"{alert.name}: no exact at-threshold values for {alert.threshold}")


def activity_cases(alert: Alert, team: str) -> list[Case]:
    """activity_ratio = booked 7d / (target / (revenue per sale * appt rate * close), 30d)."""
    rep = "r-1"
    product = 250.0  # 1000 per sale * 50% next steps * 50% closed

    def rows(booked: float, closed: bool = True) -> Rows:
        month = {m.name: 0.0 for m in MEASURES}
        if closed:
            month.update(revenue_won=10_000.0, deals_won=10.0, deals_lost=10.0,
                         first_appointments_held=10.0, next_steps_booked=5.0)
        return {(rep, team, "30d"): month, (rep, team, "7d"): {"first_appointments_booked":
                                                               float(booked)}}

    def value(r: Rows, target: float) -> float | None:
        month = r[(rep, team, "30d")]
        week = {m.name: 0.0 for m in MEASURES} | r[(rep, team, "7d")]
        return team_kpi_values(target, {"30d": month, "7d": week})[alert.kpi]

    t = Fraction(str(alert.threshold))
    magic = next((m for m in range(10, SEARCH) if (t * m).denominator == 1), None)
    if magic is None or alert.op != "<":
        raise CaseError(f"{alert.name}: no exact at-threshold values for {alert.threshold}")
    target = product * magic
    fire = rows(math.ceil(t * magic) - 1)
    at = rows(float(t * magic))
    if value(at, target) != alert.threshold:
        raise CaseError(f"{alert.name}: {alert.threshold} is not exact in floating point")
    targets = {team: target}
    return [
        Case("fires", fire, (rep, team), value(fire, target), targets),
        Case("below the minimum sample (no deal closed in 30d)", rows(0, closed=False), None,
             None, targets),
        Case("exactly at the threshold", at, None, None, targets),
        Case("quiet team", {(rep, team, "30d"): {m.name: 0.0 for m in MEASURES}}, None, None,
             targets),
    ]


def _sum(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for row in rows:
        for name, v in row.items():
            total[name] = total.get(name, 0.0) + v
    return total


def _value(kpi: Kpi, rows: Rows) -> float:
    value = kpi.in_base_units(next(iter(rows.values())))  # as Prometheus records it
    if value is None:
        raise CaseError(f"{kpi.name}: undefined where a value was expected")
    return value


def quota_cases(alert: Alert, team: str) -> list[Case]:
    """A quota prorated to the window, revenue below, at and without a quota."""
    rep, quota = "r-1", 7000.0
    seconds = WINDOW_BY_NAME[alert.window].seconds

    def rows(revenue: float) -> Rows:
        return {(rep, team, alert.window): {"revenue_won": revenue}}

    prorated = quota * seconds / WEEK_SECONDS
    at = float(Fraction(str(alert.threshold)) * Fraction(prorated).limit_denominator())
    if QUOTA_ATTAINMENT.value(at, quota, seconds) != alert.threshold:
        raise CaseError(f"{alert.name}: {alert.threshold} is not exact in floating point")
    low = at - prorated / 10
    quotas = {rep: quota}
    return [
        Case("fires", rows(low), (rep, team), QUOTA_ATTAINMENT.value(low, quota, seconds),
             quotas=quotas),
        Case("exactly at the threshold", rows(at), None, quotas=quotas),
        Case("no quota", rows(0.0), None),
    ]


def cases_for(alert: Alert, team: str) -> list[Case]:
    if alert.kpi == QUOTA_ATTAINMENT.name:
        return quota_cases(alert, team)
    if alert.kpi == "activity_ratio":
        return activity_cases(alert, team)
    if alert.relative_to_team:
        return relative_cases(alert, team)
    return absolute_cases(alert, team)
