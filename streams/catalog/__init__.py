"""The catalog: every window, measure, KPI, team KPI, alert and pipeline metric, defined
once. The engine, the exporter, the recording and alert rules, the Grafana boards, the
promtool tests and the docs are all derived from these tables.

- measures.py: windows and the additive measures per rep
- kpis.py: ratios of measures (per rep and team) and the team-only KPIs
- alerts.py: KPI alerts (a team's manager) and pipeline alerts (ops)
- pipeline.py: the worker's own metrics and the signals pipeline alerts read
"""

from streams.catalog.alerts import ALERTS, PIPELINE_ALERTS, Alert
from streams.catalog.kpis import (
    KPI_BY_NAME,
    KPIS,
    QUOTA_ATTAINMENT,
    REPS_AT_QUOTA,
    TEAM_KPI_BY_NAME,
    TEAM_KPIS,
    UNITS,
    Kpi,
    QuotaKpi,
    Ref,
    RepShareKpi,
    TeamKpi,
    record_name,
    team_kpi_values,
)
from streams.catalog.measures import (
    MEASURE_INDEX,
    MEASURES,
    METRIC_PREFIX,
    MICRO,
    WINDOW_BY_NAME,
    WINDOWS,
    Measure,
    Window,
)
from streams.catalog.pipeline import (
    JOB,
    PIPELINE,
    PIPELINE_METRICS,
    SIGNALS,
    PipelineMetric,
    Signal,
)

__all__ = ["ALERTS", "JOB", "KPIS", "KPI_BY_NAME", "MEASURES", "MEASURE_INDEX", "METRIC_PREFIX",
           "MICRO", "PIPELINE", "PIPELINE_ALERTS", "PIPELINE_METRICS", "QUOTA_ATTAINMENT",
           "REPS_AT_QUOTA", "SIGNALS", "TEAM_KPIS", "TEAM_KPI_BY_NAME", "UNITS", "WINDOWS",
           "WINDOW_BY_NAME", "Alert", "Kpi", "Measure", "PipelineMetric", "QuotaKpi", "Ref",
           "RepShareKpi", "Signal", "TeamKpi", "Window", "record_name", "team_kpi_values"]
