"""Keeping run folders tidy and sound: ``prune clean`` (unfinished folders) and ``prune check`` (checksums)."""
