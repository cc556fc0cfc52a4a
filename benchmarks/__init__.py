"""Benchmarks: each module here has a `main()` printing its figures; `python -m benchmarks` runs
them all. Figures are reported next to a baseline measured in the same run."""
