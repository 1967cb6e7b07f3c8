"""``readaloud bench``: time to first sound and stop latency, measured at the sound server."""
