"""Hotkey bindings as written in the config: their grammar and checks.

Binding strings use pynput's syntax, ``<super>+<alt>+a``: modifiers and named keys in angle
brackets, one plain character or named key last. They are checked here, without importing pynput
(its import fails without a display), so a config file can be checked anywhere; the listener
itself is in integrations/hotkeys.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from readaloud.errors import ConfigError

#: What a hotkey can ask for. ``pause_resume`` toggles; ``resume_reading`` goes on with the last
#: document where its reading stopped.
ACTIONS = ("read_selection", "read_clipboard", "stop", "pause_resume", "resume_reading")

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
    # B for book (KDE Plasma has Meta+Alt+R, for screen recording).
    "resume_reading": "<super>+<alt>+b",
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
