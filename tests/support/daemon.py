"""A real ``readaloud daemon`` process and its event stream, for tests.

The code lives in the package (``readaloud bench`` drives a daemon the same way).
"""

from readaloud.bench.harness import DaemonProcess, Events

__all__ = ["DaemonProcess", "Events"]
