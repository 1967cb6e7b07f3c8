"""Global hotkeys on X11: a key combination anywhere on the desktop becomes an action name.

pynput's ``GlobalHotKeys`` watches the keyboard through the X RECORD extension. It does not grab
the keys: the focused program sees them too, which is why the defaults use Super+Alt, a pair
applications leave alone. Wayland lets no program watch the keyboard; there the desktop's own
custom shortcuts run ``readaloud selection`` and friends instead.

Binding strings use pynput's syntax, ``<super>+<alt>+a``: modifiers and named keys in angle
brackets, one plain character or named key last. They are checked without importing pynput
(its import fails without a display), so a config file can be checked anywhere.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from readaloud.errors import ConfigError
from readaloud.integrations import DesktopUnavailable

log = logging.getLogger(__name__)

#: What a hotkey can ask for. ``pause_resume`` toggles.
ACTIONS = ("read_selection", "read_clipboard", "stop", "pause_resume")

#: Super+Alt+letter: GNOME uses only Super+Alt+S (screen reader on/off), 8, = and - (zoom) and
#: the arrows (workspaces); KDE Plasma uses Meta+Alt+S (screen reader), K and L (keyboard
#: layout), P (panel focus) and R (Spectacle screen recording). Orca's commands use its own
#: modifier (Insert or Caps Lock), NVDA-style layouts likewise; applications do not bind Super.
#: Ctrl+Alt+letter was rejected: the focused program also receives the keys (Emacs C-M-r,
#: IDE shortcuts) and GNOME/KDE own several Ctrl+Alt combinations (T, L, Del, arrows).
#: A, C, X and Space sit under the left hand beside Super and Alt: one hand works them all,
#: and A (home row, "aloud") is easy to find by touch.
DEFAULT_BINDINGS: dict[str, str] = {
    "read_selection": "<super>+<alt>+a",
    "read_clipboard": "<super>+<alt>+c",
    "stop": "<super>+<alt>+x",
    "pause_resume": "<super>+<alt>+<space>",
}

#: Modifier names as written in a binding → pynput's name. Super is pynput's "cmd".
_MODIFIERS = {"ctrl": "ctrl", "alt": "alt", "shift": "shift", "super": "cmd", "cmd": "cmd"}
_MODIFIER_ORDER = ("ctrl", "alt", "shift", "cmd")

#: Named keys pynput knows on X11 that may end a binding.
_NAMED_KEYS = frozenset(
    {
        "backspace", "delete", "down", "end", "enter", "esc", "home", "left", "page_down",
        "page_up", "right", "space", "tab", "up", "insert", "menu", "pause", "print_screen",
        "scroll_lock", "media_play_pause", "media_volume_mute", "media_volume_down",
        "media_volume_up", "media_previous", "media_next",
        *(f"f{n}" for n in range(1, 21)),
    }
)  # fmt: skip
#: Named keys nobody types with, which may be bound without a modifier.
_STANDALONE_KEYS = frozenset(
    {"pause", "print_screen", "scroll_lock", *(k for k in _NAMED_KEYS if k.startswith("media_"))}
    | {f"f{n}" for n in range(13, 21)}
)
#: Names people write for keys pynput calls something else.
_DID_YOU_MEAN = {
    "escape": "esc", "return": "enter", "del": "delete", "ins": "insert", "pgup": "page_up",
    "pgdn": "page_down", "prtsc": "print_screen", "print": "print_screen", "spacebar": "space",
    "control": "ctrl", "win": "super", "windows": "super", "meta": "super", "logo": "super",
    "option": "alt",
}  # fmt: skip
_SIDED = {f"{m}_{side}": m for m in ("ctrl", "alt", "shift", "cmd") for side in ("l", "r")}


class HotkeysUnavailable(DesktopUnavailable):
    """Global hotkeys cannot work here: Wayland, no X display, or no RECORD extension."""

    spoken = "Hotkeys are not available."


# -- bindings -------------------------------------------------------------------------------


def _parts(combo: str) -> list[str]:
    """Split on "+", keeping a final "+" key: "<ctrl>++" → ["<ctrl>", "+"]."""
    parts: list[str] = []
    start = 0
    for index, char in enumerate(combo):
        if char == "+" and index != start:
            parts.append(combo[start:index])
            start = index + 1
    parts.append(combo[start:])
    return parts


def normalize_binding(combo: str) -> str:
    """The binding in pynput's syntax, modifiers in a fixed order; ValueError says what is wrong.

    "<Super>+<Alt>+A" → "<alt>+<cmd>+a" (pynput's order and names).
    """
    text = combo.strip().lower()
    if not text:
        raise ValueError("is empty")
    if " " in text:
        raise ValueError("has a space; write the space bar as <space> and join keys with +")
    modifiers: set[str] = set()
    keys: list[str] = []
    for part in _parts(text):
        if not part:
            raise ValueError("has an empty part (two + in a row, or a + at the end)")
        if part.startswith("<") and part.endswith(">") and len(part) > 2:
            name = part[1:-1]
            if name in _MODIFIERS:
                if _MODIFIERS[name] in modifiers:
                    raise ValueError(f"names {part} twice")
                modifiers.add(_MODIFIERS[name])
            elif name in _SIDED:
                raise ValueError(f"uses {part}; write <{_SIDED[name]}> (either side works)")
            elif name == "alt_gr":
                raise ValueError("uses <alt_gr>, which changes the character a key types")
            elif name in ("caps_lock", "num_lock"):
                raise ValueError(f"uses {part}, a lock key (Orca uses Caps Lock as its modifier)")
            elif name in _NAMED_KEYS or name.isdigit():
                keys.append(f"<{name}>")
            elif name in _DID_YOU_MEAN:
                raise ValueError(
                    f"has an unknown key {part}; did you mean <{_DID_YOU_MEAN[name]}>?"
                )
            else:
                raise ValueError(
                    f"has an unknown key {part}; modifiers are <ctrl>, <alt>, <shift>, <super>, "
                    "and the key is one character or a name such as <space>, <f5>, <esc>"
                )
        elif len(part) == 1 and part.isprintable():
            keys.append(part)
        else:
            raise ValueError(
                f"has {part!r}: write one character (a) or a key name in angle brackets (<f5>)"
            )
    if len(keys) != 1:
        raise ValueError(
            "needs exactly one key besides the modifiers" if keys else "has modifiers but no key"
        )
    key = keys[0]
    bare = modifiers <= {"shift"}
    if bare and key.strip("<>") not in _STANDALONE_KEYS:
        raise ValueError(
            "needs <ctrl>, <alt> or <super> too: without one it would fire while typing"
        )
    if "shift" in modifiers and len(key) == 1 and not key.isalpha():
        raise ValueError(f"combines <shift> with {key!r}; Shift changes what that key types")
    ordered = [f"<{m}>" for m in _MODIFIER_ORDER if m in modifiers]
    return "+".join([*ordered, key])


def binding_problem(combo: str) -> str | None:
    """Why ``combo`` is not a usable binding, or None. "" (no binding) is fine."""
    if combo == "":
        return None
    try:
        normalize_binding(combo)
    except ValueError as error:
        return str(error)
    return None


def validate_bindings(bindings: Mapping[str, str], source: str = "config") -> dict[str, str]:
    """action → normalized binding for every bound action; ConfigError names the bad key.

    An empty string leaves an action without a hotkey.
    """
    combos: dict[str, str] = {}
    seen: dict[str, str] = {}
    for action, combo in bindings.items():
        if action not in ACTIONS:
            raise ConfigError(
                f"{source}: unknown hotkey action 'hotkeys.{action}'; "
                f"the actions are {', '.join(ACTIONS)}."
            )
        if not isinstance(combo, str):
            raise ConfigError(
                f"{source}: 'hotkeys.{action}' must be a string like "
                f"{DEFAULT_BINDINGS[action]!r}, not {combo!r}."
            )
        if combo == "":
            continue
        try:
            normal = normalize_binding(combo)
        except ValueError as error:
            raise ConfigError(
                f"{source}: 'hotkeys.{action}' = {combo!r} {error}. "
                f"Example: {DEFAULT_BINDINGS[action]!r}."
            ) from None
        if normal in seen:
            raise ConfigError(
                f"{source}: 'hotkeys.{action}' and 'hotkeys.{seen[normal]}' are both "
                f"{combo!r}; give each action its own keys."
            )
        seen[normal] = action
        combos[action] = normal
    return combos


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
