"""Benchmarks: `make bench` (`python -m bench.run`, docs/performance.md) and the older
`python -m bench.ingest_webhooks`. Only `bench.run --smoke` is part of the test suite
(tests/test_bench_smoke.py), so the harness cannot rot; no figure is ever asserted."""
