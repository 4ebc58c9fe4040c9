"""rusty-genius benchmarks: what the orchestration costs against the tools it wraps.

Run ``uv run --no-sync python -m benchmarks [--quick] [--only NAME ...]``; see
``benchmarks/README.md`` for what each measurement compares and the latest figures.
"""
