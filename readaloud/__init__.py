"""readaloud: a read-aloud companion for Linux desktops."""

__version__ = "0.1.0"
