"""The benchmark harness of issue 8 (`make bench`): see bench/__main__.py and docs/benchmarks.md."""
