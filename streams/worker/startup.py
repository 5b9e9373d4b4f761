"""A quiet start: wait for Kafka with one line instead of a crash and a traceback, and
keep Faust's terminal spinner (cursor escape codes, in log files too) off the screen."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

import faust
from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from streams.settings import Settings

RETRY_S = 2.0
REMIND_S = 30.0


class QuietWorker(faust.Worker):
    """Faust's worker without the spinner it draws on stderr for every log record."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)


class CoordinatorNotReadyYet(logging.Filter):
    """A broker that just started answers before its group coordinator is loaded; the
    client retries on its own, so these errors say nothing a person must act on."""

    TRANSIENT = ("GroupCoordinatorNotAvailable", "CoordinatorNotAvailable",
                 "NotCoordinator", "CoordinatorLoadInProgress")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(word in record.getMessage() for word in self.TRANSIENT)


async def _answers(settings: Settings) -> bool:
    sec = settings.security
    client = AIOKafkaClient(bootstrap_servers=settings.bootstrap_servers,
                            request_timeout_ms=10_000, security_protocol=sec.protocol,
                            ssl_context=sec.ssl_context(), sasl_mechanism=sec.sasl_mechanism,
                            sasl_plain_username=sec.username, sasl_plain_password=sec.password)
    try:
        await client.bootstrap()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        await client.close()


def wait_for_kafka(settings: Settings, say: Any = print) -> None:
    """Return once a bootstrap server answers; one line while it does not, a reminder
    every half minute."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # its own connect errors
    try:
        started = reminded = time.monotonic()
        first = True
        while not asyncio.run(_answers(settings)):
            now = time.monotonic()
            if first or now - reminded >= REMIND_S:
                say(f"waiting for Kafka at {settings.bootstrap_servers} "
                    f"({now - started:.0f} s so far; check KAFKA_BOOTSTRAP_SERVERS)")
                first, reminded = False, now
            time.sleep(RETRY_S)
    finally:
        logging.getLogger("aiokafka").setLevel(logging.WARNING)


def quiet_logs() -> None:
    """Only what a person must act on: libraries log per message below WARNING, and the
    coordinator errors of a broker still starting are retried anyway."""
    for noisy in ("aiokafka", "faust", "mode"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("aiokafka.consumer.group_coordinator", "aiokafka.conn", "aiokafka"):
        logging.getLogger(name).addFilter(CoordinatorNotReadyYet())


def say_to_stderr(text: str) -> None:
    print(f"salespulse worker: {text}", file=sys.stderr, flush=True)


def login_refused(settings: Any) -> str | None:
    """Log in once (TLS, SASL) so bad credentials are one clear line, in bounded time;
    an unreachable broker is left to the worker, which reports and retries it."""
    import ssl

    from aiokafka.conn import create_conn
    from aiokafka.errors import AuthenticationFailedError, SaslAuthenticationFailed

    sec = settings.security
    if sec.protocol == "PLAINTEXT":
        return None
    host, _, port = settings.bootstrap_servers.split(",")[0].strip().rpartition(":")

    async def login() -> None:
        conn = await create_conn(
            host, int(port), request_timeout_ms=15_000, ssl_context=sec.ssl_context(),
            security_protocol=sec.protocol, sasl_mechanism=sec.sasl_mechanism,
            sasl_plain_username=sec.username, sasl_plain_password=sec.password)
        conn.close()

    try:
        asyncio.run(asyncio.wait_for(login(), 20))
    except (SaslAuthenticationFailed, AuthenticationFailedError) as exc:
        return (f"Kafka at {host}:{port} refused the {sec.sasl_mechanism} login of user "
                f"{sec.username!r} ({type(exc).__name__}): check KAFKA_SASL_USERNAME and "
                "KAFKA_SASL_PASSWORD")
    except ssl.SSLError as exc:
        return (f"TLS with Kafka at {host}:{port} failed ({exc.reason or exc}): check "
                "KAFKA_SSL_CAFILE, KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE")
    except (OSError, TimeoutError, ValueError):
        return None
    return None
