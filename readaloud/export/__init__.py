"""Documents turned into audio files: audiobooks with chapter marks (``readaloud export``)."""
