"""Helpers shared by the tests: real peers (sound server, CLI) and signal analysis."""
