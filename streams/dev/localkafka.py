"""Dev/test Apache Kafka 4.x broker (single-node KRaft) run from Maven-fetched jars, no Docker."""

from __future__ import annotations

import atexit
import base64
import contextlib
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, NoReturn

from streams.dev.kafka_jars import KAFKA_VERSION, LocalKafkaError, ensure_jars

__all__ = ["KAFKA_VERSION", "LocalKafka", "LocalKafkaError", "create_topics", "free_port"]

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
SCRAM = "SCRAM-SHA-256"
# Neither the storage tool's --add-scram nor the JAAS line has escaping we can rely on.
_FORBIDDEN = set(',[]="\\; \n')

# Console appender: the JVM's stdout is the broker log file, which also catches JVM errors.
LOG4J2 = """\
status = error
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
# the config dumps (~2000 lines a start) would bury the lines that explain a failure
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cluster_id() -> str:
    # Kafka's Uuid text form: url-safe base64 of 16 bytes, unpadded, never starting with '-'.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no broker log)"
    return "\n".join(text.splitlines()[-lines:])


class LocalKafka:
    """A single-node KRaft broker+controller on loopback; use as a context manager."""

    def __init__(self, port: int | None = None, data_dir: str | Path | None = None,
                 scram_users: dict[str, str] | None = None, heap: str = "512m") -> None:
        self.scram_users = dict(scram_users or {})
        for name, pw in self.scram_users.items():
            if not name or not pw or _FORBIDDEN & set(name + pw):
                raise ValueError(f"SCRAM user {name!r}: empty, or has one of {_FORBIDDEN}")
        self._port, self._controller_port = port, 0
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="kafka-"))
        self.heap = heap
        # The broker logs in to its own SASL listener, so it needs a credential too.
        self._admin = ("localkafka-admin", secrets.token_hex(16))
        self._proc: subprocess.Popen[bytes] | None = None
        self._libs = Path()

    @property
    def bootstrap(self) -> str:
        if self._port is None:
            raise LocalKafkaError("LocalKafka not started")
        return f"127.0.0.1:{self._port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    def client_config(self, user: str | None = None) -> dict[str, Any]:
        """kafka-python/aiokafka connection kwargs; with SCRAM, as `user` (default: admin)."""
        cfg: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.scram_users:
            name, pw = (user, self.scram_users[user]) if user else self._admin
            cfg.update(security_protocol="SASL_PLAINTEXT", sasl_mechanism=SCRAM,
                       sasl_plain_username=name, sasl_plain_password=pw)
        return cfg

    def start(self) -> LocalKafka:
        if self.running:
            return self
        self._libs = ensure_jars()
        self._port = self._port or free_port()
        self._controller_port = self._controller_port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = self.data_dir / "broker-scram-secret"
        if secret.exists():  # a reused SASL data dir holds the broker's own credential
            self._admin = (self._admin[0], secret.read_text().strip())
        self._write_config()
        if not (self.data_dir / "logs" / "meta.properties").exists():
            self._format()
            if self.scram_users:
                secret.write_text(self._admin[1])
        atexit.register(self.stop)  # never leave an orphan JVM behind a crashed test run
        try:
            self._launch()
        except BaseException:  # incl. Ctrl-C while waiting: the JVM must not outlive us
            self._terminate()
            raise
        return self

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); idempotent; drops a temp data dir."""
        self._terminate()
        atexit.unregister(self.stop)
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would; the data stays for restart()."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        """Stop (if running) and start again on the same ports and data dir."""
        self._terminate()
        self._launch()

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _java(self) -> list[str]:
        # C1-only JIT and serial GC start ~40% faster on a 2-core box; plenty for dev/test.
        return ["java", f"-Xmx{self.heap}", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
                "-cp", f"{self._libs}/*"]

    def _write_config(self) -> None:
        proto = "SASL_PLAINTEXT" if self.scram_users else "PLAINTEXT"
        props = {
            "process.roles": "broker,controller", "node.id": "1",
            # Static voters, read at each start: a reused data dir may get a new port.
            "controller.quorum.voters": f"1@127.0.0.1:{self._controller_port}",
            "listeners": f"CLIENT://127.0.0.1:{self._port},"
                         f"CONTROLLER://127.0.0.1:{self._controller_port}",
            "advertised.listeners": f"CLIENT://127.0.0.1:{self._port}",
            "listener.security.protocol.map": f"CLIENT:{proto},CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER", "inter.broker.listener.name": "CLIENT",
            "log.dirs": str(self.data_dir / "logs"), "num.partitions": "1",
            "offsets.topic.replication.factor": "1", "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1", "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # After kill() the old registration blocks the restarted broker until its
            # session expires (default 9 s); a short one keeps crash tests quick.
            "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500",
            "group.initial.rebalance.delay.ms": "0", "auto.create.topics.enable": "true",
        }
        if self.scram_users:
            name, pw = self._admin
            props["sasl.enabled.mechanisms"] = props["sasl.mechanism.inter.broker.protocol"] = SCRAM
            props["listener.name.client.scram-sha-256.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{name}" password="{pw}";')
        text = "".join(f"{k}={v}\n" for k, v in props.items())
        (self.data_dir / "server.properties").write_text(text)
        (self.data_dir / "log4j2.properties").write_text(LOG4J2)

    def _format(self) -> None:
        cmd = [*self._java(), "kafka.tools.StorageTool", "format", "-t", _cluster_id(),
               "-c", str(self.data_dir / "server.properties")]
        # KRaft keeps SCRAM credentials in the metadata log; format seeds them.
        users = {**self.scram_users, self._admin[0]: self._admin[1]} if self.scram_users else {}
        for name, pw in users.items():
            cmd += ["--add-scram", f"{SCRAM}=[name={name},password={pw}]"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise LocalKafkaError(f"kafka storage format failed:\n{done.stdout}{done.stderr}")

    def _launch(self) -> None:
        print(f"starting Kafka {KAFKA_VERSION} on {self.bootstrap} (log: {self.log_path})...",
              file=sys.stderr, flush=True)
        t0 = time.monotonic()
        with open(self.log_path, "ab") as log:
            # Own session: a terminal's Ctrl-C reaches only us, and we stop the JVM cleanly.
            self._proc = subprocess.Popen(
                [*self._java(), "kafka.Kafka", str(self.data_dir / "server.properties")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        self._wait_ready(t0 + READY_TIMEOUT_S)
        print(f"Kafka ready on {self.bootstrap} in {time.monotonic() - t0:.1f}s",
              file=sys.stderr, flush=True)

    def _wait_ready(self, deadline: float) -> None:
        from kafka import KafkaAdminClient

        error: Exception | None = None
        while time.monotonic() < deadline:
            code = self._proc.poll() if self._proc else -1
            if code is not None:
                self._fail(f"Kafka exited with code {code} during startup")
            try:
                # A bare TCP probe first: cheap, and spares us kafka-python's error logs.
                socket.create_connection(("127.0.0.1", self._port or 0), timeout=1).close()
                admin = KafkaAdminClient(**self.client_config(), request_timeout_ms=5000,
                                         bootstrap_timeout_ms=5000)
                try:
                    admin.list_topics()
                    return
                finally:
                    admin.close()
            except Exception as exc:  # any failure here just means "not up yet"
                error = exc
                time.sleep(0.3)
        self._terminate()
        self._fail(f"Kafka not ready after {READY_TIMEOUT_S:.0f}s (last error: {error!r})")

    def _fail(self, why: str) -> NoReturn:
        raise LocalKafkaError(f"{why}; last lines of {self.log_path}:\n{tail(self.log_path)}")

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def create_topics(bootstrap: str, topics: list[str], partitions: int = 1,
                  config: dict[str, str] | None = None, **client: Any) -> list[str]:
    """Create the topics that do not exist yet, with topic `config` (e.g. a larger
    max.message.bytes); extra kwargs go to the admin client."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **client)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        # Another process may win the race: the topic then exists, which is all we want.
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(t, partitions, 1, topic_configs=config or {})
                                     for t in missing],
                                    wait_for_metadata=True)
        return missing
    finally:
        admin.close()
