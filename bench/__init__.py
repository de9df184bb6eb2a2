"""``make bench``: our handler against the raw library and the naive script."""
