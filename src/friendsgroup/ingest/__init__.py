"""Many events by the same rules: bulk checks, fast writers, import files and the seeds."""
