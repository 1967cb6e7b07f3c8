"""Global hotkeys on X11: a key combination anywhere on the desktop becomes an action name.

pynput's ``GlobalHotKeys`` watches the keyboard through the X RECORD extension. It does not grab
the keys: the focused program sees them too, which is why the defaults use Super+Alt, a pair
applications leave alone. Wayland lets no program watch the keyboard; there the desktop's own
custom shortcuts run ``readaloud selection`` and friends instead.

The binding strings and their checks are in keybindings.py.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from readaloud.integrations import DesktopUnavailable
from readaloud.keybindings import validate_bindings

log = logging.getLogger(__name__)

class HotkeysUnavailable(DesktopUnavailable):
    """Global hotkeys cannot work here: Wayland, no X display, or no RECORD extension."""

    spoken = "Hotkeys are not available."


# -- the listener ---------------------------------------------------------------------------


class Hotkeys:
    """Calls ``on_action(action)`` when a bound combination is pressed anywhere on the display.

    ``on_action`` runs on a thread of this object's own, one call at a time, never on pynput's
    listener thread (a slow action there would delay or drop key events). Holding a combination
    down fires once: key repeats within ``repeat_guard_s`` of the last press are ignored.
    """

    def __init__(
        self,
        bindings: Mapping[str, str],
        on_action: Callable[[str], None],
        *,
        repeat_guard_s: float = 0.3,
    ) -> None:
        self.combos = validate_bindings(bindings)
        self.on_action = on_action
        self.repeat_guard_s = repeat_guard_s
        self._stopping = threading.Event()
        self._actions: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._last_press: dict[str, float] = {}
        self._listener: Any = None
        self._dispatcher: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._listener is not None

    def start(self, timeout: float = 5.0) -> None:
        """Start listening; HotkeysUnavailable says why that cannot work here."""
        if self._listener is not None:
            return
        display = _check_session(os.environ)
        if not self.combos:
            log.info("no hotkeys are bound")
            return
        try:
            from pynput import keyboard
        except ImportError as error:
            raise HotkeysUnavailable(f"Global hotkeys cannot start: {error}") from None
        listener = keyboard.GlobalHotKeys(
            {combo: _Press(self, action) for action, combo in self.combos.items()}
        )
        listener.start()
        if not _wait_ready(listener, timeout):
            listener.stop()
            raise HotkeysUnavailable(
                f"Global hotkeys did not start within {timeout:g} s on display {display}."
            )
        self._listener = listener
        # Fresh ones each start: a dispatcher still busy from before must not take these.
        self._actions = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._last_press.clear()
        self._dispatcher = threading.Thread(
            target=self._dispatch,
            args=(self._actions, self._stopping),
            name="readaloud-hotkeys",
            daemon=True,
        )
        self._dispatcher.start()
        log.info("hotkeys: %s", ", ".join(f"{a} = {c}" for a, c in self.combos.items()) or "none")

    def stop(self, timeout: float = 1.0) -> None:
        """Stop listening; returns within about ``timeout`` seconds, even mid-action."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stopping.set()  # actions already queued are dropped, not run
        listener.stop()  # no callback runs after this returns
        # pynput's X thread sleeps until the next key event, even after stop(): send one that
        # no program can act on (a keycode with no symbol), so the thread ends now.
        _nudge(os.environ.get("DISPLAY", ""))
        listener.join(timeout)
        if listener.is_alive():
            log.debug("hotkey listener thread still waiting; it ends at the next key press")
        self._actions.put(None)
        if self._dispatcher is not None:
            self._dispatcher.join(timeout)
            self._dispatcher = None

    def pressed(self, action: str) -> None:
        """On pynput's thread: queue the action, nothing more."""
        now = time.monotonic()
        last = self._last_press.get(action)
        self._last_press[action] = now
        if last is not None and now - last < self.repeat_guard_s:
            return  # key auto-repeat while the combination is held
        self._actions.put(action)

    def _dispatch(self, actions: queue.SimpleQueue[str | None], stopping: threading.Event) -> None:
        while (action := actions.get()) is not None:
            if stopping.is_set():
                break
            try:
                self.on_action(action)
            except Exception:  # one failed action must not end the hotkeys
                log.exception("hotkey action %s failed", action)


class _Press:
    """pynput calls this with no arguments when its combination is complete."""

    def __init__(self, hotkeys: Hotkeys, action: str) -> None:
        self.hotkeys = hotkeys
        self.action = action

    def __call__(self) -> None:
        self.hotkeys.pressed(self.action)


def _check_session(env: Mapping[str, str]) -> str:
    """The X display to use; HotkeysUnavailable says why there is none that works."""
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        raise HotkeysUnavailable(
            "Global hotkeys are not available on Wayland: programs cannot watch the "
            "keyboard there. Bind the readaloud commands (readaloud selection, readaloud "
            "stop, ...) to keys in your desktop's keyboard settings instead; the README "
            "shows how for GNOME and KDE.",
            spoken="Hotkeys do not work on Wayland. Set them in your keyboard settings.",
        )
    display = env.get("DISPLAY", "")
    if not display:
        raise HotkeysUnavailable(
            "Global hotkeys need an X display, and DISPLAY is not set. Start readaloud "
            "inside your desktop session.",
            spoken="No desktop session: hotkeys are off.",
        )
    try:
        import Xlib.display
        import Xlib.error
    except ImportError as error:
        raise HotkeysUnavailable(f"Global hotkeys cannot start: {error}") from None
    try:
        connection = Xlib.display.Display(display)
    except (Xlib.error.DisplayError, OSError) as error:
        raise HotkeysUnavailable(
            f"Cannot connect to the X display {display} ({error}); is the desktop "
            "session still running?",
            spoken="No desktop session: hotkeys are off.",
        ) from None
    try:
        if not connection.has_extension("RECORD"):
            raise HotkeysUnavailable(
                f"The X server on {display} lacks the RECORD extension that global hotkeys "
                "need. Bind the readaloud commands in your desktop's keyboard settings.",
                spoken="Hotkeys are not available on this display.",
            )
    finally:
        connection.close()
    return display


def _wait_ready(listener: Any, timeout: float) -> bool:
    """pynput's wait() has no timeout and never returns if its thread dies first."""
    waiter = threading.Thread(target=listener.wait, daemon=True)
    waiter.start()
    deadline = time.monotonic() + timeout
    while waiter.is_alive() and listener.is_alive() and time.monotonic() < deadline:
        waiter.join(0.02)
    return not waiter.is_alive()


def _nudge(display: str) -> None:
    """Send a key press and release of a keycode that has no symbol (XTEST)."""
    try:
        import Xlib.display
        import Xlib.X
        from Xlib.ext import xtest

        connection = Xlib.display.Display(display or None)
    except Exception as error:
        log.debug("cannot wake the hotkey listener: %s", error)
        return
    try:
        first = connection.display.info.min_keycode
        count = connection.display.info.max_keycode - first + 1
        mapping = connection.get_keyboard_mapping(first, count)
        unused = [first + i for i, symbols in enumerate(mapping) if not any(symbols)]
        if unused and connection.has_extension("XTEST"):
            xtest.fake_input(connection, Xlib.X.KeyPress, unused[-1])
            xtest.fake_input(connection, Xlib.X.KeyRelease, unused[-1])
            connection.sync()
    except Exception as error:
        log.debug("cannot wake the hotkey listener: %s", error)
    finally:
        connection.close()
