"""Global hotkeys: real key presses (xdotool, through the X server) reach the action callback."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import pytest
from support.xserver import XServer

from readaloud.errors import ConfigError
from readaloud.integrations.hotkeys import Hotkeys, HotkeysUnavailable
from readaloud.keybindings import (
    ACTIONS,
    DEFAULT_BINDINGS,
    binding_problem,
    normalize_binding,
    validate_bindings,
)

#: What xdotool types for each default binding.
PRESS = {
    "read_selection": "super+alt+a",
    "read_clipboard": "super+alt+c",
    "stop": "super+alt+x",
    "pause_resume": "super+alt+space",
    "resume_reading": "super+alt+b",
}


class Recorder:
    """The on_action callback: records (action, time, thread) and can be made slow."""

    def __init__(self) -> None:
        self.calls: queue.SimpleQueue[tuple[str, float, str]] = queue.SimpleQueue()
        self.delay = 0.0

    def __call__(self, action: str) -> None:
        self.calls.put((action, time.monotonic(), threading.current_thread().name))
        time.sleep(self.delay)

    def next(self, timeout: float = 2.0) -> tuple[str, float, str]:
        return self.calls.get(timeout=timeout)

    def none_within(self, seconds: float) -> bool:
        try:
            self.calls.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def hotkeys(display: XServer) -> Iterator[tuple[Hotkeys, Recorder]]:
    recorder = Recorder()
    keys = Hotkeys(DEFAULT_BINDINGS, recorder)
    keys.start()
    try:
        yield keys, recorder
    finally:
        keys.stop()


def test_each_default_hotkey_fires_its_action(
    display: XServer, hotkeys: tuple[Hotkeys, Recorder]
) -> None:
    _, recorder = hotkeys
    for action in ACTIONS:
        pressed = time.monotonic()
        display.key(PRESS[action])
        got, when, thread = recorder.next()
        assert got == action
        assert when - pressed < 1.0
        assert thread == "readaloud-hotkeys"  # not pynput's listener thread


def test_unbound_keys_do_nothing(display: XServer, hotkeys: tuple[Hotkeys, Recorder]) -> None:
    _, recorder = hotkeys
    display.key("super+alt+j", "ctrl+alt+a", "a", "super+a", "alt+x")
    assert recorder.none_within(0.4)


def test_a_slow_action_does_not_lose_the_next_press(
    display: XServer, hotkeys: tuple[Hotkeys, Recorder]
) -> None:
    _, recorder = hotkeys
    recorder.delay = 0.5  # e.g. reading a selection from a slow program
    display.key(PRESS["read_selection"])
    display.key(PRESS["stop"])
    assert recorder.next()[0] == "read_selection"
    assert recorder.next()[0] == "stop"


def test_holding_a_combination_fires_once(
    display: XServer, hotkeys: tuple[Hotkeys, Recorder]
) -> None:
    _, recorder = hotkeys
    # Key auto-repeat sends the last key again and again while the combination is held.
    display.key("--repeat", "5", "--delay", "30", PRESS["pause_resume"])
    assert recorder.next()[0] == "pause_resume"
    assert recorder.none_within(0.4)


def test_right_hand_modifiers_work_too(display: XServer, hotkeys: tuple[Hotkeys, Recorder]) -> None:
    _, recorder = hotkeys
    display.key("Super_R+Alt_R+x")
    assert recorder.next()[0] == "stop"


def pynput_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if type(t).__module__.startswith("pynput")]


def test_stop_is_quick_and_final(display: XServer) -> None:
    recorder = Recorder()
    keys = Hotkeys(DEFAULT_BINDINGS, recorder)
    keys.start()
    display.key(PRESS["stop"])
    assert recorder.next()[0] == "stop"
    threads = [
        *pynput_threads(),
        *(t for t in threading.enumerate() if t.name == "readaloud-hotkeys"),
    ]
    started = time.monotonic()
    keys.stop()
    assert time.monotonic() - started < 1.0
    display.key(PRESS["stop"])
    assert recorder.none_within(0.3)
    assert len(threads) >= 2 and not any(t.is_alive() for t in threads)


def test_stop_without_any_key_press_is_quick(display: XServer) -> None:
    # pynput's X thread sleeps until the next key event even after stop.
    keys = Hotkeys(DEFAULT_BINDINGS, Recorder())
    keys.start()
    listeners = pynput_threads()
    assert listeners
    started = time.monotonic()
    keys.stop()
    assert time.monotonic() - started < 1.0
    assert not any(t.is_alive() for t in listeners)


def test_start_again_after_stop(display: XServer) -> None:
    recorder = Recorder()
    keys = Hotkeys(DEFAULT_BINDINGS, recorder)
    for _ in range(2):
        keys.start()
        try:
            display.key(PRESS["stop"])
            assert recorder.next()[0] == "stop"
        finally:
            keys.stop()
    assert recorder.none_within(0.1)


def test_custom_bindings(display: XServer) -> None:
    recorder = Recorder()
    keys = Hotkeys({"stop": "<ctrl>+<shift>+<f12>", "read_selection": ""}, recorder)
    keys.start()
    try:
        display.key("ctrl+shift+F12")
        assert recorder.next()[0] == "stop"
        display.key(PRESS["read_selection"])  # not bound any more
        assert recorder.none_within(0.3)
    finally:
        keys.stop()


def test_wayland_is_reported_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    with pytest.raises(HotkeysUnavailable) as caught:
        Hotkeys(DEFAULT_BINDINGS, Recorder()).start()
    assert "Wayland" in str(caught.value)
    assert "keyboard settings" in caught.value.spoken


def test_no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    with pytest.raises(HotkeysUnavailable, match="DISPLAY is not set"):
        Hotkeys(DEFAULT_BINDINGS, Recorder()).start()


def test_dead_display(monkeypatch: pytest.MonkeyPatch) -> None:
    server = XServer(screen="320x240x24")
    server.start()
    server.stop()
    monkeypatch.setenv("DISPLAY", server.display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    started = time.monotonic()
    with pytest.raises(HotkeysUnavailable, match=server.display):
        Hotkeys(DEFAULT_BINDINGS, Recorder()).start()
    assert time.monotonic() - started < 5


# -- bindings (no display needed) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("<super>+<alt>+a", "<alt>+<cmd>+a"),
        ("<Alt>+<Super>+A", "<alt>+<cmd>+a"),
        ("<ctrl>+<alt>+<space>", "<ctrl>+<alt>+<space>"),
        ("<cmd>+<shift>+r", "<shift>+<cmd>+r"),
        ("<ctrl>++", "<ctrl>++"),
        ("<media_play_pause>", "<media_play_pause>"),
        ("<f15>", "<f15>"),
    ],
)
def test_good_bindings(written: str, normal: str) -> None:
    assert normalize_binding(written) == normal
    assert binding_problem(written) is None


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("a", "fire while typing"),
        ("<shift>+a", "fire while typing"),
        ("<f5>", "fire while typing"),
        ("<ctrl>+<alt>", "no key"),
        ("<ctrl>+a+b", "exactly one key"),
        ("<ctrl>+<hyper>+a", "unknown key <hyper>"),
        ("<ctrl>+<alt>+<escape>", "did you mean <esc>"),
        ("<meta>+<alt>+a", "did you mean <super>"),
        ("<ctrl_l>+a", "write <ctrl>"),
        ("<alt_gr>+e", "changes the character"),
        ("<caps_lock>+r", "lock key"),
        ("<ctrl>+<shift>+1", "Shift changes"),
        ("ctrl+alt+r", "one character"),
        ("<ctrl> + r", "space"),
        ("<ctrl>+<ctrl>+r", "twice"),
        ("", "empty"),
    ],
)
def test_bad_bindings_say_why(written: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        normalize_binding(written)


def test_bad_binding_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        Hotkeys({**DEFAULT_BINDINGS, "stop": "<ctrl>+<alt>+<escape>"}, Recorder())
    message = str(caught.value)
    assert "hotkeys.stop" in message and "<escape>" in message
    assert caught.value.exit_code == 3


def test_unknown_action_and_duplicates_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="hotkeys.speak"):
        validate_bindings({"speak": "<super>+<alt>+s"})
    with pytest.raises(ConfigError, match="hotkeys.stop.*hotkeys.read_selection|both"):
        validate_bindings({"read_selection": "<super>+<alt>+a", "stop": "<alt>+<super>+A"})


def test_empty_binding_turns_an_action_off() -> None:
    assert validate_bindings({"stop": "", "read_clipboard": "<super>+<alt>+c"}) == {
        "read_clipboard": "<alt>+<cmd>+c"
    }
