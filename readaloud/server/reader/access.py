"""Who may open the reader page: a one-time link, then a cookie.

``readaloud reader`` asks the daemon (over the user's socket) for a link holding a one-time
code. Opening it trades the code for a session cookie (HttpOnly, SameSite=Strict, path
/reader) and redirects to the bare page, so no secret stays in the address bar or the history.
A code works once and only for a short while; a forged or used one is refused. Web pages
cannot use the cookie: SameSite=Strict keeps it off their requests, and the daemon refuses
their Origin.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict

#: How long a link may wait to be opened.
LINK_TTL_S = 120.0
#: Open reader tabs kept at once, and links not yet opened (the oldest go first).
MAX_SESSIONS = 32
MAX_CODES = 16
COOKIE = "readaloud_reader"


class ReaderAccess:
    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, float] = {}  # code -> when it expires
        self._sessions: OrderedDict[str, None] = OrderedDict()

    def new_code(self) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            now = self._clock()
            live = [(c, t) for c, t in self._codes.items() if t > now][-(MAX_CODES - 1) :]
            self._codes = dict(live)
            self._codes[code] = now + LINK_TTL_S
        return code

    def redeem(self, code: str) -> str | None:
        """A new session for a valid code (which is then spent); None for any other."""
        with self._lock:
            now = self._clock()
            found = next((c for c in self._codes if hmac.compare_digest(c, code)), None)
            if found is None:
                return None
            expires = self._codes.pop(found)
            if expires <= now:
                return None
            session = secrets.token_urlsafe(32)
            self._sessions[session] = None
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
            return session

    def valid(self, session: str | None) -> bool:
        if not session:
            return False
        with self._lock:
            return any(hmac.compare_digest(s, session) for s in self._sessions)
