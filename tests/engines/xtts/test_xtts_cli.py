"""Choosing XTTS (auto/explicit), speaking with it from the CLI, and ``model fetch`` offline."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import soundfile
from support.cli import run_readaloud
from support.xtts import tiny_options

from readaloud.cli import main
from readaloud.config import Config, XttsSettings
from readaloud.engines.piper import PiperEngine
from readaloud.engines.registry import choose_engine
from readaloud.engines.routing import RoutingEngine
from readaloud.engines.xtts import XttsEngine
from readaloud.engines.xtts.checkpoint import ModelMissing


def config_with(model_dir: Path, **xtts) -> Config:
    return Config(xtts=XttsSettings(model_dir=str(model_dir), **xtts))


def test_auto_uses_xtts_only_with_a_gpu_and_a_model(tiny_model_dir: Path, tmp_path) -> None:
    no_model = choose_engine("auto", config=config_with(tmp_path / "none"))
    assert isinstance(no_model.engine.primary, PiperEngine)
    assert "no XTTS model" in no_model.reason and "model fetch --accept-license" in no_model.reason

    config = config_with(tiny_model_dir)
    no_gpu = choose_engine("auto", config=config, cuda_available=lambda: False)
    assert isinstance(no_gpu.engine.primary, PiperEngine) and "no CUDA GPU" in no_gpu.reason

    gpu = choose_engine("auto", config=config, cuda_available=lambda: True)
    assert isinstance(gpu.engine, RoutingEngine)
    assert isinstance(gpu.engine.primary, XttsEngine) and isinstance(gpu.engine.fast, PiperEngine)
    assert gpu.reason.startswith("xtts (auto: CUDA GPU") and "piper" in gpu.reason
    assert gpu.engine.primary.loaded is None  # chosen, not loaded: that is load()'s job


def test_explicit_xtts_without_a_model_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="readaloud model fetch --accept-license"):
        choose_engine("xtts", config=config_with(tmp_path / "none"))


def test_say_with_xtts_writes_its_speech(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The real CLI, in this process (the subprocess start-up is tested with the voice commands)."""
    config = tmp_path / "readaloud.toml"
    config.write_text('[xtts]\ndevice = "cpu"\nmax_new_tokens = 16\n')
    out = tmp_path / "speech.wav"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    args = ["--config", str(config), "--model-dir", str(tiny_model_dir)]
    text = "Hello, this is the neural voice. It speaks two sentences."
    assert main([*args, "say", "--engine", "xtts", "--out", str(out), text]) == 0
    info = soundfile.info(out)
    assert info.samplerate == 24000 and info.duration > 0.5

    capsys.readouterr()
    assert main([*args, "voices", "--engine", "xtts"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("Active engine: xtts (chosen")
    assert "claribel-dervla\txtts\ten,es,fr,de" in listed
    assert "\tpiper\t" in listed  # short text and failover voice


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_model_fetch_offline_fails_clearly_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "models" / "xtts_v2"
    env = {
        "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",  # nothing listens: a dead network
        "HF_HOME": str(tmp_path / "hf"),
        "OMP_NUM_THREADS": "1",
    }
    result = run_readaloud(
        "--model-dir", str(target), "model", "fetch", "--accept-license", env=env
    )
    assert result.code == 5
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Could not download XTTS v2" in lines[0]
    assert "run 'readaloud model fetch --accept-license' again" in lines[0]
    assert "non-commercial" in result.stdout.lower()  # the licence was shown first
    assert not target.exists()
    assert list((tmp_path / "models").iterdir()) == []  # no staging folder left behind


def test_model_fetch_needs_the_licence_accepted(tmp_path: Path) -> None:
    target = tmp_path / "models" / "xtts_v2"
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}", "HF_HOME": str(tmp_path / "hf")}
    result = run_readaloud("--model-dir", str(target), "model", "fetch", stdin=b"yes\n", env=env)
    assert result.code == 2  # no terminal to ask on: never a silent yes, even with "yes" piped
    assert "https://tts-hub.github.io/cpml" in result.stdout
    assert "--accept-license" in result.stderr and "non-commercial" in result.stderr
    assert not target.exists() and not (tmp_path / "hf").exists()


class FakeHub(BaseHTTPRequestHandler):
    """The few Hugging Face endpoints a snapshot download uses, serving a tiny checkpoint."""

    files: dict[str, bytes] = {}
    commit = "c0ffee" * 6 + "beef"

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def _send(self, body: bytes, content_type: str = "application/json", head=False) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Repo-Commit", self.commit)
        self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _file(self, head: bool) -> None:
        name = self.path.split("?")[0].split("/resolve/", 1)[-1].split("/", 1)[-1]
        if name not in self.files:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.end_headers()
            return
        self._send(self.files[name], "application/octet-stream", head)

    def do_HEAD(self) -> None:  # noqa: N802 - the http.server protocol
        self._file(head=True)

    def do_GET(self) -> None:  # noqa: N802
        if "/tree/" in self.path:
            tree = [
                {"type": "file", "path": n, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                for n, d in self.files.items()
            ]
            self._send(json.dumps(tree).encode())
        elif self.path.startswith("/api/models/"):
            siblings = [{"rfilename": name} for name in self.files]
            info = {"id": "tts-hub/XTTS-v2", "sha": self.commit, "siblings": siblings}
            self._send(json.dumps(info).encode())
        elif "/resolve/" in self.path:
            self._file(head=False)
        else:
            self.send_response(404)
            self.end_headers()


@pytest.fixture
def fake_hub(tiny_model_dir: Path) -> Iterator[str]:
    FakeHub.files = {p.name: p.read_bytes() for p in tiny_model_dir.iterdir() if p.is_file()}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_model_fetch_downloads_through_coquis_model_manager(
    fake_hub: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The whole download path against a stand-in for Hugging Face serving a tiny checkpoint."""
    target = tmp_path / "models" / "xtts_v2"
    abandoned = tmp_path / "models" / ".xtts_v2.download-999999999"  # a killed earlier try
    abandoned.mkdir(parents=True)
    env = {"HF_ENDPOINT": fake_hub, "HF_HOME": str(tmp_path / "hf"), "OMP_NUM_THREADS": "1"}
    result = run_readaloud(
        "--model-dir", str(target), "model", "fetch", "--accept-license", env=env
    )
    assert result.code == 0, result.stderr
    assert f"XTTS v2 is ready in {target}" in result.stdout
    for name in ("config.json", "model.pth", "vocab.json", "speakers_xtts.pth"):
        assert (target / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name
    # Big files are hard links into the Hugging Face cache (no second copy of 1.9 GB).
    assert os.stat(target / "model.pth").st_nlink == 2
    assert sorted(p.name for p in target.parent.iterdir()) == ["xtts_v2"]  # no staging left
    XttsEngine(tiny_options(target, tmp_path / "voices", warm_up=False)).load()

    again = run_readaloud("--model-dir", str(target), "model", "fetch", "--accept-license", env=env)
    assert again.code == 0  # already there: kept as it is


def test_a_daemon_loading_xtts_asks_systemd_for_more_time(
    pulse, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A cold XTTS start can outlast the unit's TimeoutStartSec: the daemon says it is loading
    and extends the timeout before it loads, then READY=1 once it can speak."""
    from support.daemon import DaemonProcess

    config = f'[xtts]\ndevice = "cpu"\nmax_new_tokens = 16\nmodel_dir = "{tiny_model_dir}"\n'
    daemon = DaemonProcess(
        {**pulse.env, "XDG_DATA_HOME": str(tmp_path / "data"), "DISPLAY": ""},
        config_text=config,
        extra_args=("--engine", "xtts"),
    )
    try:
        daemon.start(timeout=120)
        sent = [n for n in daemon.notifications if n]
        assert "STATUS=loading XTTS v2" in sent
        extend = next(n for n in sent if n.startswith("EXTEND_TIMEOUT_USEC="))
        assert int(extend.split("=")[1]) >= 300_000_000  # beyond the unit's 300 s
        assert sent.index(extend) < sent.index("READY=1")
        assert daemon.get("/v1/status").json()["engine"] == "xtts"
    finally:
        daemon.close()


def test_an_xtts_export_makes_its_sentences_together_in_one_model(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """With XTTS, export's workers are streams of one model (threads), decoded together."""
    from readaloud.engines.xtts.decoder import GptDecoder

    shared: list[int] = []
    step = GptDecoder.step

    def counted(self):  # the real step, noting how many streams it served
        shared.append(len(self.slots))
        return step(self)

    monkeypatch.setattr(GptDecoder, "step", counted)
    config = tmp_path / "readaloud.toml"
    config.write_text('[xtts]\ndevice = "cpu"\nmax_new_tokens = 16\n')
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    document = tmp_path / "letter.md"
    sentences = [f"Sentence number {n} of the letter is read here." for n in range(1, 7)]
    document.write_text("# A letter\n\n" + " ".join(sentences) + "\n")
    out = tmp_path / "letter.ogg"
    args = ["--config", str(config), "--model-dir", str(tiny_model_dir)]
    command = ["export", str(document), "--out", str(out), "--engine", "xtts", "--workers", "3"]
    assert main([*args, *command]) == 0
    err = capsys.readouterr().err
    assert f"Wrote {out}" in err and "with 3 workers" in err
    assert soundfile.info(out).duration > 2.0
    # Sentences share steps instead of following one another (a newcomer joins at a token
    # boundary, so how many meet depends on where the others are).
    assert max(shared) >= 2
