"""readaloud export as a user runs it: a real EPUB (pandoc) becomes an audiobook with chapter
marks, tags and audiobook loudness; a stopped export goes on without redoing its work."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from support.cli import run_readaloud
from support.documents import AUTHOR, TITLE, book, cover_image, pandoc

BOOK = book(chapters=3, paragraphs=2, sentences=3)
CHAPTERS = [TITLE, *(title for title, _ in BOOK.chapters)]  # the title page, then the chapters


@pytest.fixture(scope="module")
def epub(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("book")
    return pandoc(folder / "book.epub", BOOK, cover=cover_image(folder / "cover.png"))


def has_cover(path: Path) -> bool:
    with av.open(str(path)) as container:
        return any(s.disposition & av.stream.Disposition.attached_pic for s in container.streams)


def decoded(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray().astype(np.float32).reshape(-1) for f in container.decode(stream)]
        return np.concatenate(frames), stream.rate


def chapters_of(path: Path) -> list[tuple[float, str]]:
    with av.open(str(path)) as container:
        return [
            (float(c["start"] * c["time_base"]), c["metadata"]["title"])
            for c in container.chapters()
        ]


def test_an_epub_becomes_an_audiobook_with_chapters_tags_and_loudness(epub, tmp_path) -> None:
    out = tmp_path / "book.m4b"
    result = run_readaloud("export", str(epub), "--out", str(out), "--rate", "2.5", timeout=600)
    assert result.code == 0, result.stderr
    assert f"Wrote {out}" in result.stderr
    marks = chapters_of(out)
    assert [title for _, title in marks] == CHAPTERS
    starts = [start for start, _ in marks]
    assert starts == sorted(starts) and starts[0] == 0
    with av.open(str(out)) as container:
        assert container.metadata["title"] == TITLE
        assert container.metadata["artist"] == AUTHOR
    assert has_cover(out)  # the EPUB's cover, as the audiobook's picture
    audio, rate = decoded(out)
    seconds = len(audio) / rate
    # 3 chapters of 6 sentences at 2.5 times the normal rate, each chapter's start inside it.
    assert 15 < seconds < 120 and starts[-1] < seconds - 5
    speech = audio[np.abs(audio) > 0.01]
    rms_db = 20 * np.log10(np.sqrt(np.mean(speech.astype(np.float64) ** 2)))
    peak_db = 20 * np.log10(np.max(np.abs(audio)))
    assert -23 <= rms_db <= -18, rms_db  # audiobook practice (ACX): RMS -23 to -18 dB
    assert peak_db < -3.0, peak_db  # and peaks below -3 dB
    assert not list(tmp_path.glob(".*"))  # no work folder or temporary file left behind


def test_chapters_split_into_files_in_every_format(epub, tmp_path) -> None:
    out = tmp_path / "part.mp3"
    result = run_readaloud(
        "export", str(epub), "--out", str(out), "--rate", "3", "--chapters", "2-3",
        "--split-chapters", timeout=600,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    made = sorted(p.name for p in tmp_path.iterdir())
    names = ["-".join(title.split()) for title in CHAPTERS[1:3]]
    assert made == [f"part-02-{names[0]}.mp3", f"part-03-{names[1]}.mp3"], made
    assert has_cover(tmp_path / made[0])
    lengths = []
    for suffix in (".opus", ".ogg", ".flac", ".wav"):
        one = tmp_path / f"one{suffix}"
        result = run_readaloud(
            "export", str(epub), "--out", str(one), "--rate", "3", "--chapters", "3-4",
            timeout=600,
        )  # fmt: skip
        assert result.code == 0, result.stderr
        audio, rate = decoded(one)
        lengths.append(len(audio) / rate)
        marks = [title for _, title in chapters_of(one)]
        # Ogg keeps chapter comments; FLAC and WAV have no chapter marks.
        assert marks == (CHAPTERS[2:4] if suffix in (".opus", ".ogg") else []), (suffix, marks)
    # The same chapters in each format last as long (Piper varies a little from run to run).
    assert max(lengths) - min(lengths) < 0.15 * max(lengths), lengths


def test_a_killed_export_goes_on_without_redoing_its_work(epub, tmp_path) -> None:
    out = tmp_path / "book.m4b"
    work = tmp_path / ".book.m4b.readaloud-work"
    command = [sys.executable, "-m", "readaloud", "export", str(epub), "--out", str(out)]
    command += ["--rate", "3", "--workers", "1"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(work.glob("*.npy"))) < 6:
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    finished = len(list(work.glob("*.npy")))
    assert finished >= 6
    assert not out.exists()  # nothing half-written where the book goes
    again = run_readaloud(*command[3:], timeout=600)
    assert again.code == 0, again.stderr
    assert f"Went on from an earlier export: {finished} sentences were made." in again.stderr
    assert [title for _, title in chapters_of(out)] == CHAPTERS
    assert not work.exists()


def test_bad_exports_say_what_to_do(epub, tmp_path) -> None:
    cases = [
        (["--out", str(tmp_path / "book.xyz")], "Cannot export to book.xyz: give a file ending"),
        (["--out", str(tmp_path / "no" / "book.m4b")], "give a file in a folder that exists"),
        (["--out", str(tmp_path / "b.m4b"), "--chapters", "9"], "the document has chapters 1 to 4"),
        (["--out", str(tmp_path / "b.m4b"), "--chapters", "x"], "give chapter numbers and ranges"),
    ]
    for extra, says in cases:
        result = run_readaloud("export", str(epub), *extra)
        assert result.code == 2, (extra, result)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0], (extra, lines)
    assert list(tmp_path.iterdir()) == []
