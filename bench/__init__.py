"""Benchmarks of ai-beats against the original tool's approach: `python -m bench [names...]` from the repo root.

Each benchmark runs in a temporary copy of the workflow (never in the repository's results/), reports
absolute times and the ratios measured in the same run, and checks them against the project's targets.
"""
