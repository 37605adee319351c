"""Benchmarks of Gatehouse: `bench/run` (the gateway against a direct call) and
`python -m bench.http_clients` (which HTTP client library relays fastest). See docs/perf.md."""
