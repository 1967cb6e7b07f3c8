"""Work started on several threads at once, waited for."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_once(work: Callable[[int], None], count: int, timeout: float = 60.0) -> None:
    """``work(0)`` … ``work(count - 1)``, each on its own thread, all started before any is
    waited for."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
