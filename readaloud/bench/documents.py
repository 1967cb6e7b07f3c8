"""The document figures of ``readaloud bench``, on a long two-column PDF typeset by groff:

* extraction: pages per second laid out and cleaned, and the time to open the file and make the
  first page's text (what a reading waits for);
* first sound of the document through the daemon (the daemon opens it) against its first
  sentence sent as text, in the same run (the difference is what opening the book costs);
* Tesseract: seconds to recognise one 300 dpi page;
* export: the real-time factor of ``readaloud export`` with one worker (this process, all cores
  to onnxruntime), with one worker process (one thread) and with two, on the same text.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from readaloud.bench.harness import DaemonProcess, Events
from readaloud.bench.measure import FIRST_SAMPLE, Recorder, first_above, summary
from readaloud.documents import ocr
from readaloud.documents.opener import open_document
from readaloud.documents.reading import Reading
from readaloud.speech.events import UtteranceTiming

#: Each run opens a book with a sentence of its own, so no cache answers for either way.
FIRST_SENTENCES = (
    "The harbour lay quiet under a low grey sky while the boats waited for the tide.",
    "Rain drummed on the tin roof of the net shed as the keeper mended the old lines.",
    "Before dawn the ferry sounded twice, and the gulls rose from the long stone pier.",
    "Nobody in the village remembered a winter as mild as the one after the great storm.",
    "Her grandfather kept a ledger of every ship that passed the point in fifty years.",
    "At low water the sandbar showed its ribs, dark and shining, all the way to the rock.",
)
_WORDS = [
    "the",
    "keeper",
    "walked",
    "along",
    "the",
    "shore",
    "remembering",
    "storms",
    "while",
    "seabirds",
    "circled",
    "above",
    "quiet",
    "boats",
    "waiting",
    "for",
    "morning",
    "light",
    "over",
    "grey",
    "water",
    "and",
    "the",
    "lamp",
    "turned",
    "slowly",
]


def book_pdf(folder: Path, pages: int, first: str, name: str = "book") -> Path | None:
    """A PDF of at least ``pages`` pages set by groff in two columns, with a running header
    and page numbers, opening with ``first``; None when groff is not installed."""
    if shutil.which("groff") is None:
        return None
    rng = random.Random(7)
    lines = [".ds LH Harbour Notes", ".ds CF \\\\n%", ".2C", ".PP", first]
    for _ in range(pages * 12):  # a two-column page holds about ten paragraphs of 60 words
        lines.append(".PP")
        for _ in range(4):
            words = [rng.choice(_WORDS) for _ in range(15)]
            lines.append(" ".join(words).capitalize() + ".")
    source = folder / f"{name}.ms"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = folder / f"{name}.pdf"
    with path.open("wb") as out:
        subprocess.run(["groff", "-ms", "-Tpdf", str(source)], stdout=out, check=True)
    return path


def extraction(path: Path, first_sentence: str) -> dict:
    began = time.perf_counter()
    document = open_document(path)
    reading = Reading(document)
    first = reading.next_piece()
    first_ms = (time.perf_counter() - began) * 1000
    pages = document.part_count or 0
    while reading.next_piece() is not None:
        pass
    seconds = time.perf_counter() - began
    reading.close()
    assert first is not None and first.startswith(first_sentence[:20])
    return {
        "pages": pages,
        "open_and_first_page_ms": round(first_ms, 1),
        "pages_per_s": round(pages / seconds, 1),
    }


def ocr_seconds_per_page(path: Path) -> float | None:
    if not ocr.available():
        return None
    import pypdfium2 as pdfium

    from readaloud.documents.pdf import page_png

    pdf = pdfium.PdfDocument(str(path))
    try:
        png = page_png(pdf, 0)  # at 300 dpi, as a scanned page is read
    finally:
        pdf.close()
    began = time.perf_counter()
    ocr.recognise(png)
    return round(time.perf_counter() - began, 2)


def export_speed(folder: Path, sentences: int = 96) -> dict:
    from readaloud.config import Config
    from readaloud.export.job import ExportRequest, export

    rng = random.Random(11)
    paragraphs = [
        " ".join(
            " ".join(rng.choice(_WORDS) for _ in range(14)).capitalize() + "." for _ in range(4)
        )
        for _ in range(sentences // 4)
    ]
    text = folder / "export.md"
    text.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    found: dict[str, Any] = {}
    for name, workers, processes in (
        ("workers_1", 1, False),
        ("one_worker_process", 1, True),
        ("workers_2", 2, True),
    ):
        report = export(
            ExportRequest(
                document=text,
                out=folder / f"{name}.wav",
                workers=workers,
                processes=processes,
            ),
            Config(),
        )
        found[name] = {
            "speech_s": round(report.made_s, 1),
            "made_in_s": round(report.made_wall_s, 2),
            "real_time_factor": round(report.real_time_factor or 0, 4),
        }
    one, process, two = (
        found[n]["made_in_s"] for n in ("workers_1", "one_worker_process", "workers_2")
    )
    found["speed_up_2_vs_1"] = round(one / two, 2) if two else None
    found["speed_up_2_vs_one_process"] = round(process / two, 2) if two else None
    return found


def first_sound(
    daemon: DaemonProcess, recorder: Recorder, books: list[tuple[Path, str]], runs: int
) -> dict:
    """Request → first sample for a book (``file``) and for another book's first sentence as
    text, alternating, so both meet the same machine and neither has been said before."""
    heard: dict[str, list[float]] = {"document_ms": [], "first_sentence_as_text_ms": []}
    events = Events(daemon)
    for run in range(runs * 2):
        as_text = run % 2 == 1
        path, sentence = books[run % len(books)]
        daemon.post("/v1/stop")
        daemon.wait_state("idle", 10)
        time.sleep(0.3)
        body = {"text": sentence} if as_text else {"file": str(path), "from_start": True}
        with recorder.capture() as cap:
            time.sleep(0.1)
            asked = time.time()
            answer = daemon.unix.post("/v1/speak", json=body)
            answer.raise_for_status()
            events.wait_for_event(UtteranceTiming, answer.json()["id"])
            time.sleep(0.6)
            daemon.post("/v1/stop")
        samples = cap.samples()
        index = first_above(
            samples, FIRST_SAMPLE, max(0, round((asked - cap.wall_time_at(0)) * cap.rate))
        )
        if index is not None:
            key = "first_sentence_as_text_ms" if as_text else "document_ms"
            heard[key].append((cap.wall_time_at(index) - asked) * 1000)
    return {key: summary(values) for key, values in heard.items()}


def run(daemon: DaemonProcess, recorder: Recorder, pages: int, runs: int) -> dict:
    runs = min(runs, len(FIRST_SENTENCES) // 2)
    with tempfile.TemporaryDirectory(prefix="readaloud-bench-") as folder:
        books = []
        for n, sentence in enumerate(FIRST_SENTENCES[: runs * 2]):
            path = book_pdf(Path(folder), pages, sentence, f"book{n}")
            if path is None:
                return {"skipped": "groff is not installed (sudo apt install groff)"}
            books.append((path, sentence))
        results: dict = {"extraction": extraction(*books[0])}
        results["first_sound"] = first_sound(daemon, recorder, books, runs)
        results["ocr_s_per_page"] = ocr_seconds_per_page(books[0][0])
        # A short book for a short run (the tests ask for a few pages).
        results["export"] = export_speed(Path(folder), 96 if pages >= 100 else 16)
    document = results["first_sound"]["document_ms"].get("median")
    text = results["first_sound"]["first_sentence_as_text_ms"].get("median")
    results["ratio_vs_text"] = round(document / text, 3) if document and text else None
    return results
