"""Register ``sd_readaloud`` with the user's Speech Dispatcher, and take it out again.

speechd (0.11 and later) finds output modules by itself: every ``sd_NAME`` executable in
``~/.local/libexec/speech-dispatcher-modules`` (strictly ``$XDG_DATA_HOME/../libexec/...``)
becomes module NAME, configured by ``~/.config/speech-dispatcher/modules/NAME.conf``. But one
``AddModule`` line in speechd.conf turns that discovery off, and with it espeak-ng and every
other voice the user has. So:

* the module is linked into the user's module folder and its config written next to the
  user's speechd config; no AddModule line is added while discovery is on;
* where the user's speechd.conf already lists modules with AddModule (discovery is off for
  them), an AddModule line for readaloud is added, between marker comments;
* ``default=True`` makes readaloud speechd's default module (``DefaultModule``, in the same
  marked block), creating the user's speechd.conf from the system one if there is none.

Everything written carries a marker, so uninstall removes exactly that and nothing else.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from readaloud.config import xdg_config_home, xdg_data_home
from readaloud.errors import ExitCode, ReadaloudError

MODULE = "readaloud"
EXECUTABLE = "sd_readaloud"
BEGIN = "# >>> readaloud (added by 'readaloud speechd install'; 'uninstall' removes it)"
END = "# <<< readaloud"
COPIED = "# readaloud: copied from {source} by 'readaloud speechd install'"
#: Where distributions put speechd's own config.
SYSTEM_CONFIGS = (
    Path("/etc/speech-dispatcher/speechd.conf"),
    Path("/usr/local/etc/speech-dispatcher/speechd.conf"),
    Path("/usr/share/speech-dispatcher/conf/speechd.conf"),
)
MODULE_CONFIG = """\
# The readaloud output module for Speech Dispatcher: Orca, Firefox, Chrome and spd-say speak
# with the voice of the readaloud daemon. Written by 'readaloud speechd install'.
#
# When no readaloud daemon is running, speak in this process with the Piper voice (yes), or
# let Speech Dispatcher use another module until the daemon runs and speechd restarts (no).
InProcessFallback yes
#
# SOUND_ICON messages play the file of that name from this folder (Debian: apt install
# sound-icons); an icon with no file has its name said.
SoundIconFolder "/usr/share/sounds/sound-icons"
"""
_ADD_MODULE = re.compile(r"^\s*AddModule\s", re.IGNORECASE | re.MULTILINE)


class SpeechdSetupError(ReadaloudError):
    """The speechd registration could not be written or removed."""

    exit_code = ExitCode.SPEECHD_SETUP
    spoken = "Could not set up Speech Dispatcher."


@dataclass(frozen=True)
class SpeechdPaths:
    config_dir: Path
    module_dir: Path

    @classmethod
    def for_user(cls) -> SpeechdPaths:
        # speechd looks in "<data dir>/../libexec/...": the physical parent, hence realpath.
        libexec = Path(os.path.realpath(xdg_data_home())).parent / "libexec"
        return cls(xdg_config_home() / "speech-dispatcher", libexec / "speech-dispatcher-modules")

    @property
    def speechd_conf(self) -> Path:
        return self.config_dir / "speechd.conf"

    @property
    def module_conf(self) -> Path:
        return self.config_dir / "modules" / f"{MODULE}.conf"

    @property
    def module_link(self) -> Path:
        return self.module_dir / EXECUTABLE


def module_executable() -> Path:
    """The absolute path of this installation's ``sd_readaloud``."""
    beside = Path(sys.executable).absolute().parent / EXECUTABLE  # a venv's bin/
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(EXECUTABLE)
    if found:
        return Path(found).absolute()
    raise SpeechdSetupError(
        f"{EXECUTABLE} is not installed beside {sys.executable} nor on PATH; "
        "reinstall readaloud (pip install readaloud) so its scripts are created."
    )


def install(
    *, default: bool = False, executable: Path | None = None, paths: SpeechdPaths | None = None
) -> str:
    """Register the module (again: doing it twice changes nothing). Returns what was done."""
    paths = paths or SpeechdPaths.for_user()
    executable = executable or module_executable()
    done = []
    try:
        paths.module_conf.parent.mkdir(parents=True, exist_ok=True)
        if not paths.module_conf.exists() or _is_ours(paths.module_conf):
            _write(paths.module_conf, MODULE_CONFIG)
            done.append(f"wrote {paths.module_conf}")
        else:
            done.append(f"kept your {paths.module_conf}")
        # speechd's "<data dir>/../libexec" only resolves when the data folder exists.
        xdg_data_home().mkdir(parents=True, exist_ok=True)
        paths.module_dir.mkdir(parents=True, exist_ok=True)
        link = paths.module_link
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(executable)
        done.append(f"linked {link} to {executable}")
        conf_text = _read(paths.speechd_conf)
        explicit = conf_text is not None and _ADD_MODULE.search(_without_block(conf_text))
        if explicit or default:
            if conf_text is None:
                source = system_config()
                conf_text = COPIED.format(source=source) + "\n" + source.read_text("utf-8")
                done.append(f"created {paths.speechd_conf} from {source}")
            block = [BEGIN]
            if explicit:  # discovery is off there: name the module
                block.append(f'AddModule "{MODULE}" "{executable}" "{MODULE}.conf"')
            if default:
                block.append(f"DefaultModule {MODULE}")
            block.append(END)
            _write(
                paths.speechd_conf,
                _without_block(conf_text).rstrip("\n") + "\n\n" + "\n".join(block) + "\n",
            )
            done.append(f"added the readaloud lines to {paths.speechd_conf}")
        elif conf_text is not None and BEGIN in conf_text:
            _write(paths.speechd_conf, _without_block(conf_text))  # an older install's lines
    except OSError as error:
        raise SpeechdSetupError(
            f"Cannot write the Speech Dispatcher setup ({error.filename}: {error.strerror})."
        ) from None
    if shutil.which("speech-dispatcher") is None:
        done.append("Speech Dispatcher itself is not installed: apt install speech-dispatcher")
    return (
        "Speech Dispatcher can now speak with readaloud as module 'readaloud' ("
        + "; ".join(done)
        + "). speechd loads modules when it starts: log out and in, or stop it "
        "(pkill -x speech-dispatcher) and the next program that speaks starts it again. "
        "Try: spd-say -o readaloud 'Hello'"
    )


def uninstall(paths: SpeechdPaths | None = None) -> str:
    """Remove what install wrote; leave everything else. Doing it twice is harmless."""
    paths = paths or SpeechdPaths.for_user()
    done = []
    try:
        link = paths.module_link
        if link.is_symlink() or link.exists():
            target = os.readlink(link) if link.is_symlink() else ""
            if Path(target).name == EXECUTABLE:
                link.unlink()
                done.append(f"removed {link}")
        if paths.module_conf.exists() and _is_ours(paths.module_conf):
            paths.module_conf.unlink()
            done.append(f"removed {paths.module_conf}")
        conf_text = _read(paths.speechd_conf)
        if conf_text is not None and BEGIN in conf_text:
            rest = _without_block(conf_text)
            copied = re.match(re.escape(COPIED).replace(r"\{source\}", "(.+)") + "\n", rest)
            original = Path(copied.group(1)) if copied else None
            unchanged = (
                original is not None
                and copied is not None
                and original.is_file()
                and (rest[copied.end() :].rstrip("\n") == (_read(original) or "").rstrip("\n"))
            )
            if unchanged:
                paths.speechd_conf.unlink()  # unchanged since we copied it
                done.append(f"removed {paths.speechd_conf} (a copy of {original})")
            else:
                _write(paths.speechd_conf, rest)
                done.append(f"removed the readaloud lines from {paths.speechd_conf}")
    except OSError as error:
        raise SpeechdSetupError(
            f"Cannot remove the Speech Dispatcher setup ({error.filename}: {error.strerror})."
        ) from None
    if not done:
        return "readaloud was not registered with Speech Dispatcher; nothing to remove."
    return "Removed readaloud from Speech Dispatcher: " + "; ".join(done) + "."


def system_config() -> Path:
    for candidate in SYSTEM_CONFIGS:
        if candidate.is_file():
            return candidate
    raise SpeechdSetupError(
        "Speech Dispatcher's own speechd.conf was not found (looked in "
        + ", ".join(str(c.parent) for c in SYSTEM_CONFIGS)
        + "). Install it first: sudo apt install speech-dispatcher"
    )


def _without_block(text: str) -> str:
    pattern = re.compile(rf"\n*^{re.escape(BEGIN)}$.*?^{re.escape(END)}$\n?", re.M | re.S)
    return pattern.sub("\n", text) if BEGIN in text else text


def _is_ours(path: Path) -> bool:
    text = _read(path) or ""
    return "Written by 'readaloud speechd install'" in text


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
