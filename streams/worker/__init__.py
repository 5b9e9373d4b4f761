"""The live worker: Kafka -> pipeline -> engine, state in a changelog, /metrics.

`build_app(settings)` (app.py) makes the Faust app around one context (context.py);
`salespulse worker` runs it."""
