"""Speech Dispatcher output module: Orca, Firefox, Chrome and spd-say speak with readaloud.

speechd starts ``sd_readaloud`` and talks to it over stdin/stdout (the output-module protocol,
``protocol.py``); the module hands each message to the readaloud daemon (``backends.py``) and
turns the daemon's events back into speechd's BEGIN / INDEX MARK / END / STOP events
(``module.py``, ``marks.py``). ``install.py`` registers the module in the user's speechd config.
"""
