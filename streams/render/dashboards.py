"""Grafana boards as code (grafana-foundation-sdk) and their provisioning files.

Three boards: team overview (each alerted KPI against its threshold, every KPI, the
firing alerts), rep drill-down (variables team, rep, window) and pipeline health
(throughput, delay, lag, dead letters by reason). Every panel reads the recording rules
or the worker's own metrics, so the e2e test can run each query against Prometheus.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from streams.catalog import (
    ALERTS,
    JOB,
    KPIS,
    MEASURES,
    PIPELINE,
    PIPELINE_ALERTS,
    QUOTA_ATTAINMENT,
    REPS_AT_QUOTA,
    SIGNALS,
    TEAM_KPI_BY_NAME,
    TEAM_KPIS,
    Alert,
)
from streams.catalog.export import ALWAYS_EXPORTED
from streams.render import GENERATED, alerts, yamltext
from streams.render.pages import currency_symbol, runbook_url
from streams.render.promql import goal_record, kpi_record

DATASOURCE_UID = "prometheus"  # the provisioned data source, the variable's default
DS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
DASHBOARDS_DIR = "grafana/dashboards"
UNITS = {"ratio": "percentunit", "currency": f"prefix:{currency_symbol()}", "days": "s",
         "count": "none", "score": "none"}
TEAM = 'team_id=~"$team"'  # multi-select with All
LABELS = ALWAYS_EXPORTED.metric  # every rep, team and exported window has this series
DECIMALS = {"currency": 2.0, "count": 1.0, "score": 0.0}
Panel = Any  # a grafana-foundation-sdk panel builder
P = PIPELINE


def _q(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> Any:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        q = q.legend_format(legend)
    return q.instant().format(PromQueryFormat.TABLE) if instant else q


def _steps(alert: Alert | None) -> Any:
    if alert is None:
        steps = [model.Threshold(value=None, color="green")]
    elif alert.op == "<":
        steps = [model.Threshold(value=None, color="red"),
                 model.Threshold(value=alert.threshold, color="green")]
    else:
        steps = [model.Threshold(value=None, color="green"),
                 model.Threshold(value=alert.threshold, color="red")]
    return dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps)


def _unit(panel: Panel, unit: str) -> Panel:
    panel = panel.unit(UNITS.get(unit, "none"))
    return panel.decimals(DECIMALS[unit]) if unit in DECIMALS else panel


def _graph(title: str, targets: list[Any], unit: str = "count", alert: Alert | None = None,
           description: str = "", span: int = 12) -> Panel:
    panel = (timeseries.Panel().title(title).datasource(DS).span(span).height(8)
             .thresholds(_steps(alert)).targets(targets))
    if alert is not None:
        panel = panel.thresholds_style(common_b.GraphThresholdsStyleConfig()
                                       .mode(common.GraphThresholdsStyleMode.DASHED))
    if description:
        panel = panel.description(description)
    return _unit(panel, unit)


def _stat(title: str, expr: str, unit: str, alert: Alert | None, span: int = 4) -> Panel:
    panel = (stat.Panel().title(title).datasource(DS).span(span).height(4)
             .with_target(_q(expr)).thresholds(_steps(alert))
             .color_mode(common.BigValueColorMode.BACKGROUND if alert else
                         common.BigValueColorMode.NONE))
    return _unit(panel, unit)


def _table(title: str, expr: str, span: int = 24) -> Panel:
    return (table.Panel().title(title).datasource(DS).span(span).height(6)
            .with_target(_q(expr, instant=True)))


def kpi_label(kpi: str) -> str:
    team_kpi = TEAM_KPI_BY_NAME.get(kpi)
    return team_kpi.label if team_kpi else kpi.replace("_", " ").capitalize()


def _absolute_alert(kpi: str) -> Alert | None:
    return next((a for a in ALERTS if a.kpi == kpi and not a.relative_to_team), None)


def _goal(alert: Alert, where: str) -> Any:
    """The goal of an alert's KPI (docs/goals.md), as a query drawn beside the KPI."""
    record = goal_record(alerts.level_of(alert), alert.kpi, "threshold")
    return _q(f'max by (team_id) ({record}{{{where}, window="{alert.window}"}})', "goal", "G")


def _alert_panel(alert: Alert) -> Panel:
    """The KPI an alert reads, for the chosen team, against its goal."""
    unit = alerts.unit_of(alert)
    desc = f"{alerts.description(alert)} Runbook: {runbook_url(alert.name)}"
    name = f"{kpi_label(alert.kpi)}, last {alert.window}"
    selected = f'{{{TEAM}, window="{alert.window}"}}'
    team = kpi_record("team_window", alert.kpi) + selected
    goal = _goal(alert, TEAM)
    if alert.scope == "team":
        return _graph(f"{name} (team)", [_q(team, "{{team_id}}"), goal], unit, None, desc)
    rep = kpi_record("rep_window", alert.kpi) + selected
    if alert.kpi == QUOTA_ATTAINMENT.name:  # no team figure: each rep against 100% and goal
        return _graph(f"{name}: by rep against 100% of quota",
                      [_q(rep, "{{rep_id}}"), _q("vector(1)", "quota", "B"), goal], unit,
                      None, desc)
    if alert.relative_to_team:
        expr = f"{rep}\n/ on (team_id, window) group_left ()\n({team} > 0)"
        return _graph(f"{name}: rep / team average", [_q(expr, "{{rep_id}}"), goal], "ratio",
                      None, desc)
    return _graph(f"{name}: by rep", [_q(rep, "{{rep_id}}"), _q(team, "team {{team_id}}", "B"),
                                      goal],
                  unit, None, desc)


def _kpi_stats(window: str, selector: str) -> list[Panel]:
    panels = [_stat(kpi_label(k.name), f'{kpi_record("team_window", k.name)}{{{selector}, '
                    f'window="{window}"}}', k.unit, _absolute_alert(k.name)) for k in KPIS]
    for team_kpi in TEAM_KPIS:
        panels.append(_stat(f"{team_kpi.label} ({team_kpi.window})",
                            f'{kpi_record("team_window", team_kpi.name)}'
                            f'{{{selector}, window="{team_kpi.window}"}}', team_kpi.unit,
                            _absolute_alert(team_kpi.name)))
    share = REPS_AT_QUOTA
    panels.append(_stat(f"{share.label.capitalize()} ({share.window})",
                        f'{kpi_record("team_window", share.name)}'
                        f'{{{selector}, window="{share.window}"}}', share.unit, None))
    return panels


def _datasource_var() -> Any:
    """Which Prometheus the board reads: the provisioned one unless the viewer picks."""
    return dash.DatasourceVariable("datasource").label("Data source").type("prometheus").current(
        model.VariableOption(selected=True, text="Prometheus", value=DATASOURCE_UID))


def _label_var(name: str, label: str, selector: str = "",
               sort: Any = model.VariableSort.ALPHABETICAL_ASC) -> Any:
    """A variable listing the values of one label of the exported series."""
    return (dash.QueryVariable(name).label(name.title()).datasource(DS)
            .query(f"label_values({LABELS}{selector}, {label})")
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(sort))


def _team_var() -> Any:
    return _label_var("team", "team_id").multi(True).include_all(True)


def _window_var() -> Any:
    """The windows the workers export (SALESPULSE_EXPORT_WINDOWS), 7d selected."""
    return (_label_var("window", "window", sort=model.VariableSort.NATURAL_ASC)
            .current(model.VariableOption(selected=True, text="7d", value="7d")))


def _board(uid: str, title: str, variables: list[Any],
           sections: list[tuple[str, list[Panel]]]) -> dict[str, Any]:
    board = (dash.Dashboard(title).uid(uid).description(GENERATED).tags(["salespulse"])
             .refresh("1m").time("now-24h", "now").timezone("browser").readonly()
             .link(dash.DashboardLink("Salespulse").type(model.DashboardLinkType.DASHBOARDS)
                   .tags(["salespulse"]).as_dropdown(True).include_vars(True).keep_time(True)))
    for variable in [_datasource_var(), *variables]:
        board = board.with_variable(variable)
    for row, panels in sections:
        board = board.with_row(dash.Row(row))
        for panel in panels:
            board = board.with_panel(panel)
    data: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    for i, panel in enumerate(data["panels"], start=1):  # stable ids, rows included
        panel["id"] = i
    return data


def team_overview() -> dict[str, Any]:
    firing = f'ALERTS{{alertstate="firing", {TEAM}}}'
    return _board("salespulse-team", "Salespulse: team overview", [_team_var(), _window_var()], [
        ("Firing alerts", [
            _stat("Firing alerts", f"count({firing}) or vector(0)", "count", None),
            _table("Firing alerts of team $team", firing, span=20)]),
        ("Alerted KPIs against their thresholds", [_alert_panel(a) for a in ALERTS]),
        ("Every KPI of team $team, last $window", _kpi_stats("$window", TEAM)),
    ])


def rep_drilldown() -> dict[str, Any]:
    rep_var = _label_var("rep", "rep_id", f"{{{TEAM}}}")
    graphs = []
    for kpi in KPIS:
        rep = f'{kpi_record("rep_window", kpi.name)}{{rep_id="$rep", window="$window"}}'
        team = f'{kpi_record("team_window", kpi.name)}{{{TEAM}, window="$window"}}'
        queries = [_q(rep, "{{rep_id}}"), _q(team, "team {{team_id}}", "B")]
        alert = _absolute_alert(kpi.name)
        if alert is not None:  # beside its goal (the alert's window)
            queries.append(_goal(alert, 'rep_id="$rep"'))
        graphs.append(_graph(kpi_label(kpi.name), queries, kpi.unit, None, kpi.help, span=8))
    quota = f'{kpi_record("rep_window", QUOTA_ATTAINMENT.name)}{{rep_id="$rep", window="$window"}}'
    graphs.append(_graph("Quota attainment", [_q(quota, "{{rep_id}}"),
                                              _q("vector(1)", "quota", "B")], "ratio", None,
                         QUOTA_ATTAINMENT.help, span=8))
    names = "|".join(m.metric for m in MEASURES)
    return _board("salespulse-rep", "Salespulse: rep drill-down",
                  [_team_var(), rep_var, _window_var()], [
                      ("Firing alerts", [_table("Firing alerts of rep $rep",
                                                'ALERTS{alertstate="firing", rep_id="$rep"}')]),
                      ("KPIs of rep $rep against team $team, last $window", graphs),
                      ("Measures", [_table("Measures of rep $rep, last $window",
                                           f'{{__name__=~"{names}", rep_id="$rep", '
                                           f'window="$window"}}')]),
                  ])


def pipeline_health() -> dict[str, Any]:
    lag = next((a for a in PIPELINE_ALERTS if a.kpi == "consumer_lag"), None)
    rate = "[$__rate_interval]"
    delay = f"sum by (le) (rate({P['processing_delay_seconds'].metric}_bucket{rate}))"
    return _board("salespulse-pipeline", "Salespulse: pipeline health", [], [
        ("Alerts and workers", [
            _table("Firing pipeline alerts", 'ALERTS{alertstate="firing", component="pipeline"}',
                   span=12),
            _graph("Workers up", [_q(f'up{{job="{JOB}"}}', "{{instance}}")], span=6),
            _graph("Reps held per worker", [_q(P["reps"].sample, "{{instance}}")], span=6)]),
        ("Throughput and delay", [
            _graph("Events applied per second, by type", [_q(
                f"sum by (type) (rate({P['events_processed'].sample}{rate}))", "{{type}}")]),
            _graph("Processing delay (now - occurred_at)", [
                _q(f"histogram_quantile({q}, {delay})", f"p{round(q * 100)}", ref)
                for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))], "count"),
            _graph("Duplicates and late events per second", [
                _q(f"sum by (type) (rate({P['events_duplicate'].sample}{rate}))",
                   "duplicate {{type}}"),
                _q(f"sum by (type) (rate({P['events_late'].sample}{rate}))", "late {{type}}",
                   "B")]),
            _graph("Seconds since the last message and the newest event", [
                _q(f"time() - max({P['last_processed_timestamp_seconds'].sample})", "last message"),
                _q(f"time() - max({P['last_event_timestamp_seconds'].sample})",
                   "newest event time", "B")])]),
        ("Lag and dead letters", [
            _graph("Consumer lag (messages)", [_q(
                SIGNALS["consumer_lag"].expr, "{{topic}}[{{partition}}]")], "count", lag),
            _graph("Dead letters by reason", [_q(
                f"sum by (reason) (increase({P['events_rejected'].sample}{rate}))",
                "{{reason}}")]),
            _graph("Dead letters that could not be sent", [_q(
                f"sum(increase({P['dead_letter_failures'].sample}{rate}))", "failed")])]),
    ])


BOARDS = {"team-overview": team_overview, "rep-drilldown": rep_drilldown,
          "pipeline-health": pipeline_health}


def panel_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) of every query of a board, rows included."""
    out, stack = [], list(board["panels"])
    while stack:
        panel = stack.pop(0)
        stack.extend(panel.get("panels", []))
        out += [(panel["title"], t["expr"]) for t in panel.get("targets", [])]
    return out


def render_grafana(prometheus_url: str = "http://prometheus:9090") -> dict[str, str]:
    files = {f"{DASHBOARDS_DIR}/{name}.json":
             json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
             for name, build in BOARDS.items()}
    files["grafana/provisioning/datasources/prometheus.yml"] = yamltext.dump({
        "apiVersion": 1,
        "datasources": [{"name": "Prometheus", "uid": DATASOURCE_UID, "type": "prometheus",
                         "access": "proxy", "url": prometheus_url, "isDefault": True,
                         "editable": False, "jsonData": {"timeInterval": "15s"}}]})
    files["grafana/provisioning/dashboards/salespulse.yml"] = yamltext.dump({
        "apiVersion": 1,
        "providers": [{"name": "salespulse", "folder": "Salespulse", "type": "file",
                       "disableDeletion": True, "allowUiUpdates": False,
                       "options": {"path": "/etc/grafana/dashboards"}}]})
    return files
