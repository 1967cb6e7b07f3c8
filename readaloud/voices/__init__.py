"""Piper voices from the Piper voices repository: the catalogue, download and removal."""
