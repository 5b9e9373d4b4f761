"""Faust and aiokafka, extended: the only modules that touch their internals.

Faust keeps the consumer group, the changelog topic and the web server; these classes
bend it to the worker's delivery design (README "How it works"). Each reaches the
worker through `app.worker` (streams/worker/context.py)."""
