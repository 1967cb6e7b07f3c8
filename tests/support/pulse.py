"""The test session's sound server: a real PulseAudio with a null sink, and recordings of it.

The code lives in the package (``readaloud bench`` measures with it too).
"""

from readaloud.bench.soundserver import SINK, Capture, PulseServer

__all__ = ["SINK", "Capture", "PulseServer"]
