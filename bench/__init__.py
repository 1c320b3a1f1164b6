"""``make bench``: the performance figures, each against a floor from the same run."""
