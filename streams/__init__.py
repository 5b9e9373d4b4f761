"""salespulse: real-time sales KPIs from Kafka events."""
