"""Integration tests run against the real local Kafka broker (fixture in tests/conftest.py)."""
