"""``prune export``: a manifest of a file-backed data set as a smaller image folder, or a list of its files."""
