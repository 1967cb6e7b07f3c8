"""The pronunciation dictionary: respellings change what is heard, offsets still point at the
words the user sees, the file is read again when it changes, bad entries are refused."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import soundfile
from support.cli import run_readaloud

from readaloud.config import Config
from readaloud.engines.registry import choose_engine
from readaloud.speech.synthesis import synthesize
from readaloud.speech.utterance import Utterance
from readaloud.text.lexicon import Lexicon

SENTENCE = "The WHO met in Geneva on Monday."


def test_a_respelling_keeps_the_offsets_of_the_original(tmp_path: Path) -> None:
    lexicon = Lexicon(tmp_path / "lexicon.toml")
    lexicon.add("WHO", "World Health Organization")
    said = lexicon.respell(SENTENCE, "en")
    assert said.text == "The World Health Organization met in Geneva on Monday."
    who = said.text.index("Health")
    assert SENTENCE[said.original(who) : said.original(who + 6, end=True)] == "WHO"
    met = said.text.index("met")
    assert said.original(met) == SENTENCE.index("met")
    assert said.original(len(said.text)) == len(SENTENCE)


def test_case_whole_words_languages_and_one_pass(tmp_path: Path) -> None:
    lexicon = Lexicon(tmp_path / "lexicon.toml")
    lexicon.add("US", "United States")  # a capital: only as written
    lexicon.add("gif", "jif")  # lower case: any case
    lexicon.add("Zug", "Tsoog", "de")
    lexicon.add("States", "STATES AGAIN")  # a respelling is never respelled again
    lexicon.add(r"re:\bDr\.(?= [A-Z])", "Doctor")
    said = lexicon.respell("Tell us: the US GIF of Dr. Who, gifted, on the Zug.", "en")
    assert said.text == "Tell us: the United States jif of Doctor Who, gifted, on the Zug."
    assert lexicon.respell("Der Zug.", "de").text == "Der Tsoog."


def test_the_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.toml"
    lexicon = Lexicon(path)
    assert lexicon.respell(SENTENCE, "en").text == SENTENCE
    Lexicon(path).add("Geneva", "Genf")  # another process (the CLI) writes it
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert "Genf" in lexicon.respell(SENTENCE, "en").text


def _seconds(pieces) -> float:
    return sum(p.chunk.duration for p in pieces)


def test_a_respelling_is_heard_and_its_words_are_the_originals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    engine = choose_engine(config=Config()).engine
    engine.load()

    def speak(text: str) -> list:
        return list(synthesize(engine, Utterance(text=text, language="en"), threading.Event()))

    plain = _seconds(speak(SENTENCE))
    Lexicon(tmp_path / "readaloud" / "lexicon.toml").add("WHO", "World Health Organization")
    time.sleep(0.01)
    respelled = speak(SENTENCE)
    spelled_out = _seconds(speak("The World Health Organization met in Geneva on Monday."))
    assert _seconds(respelled) > plain + 0.5  # heard: three words instead of one
    assert abs(_seconds(respelled) - spelled_out) < 0.15 * spelled_out
    words = [SENTENCE[w.start : w.end] for p in respelled for w in p.chunk.words]
    assert words == ["The", "WHO", "met", "in", "Geneva", "on", "Monday."]


def test_lexicon_commands(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    added = run_readaloud("lexicon", "add", "SQL", "sequel", env=env)
    assert added.code == 0, added.stderr
    assert run_readaloud("lexicon", "add", "Zug", "Tsoog", "--lang", "de", env=env).code == 0
    listed = run_readaloud("lexicon", "list", env=env)
    assert listed.stdout.splitlines() == ["*\tSQL\tsequel", "de\tZug\tTsoog"]
    out = tmp_path / "sql.wav"
    said = run_readaloud("say", "--out", str(out), "I like SQL.", env=env)
    assert said.code == 0, said.stderr
    plain = run_readaloud("say", "--out", str(tmp_path / "plain.wav"), "I like sequel.", env=env)
    assert plain.code == 0
    heard, expected = (soundfile.info(str(p)).duration for p in (out, tmp_path / "plain.wav"))
    assert abs(heard - expected) < 0.15 * expected, (heard, expected)
    bad = run_readaloud("lexicon", "add", "re:([", "x", env=env)
    assert bad.code == 2 and "not a regular expression" in bad.stderr
    assert run_readaloud("lexicon", "remove", "SQL", env=env).code == 0
    gone = run_readaloud("lexicon", "remove", "SQL", env=env)
    assert gone.code == 2 and "not in the lexicon" in gone.stderr
