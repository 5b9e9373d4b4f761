"""Development tools, never imported by the worker: a local Kafka broker, realistic
generated traffic, a producer for files and the demo."""
