"""Pure window arithmetic on integer microseconds: which buckets a window covers."""

from __future__ import annotations

from streams.catalog import Window

US = 1_000_000
MINUTE_US = 60 * US
HOUR_US = 3600 * US


def step_us(window: Window) -> int:
    return window.step * US


def window_start(window: Window, as_of_us: int) -> int:
    """First instant of `window` read as of T: floor(T to the step) + step - length."""
    step = step_us(window)
    return as_of_us // step * step + step - window.seconds * US


def start_bucket(window: Window, as_of_us: int) -> int:
    """Index (in units of the window's step) of the window's first bucket."""
    return window_start(window, as_of_us) // step_us(window)


def covers(window: Window, as_of_us: int, ts: int) -> bool:
    """True when an event at `ts` counts in `window` read as of T."""
    return window_start(window, as_of_us) <= ts < as_of_us
