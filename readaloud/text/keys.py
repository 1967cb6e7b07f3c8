"""Words for what speechd's CHAR and KEY messages name: ``shift_a`` → "shift a".

KEY names follow SSIP ("kp-enter", "control_alt_delete": modifiers joined by "_"); some clients
send X keysym names instead ("Return", "Shift_L", "Page_Up"), so both are understood. The words
are English: key names are, and the fast voice says them as words, not as spelling.
"""

from __future__ import annotations

import re
import string
import unicodedata

from readaloud.text.symbols import symbol_name

#: SSIP symbolic key names and common X keysyms (lower case) → words.
KEY_WORDS = {
    # SSIP special and auxiliary keys
    "space": "space",
    "underscore": "underscore",
    "double-quote": "double quote",
    "alt": "alt",
    "control": "control",
    "hyper": "hyper",
    "meta": "meta",
    "shift": "shift",
    "super": "super",
    # SSIP control character keys
    "backspace": "backspace",
    "break": "break",
    "delete": "delete",
    "down": "down",
    "end": "end",
    "enter": "enter",
    "escape": "escape",
    "home": "home",
    "insert": "insert",
    "kp-*": "keypad times",
    "kp-+": "keypad plus",
    "kp--": "keypad minus",
    "kp-.": "keypad dot",
    "kp-/": "keypad slash",
    "kp-enter": "keypad enter",
    "left": "left",
    "menu": "menu",
    "next": "page down",
    "num-lock": "num lock",
    "pause": "pause",
    "print": "print screen",
    "prior": "page up",
    "return": "return",
    "right": "right",
    "scroll-lock": "scroll lock",
    "tab": "tab",
    "up": "up",
    "window": "windows key",
    # X keysyms (as Orca and xdotool name keys)
    "shift_l": "left shift",
    "shift_r": "right shift",
    "control_l": "left control",
    "control_r": "right control",
    "alt_l": "left alt",
    "alt_r": "right alt",
    "super_l": "left super",
    "super_r": "right super",
    "meta_l": "left meta",
    "meta_r": "right meta",
    "iso_level3_shift": "alt graph",
    "caps_lock": "caps lock",
    "num_lock": "num lock",
    "scroll_lock": "scroll lock",
    "page_up": "page up",
    "page_down": "page down",
    "iso_left_tab": "left tab",
    "kp_enter": "keypad enter",
    "kp_add": "keypad plus",
    "kp_subtract": "keypad minus",
    "kp_multiply": "keypad times",
    "kp_divide": "keypad slash",
    "kp_decimal": "keypad dot",
    "kp_delete": "keypad delete",
    "kp_insert": "keypad insert",
    "kp_home": "keypad home",
    "kp_end": "keypad end",
    "kp_up": "keypad up",
    "kp_down": "keypad down",
    "kp_left": "keypad left",
    "kp_right": "keypad right",
    "kp_page_up": "keypad page up",
    "kp_page_down": "keypad page down",
    "kp_begin": "keypad five",
    "sys_req": "system request",
    "multi_key": "compose",
}

#: Characters a voice would skip or misread alone.
CHAR_WORDS = {
    " ": "space",
    "\t": "tab",
    "\n": "new line",
    ".": "dot",
    ",": "comma",
    ";": "semicolon",
    ":": "colon",
    "!": "exclamation mark",
    "?": "question mark",
    "'": "apostrophe",
    '"': "quote",
    "`": "backtick",
    "-": "dash",
    "_": "underscore",
    "(": "left paren",
    ")": "right paren",
    "[": "left bracket",
    "]": "right bracket",
    "{": "left brace",
    "}": "right brace",
    "<": "less than",
    ">": "greater than",
    "/": "slash",
    "\\": "backslash",
    "|": "bar",
    "@": "at",
    "#": "number sign",
    "$": "dollar",
    "%": "percent",
    "^": "caret",
    "&": "and",
    "*": "star",
    "+": "plus",
    "=": "equals",
    "~": "tilde",
}


def echo_texts() -> list[str]:
    """What a screen reader's key echo says most: letters (small, then capital), digits,
    symbol names, key names; each once."""
    chars = [char_words(c) for c in string.ascii_letters + string.digits]
    names = [*CHAR_WORDS.values(), *KEY_WORDS.values()]
    return list(dict.fromkeys(chars + names))


def char_words(char: str, *, capitals: str = "none", language: str | None = None) -> str:
    """What to say for one typed character. ``capitals`` is speechd's cap_let_recogn.

    Letters and digits are said as they are; any other character by its name: ours in English,
    else speechd's for ``language`` (``symbols.py``), else its Unicode name, so no key is silent.
    """
    if char == "space" or char == "":
        return "space"
    if len(char) != 1:
        return char  # speechd already turned it into a name ("dot") for this language
    english = language is None or language.lower().startswith("en")
    if english and char in CHAR_WORDS:
        return CHAR_WORDS[char]
    if char.isalpha():
        return f"capital {char}" if capitals == "spell" and char.isupper() else char
    if char.isdecimal():
        return char
    name = symbol_name(char, language) or CHAR_WORDS.get(char)
    if name:
        return name
    unicode_name = unicodedata.name(char, "")
    return unicode_name.lower() if unicode_name else f"character {ord(char):x}"


def key_words(name: str, language: str | None = None) -> str:
    """What to say for a KEY message: its modifiers, then the key, as words."""
    name = name.strip()
    if not name:
        return "space"
    whole = KEY_WORDS.get(name.lower())
    if whole is not None:
        return whole
    if len(name) == 1:
        return char_words(name, language=language)
    if re.fullmatch(r"(?i)kp[-_][0-9a-z]+", name):
        return _single_key(name, language)
    *modifiers, key = name.split("_")
    if not key:  # "shift__" is shift + underscore
        key = "_"
    words = [KEY_WORDS.get(part.lower(), part) for part in modifiers if part]
    words.append(_single_key(key, language))
    return " ".join(words)


def _single_key(key: str, language: str | None) -> str:
    lowered = key.lower()
    if lowered in KEY_WORDS:
        return KEY_WORDS[lowered]
    if len(key) == 1:
        return char_words(key, language=language)
    if lowered[:3] in ("kp-", "kp_"):
        return f"keypad {lowered[3:].replace('_', ' ')}"
    if lowered[:1] == "f" and lowered[1:].isdigit():
        return f"F {lowered[1:]}"
    return key.replace("-", " ")
