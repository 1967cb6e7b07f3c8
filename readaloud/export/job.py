"""One export from start to finish: plan the chapters, make the sentences not made before (in
parallel), write the file or one file per chapter, and say what was done."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from readaloud.config import Config
from readaloud.documents.opener import open_document
from readaloud.errors import BadInput
from readaloud.export.audiobook import Written, format_for, write
from readaloud.export.plan import ChapterPlan, Plan, Voicing, make_plan
from readaloud.export.workers import Made, default_workers, make_all, missing
from readaloud.speech.languages import LanguageTrack

_UNSAFE = re.compile(r"[^\w\- ]+")


@dataclass(frozen=True)
class ExportRequest:
    document: Path
    out: Path
    password: str | None = None
    voice: str | None = None
    language: str | None = None
    rate: float = 1.0
    chapters: str | None = None  # "2-4", "1,3"
    split_chapters: bool = False
    workers: int = 0  # 0: [export] workers, else one fewer than the cores
    engine: str | None = None
    #: Make speech in worker processes even with one worker (a baseline for the benchmark);
    #: otherwise one worker is this process, with every core for onnxruntime.
    processes: bool = False


@dataclass
class Report:
    files: list[Written] = field(default_factory=list)
    sentences: int = 0
    reused: int = 0  # made by an earlier, stopped export
    made_s: float = 0.0  # seconds of speech made now
    wall_s: float = 0.0
    workers: int = 1
    made_wall_s: float = 0.0  # time the workers took
    #: (chapter number, sentence text, what is wrong) for sentences whose length stayed wrong.
    suspicious: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def real_time_factor(self) -> float | None:
        """Time to make the speech over its length (below 1: faster than it plays)."""
        return self.made_wall_s / self.made_s if self.made_s else None


Progress = Callable[[int, int, float], None]  # sentences done, all, seconds of speech made


def work_folder(out: Path) -> Path:
    """Where the finished sentences wait: beside the output, hidden, removed at the end."""
    return out.with_name(f".{out.name}.readaloud-work")


def export(
    request: ExportRequest,
    config: Config,
    progress: Progress | None = None,
    tell: Callable[[str], None] | None = None,
) -> Report:
    """Make the audio file(s) ``request`` asks for; ``tell`` hears at once, before the speech
    is made, what the book will lack (a language no installed voice speaks)."""
    began = time.monotonic()
    out = request.out.expanduser().absolute()
    format_for(out)
    if out.is_dir() or not out.parent.is_dir():
        raise BadInput(f"Cannot write {out}: give a file in a folder that exists.")
    from readaloud.engines.registry import choose_engine

    engine_choice = request.engine or config.speech.engine
    choice = choose_engine(engine_choice, config=config)
    engine = choice.engine
    voice = request.voice or config.speech.voice or None
    engine.validate(voice, request.language)
    voicing = Voicing(engine.name, voice, request.language, request.rate)
    document = open_document(request.document, password=request.password, language=request.language)
    try:
        track = LanguageTrack(engine, voice, request.language)
        plan = make_plan(document, voicing, track, request.chapters)
    finally:
        document.close()
    if tell is not None:
        for notice in plan.notices:
            tell(notice)
    work = work_folder(out)
    work.mkdir(exist_ok=True)
    sentences = plan.sentences
    todo = missing(work, sentences)
    # XTTS: one model, its streams decoded together (threads); Piper: one process per core.
    threads = engine.name == "xtts"
    default = config.xtts.max_streams if threads else default_workers()
    workers = request.workers or config.export.workers or default
    if engine.name not in ("piper", "xtts"):
        workers = 1  # another machine's endpoint: one request at a time
    report = Report(sentences=len(sentences), reused=len(sentences) - len(todo), workers=workers)
    done = [report.reused]
    problems: dict[str, str] = {}

    def on_made(made: Made) -> None:
        done[0] += 1
        report.made_s += made.seconds
        if made.problem:
            problems[made.key] = made.problem
        if progress is not None:
            progress(done[0], len(sentences), report.made_s)

    if progress is not None:
        progress(done[0], len(sentences), 0.0)
    made_began = time.monotonic()
    make_all(
        todo, work, voicing, engine_choice, config, workers, on_made, request.processes, threads
    )
    report.made_wall_s = time.monotonic() - made_began
    report.suspicious = [
        (chapter.number, s.text, problems[s.key])
        for chapter in plan.chapters
        for s in chapter.sentences
        if s.key in problems
    ]
    rate = engine.sample_rate
    for target, chapters in _files(plan, out, request.split_chapters):
        report.files.append(write(plan, chapters, work, target, rate))
    shutil.rmtree(work, ignore_errors=True)
    report.wall_s = time.monotonic() - began
    return report


def _files(plan: Plan, out: Path, split: bool) -> list[tuple[Path, list[ChapterPlan]]]:
    if not split:
        return [(out, plan.chapters)]
    return [
        (out.with_name(f"{out.stem}-{c.number:02d}-{_name(c.title)}{out.suffix}"), [c])
        for c in plan.chapters
    ]


def _name(title: str) -> str:
    return "-".join(_UNSAFE.sub("", title).split())[:60] or "chapter"
