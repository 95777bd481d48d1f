.PHONY: check format setup

# Format check, lint, types and tests, as CI runs them.
check:
	scripts/check

# Rewrite files in place with the project's formatting.
format: setup
	.venv/bin/ruff format src tests bench
	.venv/bin/ruff check --fix src tests bench

setup:
	scripts/setup --dev
