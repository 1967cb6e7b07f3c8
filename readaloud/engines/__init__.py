"""Speech engines behind one protocol (see base.py). Engines never touch the sound card."""
