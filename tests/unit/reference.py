"""A brute-force replay written from kpis.md and events.md alone: the oracle for engine tests."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from streams.events import Event, Rejected, parse_event

US = 1_000_000
MINUTE = 60 * US
HOUR = 3600 * US
DAY = 86_400 * US
LATENESS = 30 * DAY
DEDUPE_HORIZON = DAY
DEAL_RETENTION = 180 * DAY  # the engine's default (README "Semantics")

# (name, length, step) as in kpis.md "Windows".
WINDOWS = (("1h", HOUR, MINUTE), ("24h", DAY, HOUR), ("7d", 7 * DAY, HOUR),
           ("30d", 30 * DAY, HOUR))

MEASURES = (
    "touches", "calls", "calls_connected", "value_message_calls", "prospects_touched",
    "replies", "replies_positive", "replies_negative", "replies_neutral", "prospects_replied",
    "prospects_replied_positive", "prospects_replied_negative", "meetings_booked",
    "next_steps_booked", "first_appointments_held", "meetings_held", "meetings_no_show",
    "deals_won", "deals_lost", "revenue_won", "won_cycle_seconds", "deals_won_with_cycle",
    "touches_on_won_deals", "touches_on_lost_deals", "nps_responses", "nps_promoters",
    "nps_detractors", "deals_opened", "proposals_sent", "quote_turnaround_seconds",
    "quotes_with_open", "first_appointments_booked",
)
# name -> (numerator terms with signs, denominator terms, scale), from the kpis.md table.
KPIS: dict[str, tuple[tuple[tuple[str, int], ...], tuple[str, ...], float]] = {
    "touches_per_prospect": ((("touches", 1),), ("prospects_touched",), 1.0),
    "reply_rate": ((("prospects_replied", 1),), ("prospects_touched",), 1.0),
    "positive_reply_rate": ((("prospects_replied_positive", 1),), ("prospects_touched",), 1.0),
    "negative_reply_rate": ((("prospects_replied_negative", 1),), ("prospects_touched",), 1.0),
    "meeting_acceptance_rate": ((("meetings_booked", 1),), ("replies",), 1.0),
    "show_rate": ((("meetings_held", 1),), ("meetings_held", "meetings_no_show"), 1.0),
    "appointment_to_next_step_rate": ((("next_steps_booked", 1),),
                                      ("first_appointments_held",), 1.0),
    "call_connect_rate": ((("calls_connected", 1),), ("calls",), 1.0),
    "value_message_call_share": ((("value_message_calls", 1),), ("calls",), 1.0),
    "close_ratio": ((("deals_won", 1),), ("deals_won", "deals_lost"), 1.0),
    "avg_revenue_per_sale": ((("revenue_won", 1),), ("deals_won",), 1.0),
    "avg_sales_cycle_days": ((("won_cycle_seconds", 1),), ("deals_won_with_cycle",),
                             1 / 86400),
    "avg_quote_turnaround_days": ((("quote_turnaround_seconds", 1),), ("quotes_with_open",),
                                  1 / 86400),
    "touches_per_won_deal": ((("touches_on_won_deals", 1),), ("deals_won",), 1.0),
    "touches_per_lost_deal": ((("touches_on_lost_deals", 1),), ("deals_lost",), 1.0),
    "nps": ((("nps_promoters", 1), ("nps_detractors", -1)), ("nps_responses",), 100.0),
}
TEAM_KPIS = ("magic_number", "activity_ratio", "reps_at_quota_ratio")
REP_ONLY_KPIS = ("quota_attainment",)
NEXT_STEP_KINDS = {"demo", "site_visit", "survey", "proposal"}


def format_instant(ts: int) -> str:
    """Microseconds to RFC 3339 UTC: seconds, plus the fraction only when there is one."""
    seconds, micros = divmod(ts, US)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{micros:06d}".rstrip("0") if micros else "") + "Z"


def window_start(as_of: int, length: int, step: int) -> int:
    """kpis.md: with b = floor(T to the step), the window covers [b + step - W, T)."""
    return as_of // step * step + step - length


# -- file order: rejected, after T, late, duplicate, applied -------------------------


def classify(lines: Iterable[bytes | str], as_of: int | None, now_us: int | None = None,
             lateness: int = LATENESS, horizon: int = DEDUPE_HORIZON
             ) -> tuple[list[Event], dict[str, Any]]:
    """Applied events in file order and the `events` counts of the replay contract."""
    counts: dict[str, Any] = {"applied": 0, "duplicates": 0, "late": 0,
                              "rejected": Counter(), "after_as_of": 0}
    applied: list[Event] = []
    # events.md "Streams": duplicates and lateness are judged per stream (rep and type);
    # README: a duplicate is the same id applied within the horizon of the stream's
    # newest applied event.
    applied_times: dict[tuple[str, str, str], list[int]] = {}  # (rep, type, id) -> times
    newest: dict[tuple[str, str], int] = {}  # (rep, type) -> newest applied time
    watermarks: dict[tuple[str, str], int] = {}  # (rep, type) -> newest occurred_at read
    for line in lines:
        if not line.strip():
            continue
        try:
            event = parse_event(line, now_us=now_us)
        except Rejected as exc:
            counts["rejected"][exc.reason] += 1
            continue
        stream = (event.rep_id, event.type)
        before = watermarks.get(stream)
        watermarks[stream] = event.ts if before is None else max(before, event.ts)
        if as_of is not None and event.ts >= as_of:
            counts["after_as_of"] += 1
        elif before is not None and event.ts < before - lateness:
            counts["late"] += 1
        elif any(t >= newest.get((event.rep_id, event.type), t) - horizon
                 for t in applied_times.get((event.rep_id, event.type, event.event_id), ())):
            counts["duplicates"] += 1
        else:
            counts["applied"] += 1
            applied.append(event)
            applied_times.setdefault((event.rep_id, event.type, event.event_id),
                                     []).append(event.ts)
            key = (event.rep_id, event.type)
            newest[key] = max(newest.get(key, event.ts), event.ts)
    counts["rejected"] = dict(sorted(counts["rejected"].items()))
    return applied, counts


# -- measures of one rep over one window, straight from the definitions ---------------


def rep_measures(events: Sequence[Event], as_of: int, start: int,
                 deal_retention: int = DEAL_RETENTION) -> dict[str, Any]:
    """Every measure of one rep's applied events over [start, as_of)."""
    before_t = [e for e in events if e.ts < as_of]
    inside = [e for e in before_t if start <= e.ts]

    def of(type_: str, **fields: Any) -> list[Event]:
        return [e for e in inside if e.type == type_
                and all(getattr(e, k) == v for k, v in fields.items())]

    touches, calls, replies = of("touch"), of("touch", channel="call"), of("reply")
    touched = {e.prospect_id for e in touches}

    def replied(*sentiments: str) -> int:
        return len(touched & {e.prospect_id for e in replies if e.sentiment in sentiments})

    meetings = of("meeting")
    booked = [e for e in meetings if e.status == "booked"]
    won, lost = of("deal", stage="won"), of("deal", stage="lost")

    def deal_touches(closed: Event) -> int:
        """Touches on the deal at most the retention before the won or lost event."""
        return sum(1 for e in before_t if e.type == "touch" and e.deal_id == closed.deal_id
                   and e.ts >= closed.ts - deal_retention)

    lives = deal_lives([e for e in before_t if e.type == "deal"], deal_retention)

    def earliest(life: list[Event], stage: str) -> int | None:
        return min((e.ts for e in life if e.stage == stage), default=None)

    cycle_us, with_cycle = 0, 0
    for w in won:
        opened = earliest(lives[id(w)], "opened")
        if opened is not None:
            cycle_us += w.ts - opened
            with_cycle += 1
    quote_us, quotes = 0, 0
    for life in {id(life): life for life in lives.values()}.values():
        first, opened = earliest(life, "proposal"), earliest(life, "opened")
        if first is not None and opened is not None and start <= first:
            quote_us += first - opened
            quotes += 1
    nps = of("nps")
    return {
        "touches": len(touches),
        "calls": len(calls),
        "calls_connected": sum(1 for e in calls if e.outcome == "connected"),
        "value_message_calls": sum(1 for e in calls if e.value_message),
        "prospects_touched": len(touched),
        "replies": len(replies),
        "replies_positive": len(of("reply", sentiment="positive")),
        "replies_negative": len(of("reply", sentiment="negative")),
        "replies_neutral": len(of("reply", sentiment="neutral")),
        "prospects_replied": replied("positive", "negative", "neutral"),
        "prospects_replied_positive": replied("positive"),
        "prospects_replied_negative": replied("negative"),
        "meetings_booked": len(booked),
        "next_steps_booked": sum(1 for e in booked if e.kind in NEXT_STEP_KINDS),
        "first_appointments_held": len(of("meeting", status="held", kind="first_appointment")),
        "meetings_held": len(of("meeting", status="held")),
        "meetings_no_show": len(of("meeting", status="no_show")),
        "deals_won": len(won),
        "deals_lost": len(lost),
        "revenue_won": sum(e.amount for e in won),
        "won_cycle_seconds": cycle_us / US if cycle_us else 0,
        "deals_won_with_cycle": with_cycle,
        "touches_on_won_deals": sum(deal_touches(e) for e in won),
        "touches_on_lost_deals": sum(deal_touches(e) for e in lost),
        "nps_responses": len(nps),
        "nps_promoters": sum(1 for e in nps if e.score >= 9),
        "nps_detractors": sum(1 for e in nps if e.score <= 6),
        "deals_opened": len(of("deal", stage="opened")),
        "proposals_sent": len(of("deal", stage="proposal")),
        "quote_turnaround_seconds": quote_us / US if quote_us else 0,
        "quotes_with_open": quotes,
        "first_appointments_booked": sum(1 for e in booked if e.kind == "first_appointment"),
    }


def deal_lives(deal_events: Sequence[Event], retention: int) -> dict[int, list[Event]]:
    """id(event) -> the events of its deal's life, from one rep's applied deal events in
    stream order. A deal is forgotten once the stream's newest applied event is more than
    the retention past the deal's latest event; its next event starts a new life."""
    lives: dict[int, list[Event]] = {}
    current: dict[str, list[Event]] = {}
    newest: int | None = None
    for e in deal_events:
        newest = e.ts if newest is None else max(newest, e.ts)
        life = current.get(e.deal_id)  # type: ignore[arg-type]
        if life is None or max(x.ts for x in life) < newest - retention:
            life = current[e.deal_id] = []  # type: ignore[index]
        life.append(e)
        lives[id(e)] = life
    return lives


def kpi_values(m: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, (num, den, scale) in KPIS.items():
        d = sum(m[k] for k in den)
        out[name] = None if d == 0 else scale * sum(s * m[k] for k, s in num) / d
    return out


def team_extra(target: float | None, rows: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """magic_number over the team's 30d KPIs; activity_ratio from 7d first appointments."""
    k30 = rows["30d"]["kpis"]
    parts = [k30["avg_revenue_per_sale"], k30["appointment_to_next_step_rate"],
             k30["close_ratio"]]
    if target is None or any(p is None or p == 0 for p in parts):
        return {"magic_number": None, "activity_ratio": None}
    magic = target / math.prod(parts)  # type: ignore[arg-type]
    return {"magic_number": magic,
            "activity_ratio": rows["7d"]["measures"]["first_appointments_booked"] / magic}


# -- the whole replay document ---------------------------------------------------------


def current_teams(applied: Sequence[Event]) -> dict[str, str]:
    """rep -> team_id of its latest applied event (events.md: on a tie of occurred_at the
    greatest team_id)."""
    latest: dict[str, tuple[int, str]] = {}
    for e in applied:
        latest[e.rep_id] = max(latest.get(e.rep_id, (e.ts, e.team_id)), (e.ts, e.team_id))
    return {rep: team for rep, (_, team) in latest.items()}


def attainment(revenue: float, quota: float | None, length: int) -> float | None:
    """kpis.md: revenue_won / (weekly quota x window length in days / 7); null without."""
    return None if not quota else revenue / (quota * (length / DAY) / 7)


# Durations a team sums in whole microseconds, as the engine does: the float seconds of
# reps whose cycles nearly cancel (a deal won before its opening counts negative) lose digits.
IN_MICROSECONDS = ("won_cycle_seconds", "quote_turnaround_seconds")


def snapshot(applied: Sequence[Event], as_of: int, targets: dict[str, float] | None = None,
             deal_retention: int = DEAL_RETENTION, quotas: dict[str, float] | None = None
             ) -> dict[str, Any]:
    """The `as_of`, `reps` and `teams` parts of the replay document for applied events."""
    quotas = quotas or {}
    at_quota: dict[str, list[bool]] = {}  # team -> per rep with a quota: 30d attainment >= 1
    before_t = [e for e in applied if e.ts < as_of]
    teams = current_teams(before_t)
    reps, team_rows = [], []
    per_team: dict[str, dict[str, dict[str, Any]]] = {}
    for rep in sorted(teams):
        mine = [e for e in before_t if e.rep_id == rep]
        for name, length, step in WINDOWS:
            m = rep_measures(mine, as_of, window_start(as_of, length, step), deal_retention)
            quota = attainment(m["revenue_won"], quotas.get(rep), length)
            reps.append({"rep_id": rep, "team_id": teams[rep], "window": name,
                         "measures": m, "kpis": kpi_values(m) | {"quota_attainment": quota}})
            if name == "30d" and quota is not None:
                at_quota.setdefault(teams[rep], []).append(quota >= 1)
            total = per_team.setdefault(teams[rep], {}).setdefault(name, dict.fromkeys(m, 0))
            for k, v in m.items():
                total[k] += round(v * US) if k in IN_MICROSECONDS else v
    for team in sorted(per_team):
        for total in per_team[team].values():
            for k in IN_MICROSECONDS:
                total[k] = total[k] / US if total[k] else 0
        rows = {name: {"measures": per_team[team][name],
                       "kpis": kpi_values(per_team[team][name])} for name, _, _ in WINDOWS}
        extra = team_extra((targets or {}).get(team), rows)
        reached = at_quota.get(team)
        extra["reps_at_quota_ratio"] = sum(reached) / len(reached) if reached else None
        for name, _, _ in WINDOWS:
            team_rows.append({"team_id": team, "window": name,
                              "measures": rows[name]["measures"],
                              "kpis": rows[name]["kpis"] | extra})
    return {"as_of": format_instant(as_of), "reps": reps, "teams": team_rows}


def replay(lines: Iterable[bytes | str], as_of: int | None, now_us: int | None = None,
           targets: dict[str, float] | None = None,
           deal_retention: int = DEAL_RETENTION,
           quotas: dict[str, float] | None = None) -> dict[str, Any]:
    """The replay contract's JSON document, computed by brute force."""
    applied, counts = classify(lines, as_of, now_us)
    if as_of is None:
        if applied:
            as_of = max(e.ts for e in applied) + 1
        else:
            assert now_us is not None, "no applied event: T defaults to the clock"
            as_of = now_us
    return snapshot(applied, as_of, targets, deal_retention, quotas) | {"events": counts}


# -- comparison ------------------------------------------------------------------------


def differences(got: Any, want: Any, path: str = "", rel_tol: float = 1e-9) -> list[str]:
    """Every place where two JSON documents differ (numbers within rel_tol)."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{path}.{k}: missing" for k in want if k not in got]
        out += [f"{path}.{k}: unexpected" for k in got if k not in want]
        for k in want:
            if k in got:
                out += differences(got[k], want[k], f"{path}.{k}", rel_tol)
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items, want {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want, strict=True))
                for d in differences(g, w, f"{path}[{i}]", rel_tol)]
    numbers = (int, float)
    if (isinstance(got, numbers) and isinstance(want, numbers)
            and not isinstance(got, bool) and not isinstance(want, bool)):
        if got == want or math.isclose(got, want, rel_tol=rel_tol):
            return []
        return [f"{path}: got {got!r}, want {want!r}"]
    return [] if got == want else [f"{path}: got {got!r}, want {want!r}"]
