# salespulse: `make demo` runs the live pipeline, `make test` runs every test.
.PHONY: demo test lint unit setup bench render clean

setup:
	scripts/setup.sh

demo:
	scripts/setup.sh python kafka alerting
	.venv/bin/salespulse demo

lint:
	.venv/bin/ruff check streams tests
	.venv/bin/mypy

render:
	.venv/bin/python -m streams.render

unit: 
	scripts/setup.sh python
	.venv/bin/python -m pytest tests/unit -q

test:
	scripts/setup.sh
	$(MAKE) lint
	.venv/bin/python -m pytest -q

bench:
	scripts/setup.sh python kafka
	.venv/bin/python -m bench

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis
