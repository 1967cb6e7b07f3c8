"""Sound output: the ``Player`` (``readaloud.audio.player``) and resampling to the stream rate.

Nothing is imported here on purpose: ``import sounddevice`` initialises PortAudio (and fails
without libportaudio2), which code that only writes audio files must not pay for.
"""
