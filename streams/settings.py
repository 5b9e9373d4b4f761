"""Configuration from the environment (12-factor), with the defaults of the design docs."""

from __future__ import annotations

import os
import re
import socket
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.catalog import MEASURES, WINDOWS, Measure, Window
from streams.catalog.export import export_measures, export_windows
from streams.engine import EngineConfig

TOPIC_DEFAULTS = {"touch": "sales.touches", "reply": "sales.replies", "meeting": "sales.meetings",
                  "deal": "sales.deals", "nps": "sales.nps"}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SettingsError(ValueError):
    """A bad environment setting; the message names the variable and a valid example."""


def parse_duration(text: str) -> int:
    """'90s', '5m', '24h', '30d' or plain seconds -> microseconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise ValueError(f"bad duration {text!r}: write e.g. 90s, 5m, 24h or 30d")
    return round(float(match[1]) * _UNITS[match[2] or "s"] * 1_000_000)


def parse_targets(text: str) -> dict[str, float]:
    """'emea=50000,north=20000' -> {'emea': 50000.0, 'north': 20000.0}."""
    targets: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        team, sep, amount = item.rpartition("=")
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if not sep or not team or value <= 0:
            raise ValueError(f"bad team target {item!r}: write team=amount with amount > 0, "
                             "e.g. emea=50000")
        targets[team] = value
    return targets


def targets_from_env() -> dict[str, float]:
    return parse_targets(os.environ.get("SALESPULSE_TEAM_TARGETS", ""))


@dataclass(frozen=True)
class KafkaSecurity:
    """Client security: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (SCRAM or PLAIN)."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-256"
    username: str = ""
    password: str = field(default="", repr=False)  # never logged
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""

    def ssl_context(self) -> ssl.SSLContext | None:
        if "SSL" not in self.protocol:
            return None
        context = ssl.create_default_context(cafile=self.cafile or None)
        if self.certfile:
            context.load_cert_chain(self.certfile, self.keyfile or None)
        return context


@dataclass(frozen=True)
class Settings:
    """Everything the worker and the producer read from the environment."""

    bootstrap_servers: str = "127.0.0.1:9092"
    app_id: str = "salespulse"
    instance_name: str = field(default_factory=socket.gethostname)  # see group_instance_id
    topics: Mapping[str, str] = field(default_factory=lambda: dict(TOPIC_DEFAULTS))
    dead_letter_topic: str = "sales.deadletter"
    repartition_topic: str = "salespulse-rekeyed"  # messages not keyed by rep_id, re-keyed
    partitions: int = 4
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    commit_interval_s: float = 1.0
    session_timeout_s: float = 10.0  # a worker gone this long loses its partitions
    backlog_commit_interval_s: float = 15.0  # while a backlog drains (see app.py)
    goals_file: str = ""  # the goals file (docs/goals.md); re-read when it changes
    export_windows: tuple[Window, ...] = WINDOWS  # the windows /metrics carries
    export_measures: tuple[Measure, ...] = MEASURES  # and its measures
    max_reps: int = 50_000
    dead_letter_max_bytes: int = 1_000_000  # larger rejected messages are cut (headers say)
    data_dir: str = field(default_factory=lambda: os.path.join(
        tempfile.gettempdir(), "salespulse-data"))
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    engine: EngineConfig = field(default_factory=EngineConfig)

    @property
    def group_instance_id(self) -> str:
        """Static group membership: a restarted worker gets its partitions back at once.
        Unique per worker of a host (its web port), the same after a restart; the port is
        part of it because Faust hands a rejoining member the assignment, web address
        included, its previous incarnation had."""
        return f"{self.instance_name}-{self.web_port}"

    @property
    def event_topics(self) -> frozenset[str]:
        """Every topic of events the worker reads: the typed topics and the re-keyed one,
        all partitioned alike (partition p holds the reps of state partition p)."""
        return frozenset([*self.topics.values(), self.repartition_topic])

    def client_options(self) -> dict[str, Any]:
        """Connection options of every Kafka client (aiokafka and kafka-python take the
        same names): bootstrap servers and security."""
        sec = self.security
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers.split(","),
                                   "security_protocol": sec.protocol}
        if sec.protocol.startswith("SASL"):
            options |= {"sasl_mechanism": sec.sasl_mechanism,
                        "sasl_plain_username": sec.username,
                        "sasl_plain_password": sec.password}
        if "SSL" in sec.protocol:
            options["ssl_context"] = sec.ssl_context()
        return options

    @property
    def broker_urls(self) -> list[str]:
        return [f"kafka://{host.strip()}" for host in self.bootstrap_servers.split(",") if host]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        try:
            return cls._from(env)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None

    @classmethod
    def _from(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        def number(name: str, default: str, kind: type = int) -> float:
            try:
                return kind(get(name, default))  # type: ignore[no-any-return]
            except ValueError:
                raise ValueError(f"{name} must be a number, got {env.get(name)!r}") from None

        def duration(name: str, default: str) -> int:
            try:
                return parse_duration(get(name, default))
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None

        def exported(name: str, select: Callable[[str], tuple[Any, ...]]) -> tuple[Any, ...]:
            try:
                return select(get(name, ""))
            except ValueError as exc:
                raise ValueError(f"{name}={env.get(name)} {exc}") from None

        protocol = get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
        if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL must be PLAINTEXT, SSL, SASL_PLAINTEXT "
                             f"or SASL_SSL, got {protocol!r}")
        security = KafkaSecurity(
            protocol, get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256").upper(),
            get("KAFKA_SASL_USERNAME", ""), env.get("KAFKA_SASL_PASSWORD", ""),
            get("KAFKA_SSL_CAFILE", ""), get("KAFKA_SSL_CERTFILE", ""),
            get("KAFKA_SSL_KEYFILE", ""))
        if protocol.startswith("SASL") and not security.username:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME "
                             "and KAFKA_SASL_PASSWORD")
        engine = EngineConfig(
            lateness_us=duration("SALESPULSE_LATENESS", "30d"),
            dedupe_horizon_us=duration("SALESPULSE_DEDUPE_HORIZON", "24h"),
            max_skew_us=duration("SALESPULSE_MAX_SKEW", "5m"),
            deal_retention_us=duration("SALESPULSE_DEAL_RETENTION", "180d"),
            team_targets=parse_targets(env.get("SALESPULSE_TEAM_TARGETS", "")),
            track_dirty=True)
        topics = {kind: get(f"SALESPULSE_TOPIC_{kind.upper()}", default)
                  for kind, default in TOPIC_DEFAULTS.items()}
        app_id = get("SALESPULSE_APP_ID", "salespulse")
        web_port = int(number("SALESPULSE_WEB_PORT", "6066"))
        return cls(
            bootstrap_servers=get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            app_id=app_id,
            # unique per worker on a host (its port), the same after a restart
            instance_name=get("SALESPULSE_INSTANCE_ID", socket.gethostname()),
            topics=topics,
            dead_letter_topic=get("SALESPULSE_TOPIC_DEADLETTER", "sales.deadletter"),
            repartition_topic=get("SALESPULSE_TOPIC_REKEYED", f"{app_id}-rekeyed"),
            partitions=int(number("SALESPULSE_PARTITIONS", "4")),
            web_host=get("SALESPULSE_WEB_HOST", "127.0.0.1"),
            web_port=web_port,
            commit_interval_s=number("SALESPULSE_COMMIT_INTERVAL", "1.0", float),
            session_timeout_s=number("SALESPULSE_SESSION_TIMEOUT", "10", float),
            backlog_commit_interval_s=number("SALESPULSE_BACKLOG_COMMIT_INTERVAL", "15", float),
            goals_file=get("SALESPULSE_GOALS", ""),
            export_windows=exported("SALESPULSE_EXPORT_WINDOWS", export_windows),
            export_measures=exported("SALESPULSE_EXPORT_MEASURES", export_measures),
            max_reps=int(number("SALESPULSE_MAX_REPS", "50000")),
            dead_letter_max_bytes=int(number("SALESPULSE_DEADLETTER_MAX_BYTES", "1000000")),
            data_dir=get("SALESPULSE_DATA_DIR", os.path.join(tempfile.gettempdir(),
                                                             "salespulse-data")),
            security=security,
            engine=engine,
        )
