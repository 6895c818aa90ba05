"""ai-beats: turn a short YAML config into AI-generated music videos, one Snakemake job per file."""
