"""Reading the selection and the clipboard from real owners on a real X server and compositor."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from support.xserver import WaylandServer, XServer

from readaloud.integrations.desktop_text import (
    ClipboardEmpty,
    ClipboardToolMissing,
    NoDisplay,
    NothingSelected,
    NotText,
    SelectionTimeout,
    read_clipboard,
    read_selection,
)

SAMPLES = {
    "ascii": "Hello, world. This is readaloud.",
    "accents": "Ça va? Élève, naïve, Größe, ñandú.",
    "cjk": "日本語の文章です。中文句子。한국어 문장.",
    "emoji": "Good morning 🌅 and thanks 🙏🏽!",
    "rtl": "שלום עולם. مرحبا بالعالم.",
    "multiline": "First line.\nSecond line,\n\n  indented third\tline.\n",
}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"


def tool_dir(tmp_path: Path, *tools: str) -> str:
    """A PATH with only these tools (links to the real ones), to take the others away."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in tools:
        real = shutil.which(tool)
        assert real, f"{tool} is not installed"
        (folder / tool).symlink_to(real)
    return str(folder)


# -- X11 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_selection_reads_back_exactly(display: XServer, name: str) -> None:
    with display.own_selection("primary", SAMPLES[name]):
        assert read_selection() == SAMPLES[name]


@pytest.mark.parametrize("name", ["accents", "cjk", "multiline"])
def test_clipboard_reads_back_exactly(display: XServer, name: str) -> None:
    with display.own_selection("clipboard", SAMPLES[name]):
        assert read_clipboard() == SAMPLES[name]


def test_selection_and_clipboard_are_told_apart(display: XServer) -> None:
    with (
        display.own_selection("primary", "highlighted words"),
        display.own_selection("clipboard", "copied words"),
    ):
        assert read_selection() == "highlighted words"
        assert read_clipboard() == "copied words"


def test_no_owner_is_nothing_selected(display: XServer) -> None:
    with pytest.raises(NothingSelected) as caught:
        read_selection()
    assert caught.value.spoken == "Nothing is selected."
    with pytest.raises(ClipboardEmpty) as empty:
        read_clipboard()
    assert empty.value.spoken == "The clipboard is empty."


def test_owner_gone_is_nothing_selected(display: XServer) -> None:
    owner = display.own_selection("primary", "short-lived")
    assert read_selection() == "short-lived"
    owner.close()
    # The X server drops the ownership when the owner disconnects.
    deadline = time.monotonic() + 2
    while True:
        try:
            read_selection()
        except NothingSelected:
            break
        assert time.monotonic() < deadline, "the selection outlived its owner"
        time.sleep(0.02)


def test_whitespace_only_is_nothing_selected(display: XServer) -> None:
    with display.own_selection("primary", " \n\t "), pytest.raises(NothingSelected):
        read_selection()


def test_image_on_clipboard_is_not_text(display: XServer) -> None:
    with (
        display.own_selection("clipboard", PNG, target="image/png"),
        pytest.raises(NotText) as caught,
    ):
        read_clipboard()
    assert "image" in str(caught.value)
    assert caught.value.spoken == "The clipboard holds an image, not text."


def test_binary_data_offered_as_text_is_not_text(display: XServer) -> None:
    with (
        display.own_selection("clipboard", PNG, target="UTF8_STRING"),
        pytest.raises(NotText) as caught,
    ):
        read_clipboard()
    assert "PNG" in str(caught.value)


def test_xsel_is_used_without_xclip(display: XServer, tmp_path: Path) -> None:
    path = tool_dir(tmp_path, "xsel")
    env = {**os.environ, "PATH": path}
    with display.own_selection("primary", SAMPLES["cjk"]):
        assert read_selection(env=env) == SAMPLES["cjk"]
    with pytest.raises(ClipboardEmpty):
        read_clipboard(env=env)


def test_no_tool_names_the_package(display: XServer, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": tool_dir(tmp_path)}
    with pytest.raises(ClipboardToolMissing) as caught:
        read_selection(env=env)
    assert caught.value.package == "xclip"
    assert "apt-get install xclip" in str(caught.value)


def test_no_display_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(NoDisplay) as caught:
        read_selection()
    assert caught.value.spoken == "No desktop session: cannot read the selection."
    assert caught.value.exit_code != 0


@pytest.mark.parametrize("tool", ["xclip", "xsel"])
def test_dead_display_is_no_display_not_empty(tmp_path: Path, tool: str) -> None:
    server = XServer(screen="320x240x24")
    server.start()
    display = server.display
    server.stop()
    env = {**os.environ, "DISPLAY": display, "PATH": tool_dir(tmp_path, tool)}
    env.pop("WAYLAND_DISPLAY", None)
    with pytest.raises(NoDisplay) as caught:
        read_clipboard(env=env)
    assert display in str(caught.value)


def test_frozen_owner_times_out(display: XServer) -> None:
    with display.own_selection("primary", "never delivered") as owner:
        owner.freeze()
        started = time.monotonic()
        with pytest.raises(SelectionTimeout):
            read_selection(timeout=0.5)
        assert time.monotonic() - started < 2.0
        owner.thaw()


# -- Wayland --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["accents", "emoji", "rtl", "multiline"])
def test_wayland_clipboard_reads_back_exactly(wayland: WaylandServer, name: str) -> None:
    with wayland.own_selection("clipboard", SAMPLES[name]):
        assert read_clipboard(env=wayland.client_env()) == SAMPLES[name]


def test_wayland_primary_selection(wayland: WaylandServer) -> None:
    env = wayland.client_env()
    with wayland.own_selection("primary", SAMPLES["cjk"]):
        assert read_selection(env=env) == SAMPLES["cjk"]


def test_wayland_empty_and_image(wayland: WaylandServer) -> None:
    env = wayland.client_env()
    with pytest.raises(NothingSelected):
        read_selection(env=env)
    with (
        wayland.own_selection("clipboard", PNG, mime="image/png"),
        pytest.raises(NotText) as caught,
    ):
        read_clipboard(env=env)
    assert caught.value.spoken == "The clipboard holds an image, not text."


def test_wayland_dead_compositor_is_no_display(wayland: WaylandServer) -> None:
    env = wayland.client_env(WAYLAND_DISPLAY="wayland-gone")
    with pytest.raises(NoDisplay):
        read_clipboard(env=env)


def test_wayland_without_wl_paste_names_wl_clipboard(
    wayland: WaylandServer, tmp_path: Path
) -> None:
    env = wayland.client_env(PATH=tool_dir(tmp_path, "xclip"))
    with pytest.raises(ClipboardToolMissing) as caught:
        read_clipboard(env=env)
    assert caught.value.package == "wl-clipboard"
