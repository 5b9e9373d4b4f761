"""The event contract: one table of fields (contract.FIELDS) from which the fast decoder
(decode.py), the explaining validator (explain.py), the reasons doc and the producers'
docs are derived; the Event record is held to it by a test."""

from streams.events.contract import (
    ALL,
    CHANNELS,
    CONNECT_ENVELOPE,
    DEFAULT_MAX_SKEW_US,
    FIELD,
    FIELDS,
    MAX_AMOUNT,
    MAX_ID_CHARS,
    MAX_MESSAGE_BYTES,
    REASONS,
    RECORD_REASONS,
    STORED,
    TYPES,
    Event,
    Field,
    Rejected,
    format_timestamp,
    parse_timestamp,
)
from streams.events.decode import parse_event

__all__ = ["ALL", "CHANNELS", "CONNECT_ENVELOPE", "DEFAULT_MAX_SKEW_US", "FIELD", "FIELDS",
           "MAX_AMOUNT", "MAX_ID_CHARS", "MAX_MESSAGE_BYTES", "REASONS", "RECORD_REASONS",
           "STORED", "TYPES", "Event", "Field", "Rejected", "format_timestamp",
           "parse_event", "parse_timestamp"]
