"""The one way tests wait (streams/dev/wait.py, shared with the demo)."""

from streams.dev.wait import until

__all__ = ["until"]
