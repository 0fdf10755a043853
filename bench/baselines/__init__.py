"""Bare servers doing the hub's job with nothing else, measured beside the hub in the same run."""
