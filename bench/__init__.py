"""Benchmarks of salespulse against its baselines and peers, all in one run (`python -m bench`)."""
