"""``readaloud voice``: Piper voices from the catalogue (search, download, list, remove) and the
cloned XTTS voices (add, remove) in one place."""

from __future__ import annotations

import argparse
import sys

from readaloud.commands import xtts
from readaloud.commands.progress import Progress
from readaloud.config import Config


def register(commands: argparse._SubParsersAction) -> None:
    voice = commands.add_parser(
        "voice",
        help="get, list and remove voices (Piper downloads, cloned XTTS voices)",
        description=(
            "Piper voices for other languages come from the Piper voices repository "
            "([voices] piper_url): search it, download one (checked and installed whole), "
            "list and remove them. XTTS voices are cloned from your recordings with 'add'."
        ),
    )
    actions = voice.add_subparsers(dest="voice_action", metavar="ACTION", required=True)
    search = actions.add_parser(
        "search",
        help="list the Piper voices that can be downloaded",
        description="List the catalogue's Piper voices, all or those of one language.",
    )
    search.add_argument("language", nargs="?", metavar="LANG", help="e.g. de, pt-BR or ru")
    search.set_defaults(handler=cmd_search)
    download = actions.add_parser(
        "download",
        help="download a Piper voice",
        description=(
            "Download a Piper voice: a language code (de, pt-BR: its best voice, medium quality "
            "first) or a voice id from 'readaloud voice search'. The files are checked against "
            "the catalogue's sizes and checksums before the voice is installed; the daemon "
            "uses it at once."
        ),
    )
    download.add_argument("voice", metavar="LANG|VOICE-ID")
    download.set_defaults(handler=cmd_download)
    listing = actions.add_parser(
        "list",
        help="list installed voices and what can be downloaded",
        description="List the installed Piper voices, the XTTS voices, and the catalogue.",
    )
    listing.set_defaults(handler=cmd_list)
    remove = actions.add_parser(
        "remove",
        help="remove a downloaded Piper voice or an enrolled XTTS voice",
        description="Delete a downloaded Piper voice or an enrolled XTTS voice.",
    )
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=cmd_remove)
    set_ = actions.add_parser(
        "set",
        help="a voice's own volume and XTTS sampling",
        description=(
            "Give a voice its own defaults: volume (0-2) and the XTTS sampling (temperature, "
            "top_p, top_k, repetition_penalty, length_penalty), e.g. 'readaloud voice set anna "
            "temperature=0.7 volume=1.2'. KEY= removes one. A request's own value comes first, "
            "then the voice's, then the config's. Without settings: show the voice's."
        ),
    )
    set_.add_argument("name", metavar="NAME", help="a voice id from 'readaloud voice list'")
    set_.add_argument("settings", nargs="*", metavar="KEY=VALUE")
    set_.set_defaults(handler=cmd_set)
    xtts.register_voice_add(actions)


def _catalogue(config: Config):
    from readaloud.voices.catalogue import load_catalogue

    catalogue = load_catalogue(config.voices.piper_url, config.voice_catalogue_path)
    if catalogue.offline:
        print(
            f"The catalogue cannot be reached now ({catalogue.offline}); "
            "showing the copy kept from the last time.",
            file=sys.stderr,
        )
    return catalogue


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    from readaloud.errors import BadInput

    catalogue = _catalogue(config)
    found = catalogue.search(args.language)
    if not found:
        raise BadInput(
            f"The Piper voice catalogue has no voice for '{args.language}'. "
            "See them all: readaloud voice search"
        )
    for voice in found:
        print(voice.describe())
    if args.language:
        print(f"Get one: readaloud voice download {found[0].key}", file=sys.stderr)
    return 0


def cmd_download(args: argparse.Namespace, config: Config) -> int:
    from readaloud.voices.install import install

    catalogue = _catalogue(config)
    voice = catalogue.pick(args.voice)
    print(f"Downloading {voice.key} ({voice.size / 1e6:.0f} MB)...", file=sys.stderr)
    model = install(
        voice,
        config.voices.piper_url,
        config.piper_voices_dir,
        Progress(sys.stderr, unit="MB", scale=1e-6),
    )
    print(
        f"Installed {model.id} ({voice.language_name}). It reads {voice.language_name} text "
        f'from now on; try it: readaloud say --voice {model.id} "..."'
    )
    return 0


def cmd_list(args: argparse.Namespace, config: Config) -> int:
    from readaloud.engines.piper.models import bundled_model
    from readaloud.errors import DownloadFailed
    from readaloud.voices.install import installed
    from readaloud.voices.settings import VoiceSettings

    own = VoiceSettings(config.voice_settings_path).all()

    def settings(voice: str) -> str:
        given = own[voice].as_dict() if voice in own else {}
        return "\t" + " ".join(f"{k}={v:g}" for k, v in given.items()) if given else ""

    print("Piper voices installed:")
    bundled = bundled_model()
    if bundled is not None:
        print(
            f"  {bundled.id}\t{bundled.language}\t{bundled.description} (comes with readaloud)"
            + settings(bundled.id)
        )
    for model in installed(config.piper_voices_dir):
        print(f"  {model.id}\t{model.language}\t{model.description}{settings(model.id)}")
    if xtts.installed():
        voices = xtts.voices(config)
        none = " none yet (readaloud voice add NAME clip.wav)"
        print("XTTS voices:" + ("" if voices else none))
        for voice in voices:
            print(f"  {voice.id}\t{voice.description}{settings(voice.id)}")
    try:
        catalogue = _catalogue(config)
    except DownloadFailed as error:
        print(f"Voices to download: unknown now. {error}")
        return 0
    languages = {v.family for v in catalogue.voices.values()}
    print(
        f"Voices to download: {len(catalogue.voices)} in {len(languages)} languages "
        "(readaloud voice search [LANG], then readaloud voice download LANG)."
    )
    return 0


def cmd_remove(args: argparse.Namespace, config: Config) -> int:
    from readaloud.engines.piper.models import bundled_model
    from readaloud.voices.install import remove

    bundled = bundled_model()
    if bundled is not None and args.name == bundled.id:
        remove(args.name, config.piper_voices_dir)  # refused, with why
    if (config.piper_voices_dir / f"{args.name}.onnx").is_file():
        remove(args.name, config.piper_voices_dir)
        print(f"Removed Piper voice '{args.name}'.")
        return 0
    if xtts.installed():
        return xtts.cmd_voice_remove(args, config)
    remove(args.name, config.piper_voices_dir)  # says what is installed
    return 0


def cmd_set(args: argparse.Namespace, config: Config) -> int:
    from readaloud.engines.registry import piper_engine
    from readaloud.errors import UnknownVoice
    from readaloud.voices.settings import VoiceSettings, parse_assignments

    changes = parse_assignments(args.settings)
    known = piper_engine(config).has_voice(args.name) or (
        xtts.installed() and any(v.id == args.name for v in xtts.voices(config))
    )
    if not known:
        raise UnknownVoice(f"Unknown voice '{args.name}'. See the voices: readaloud voice list")
    store = VoiceSettings(config.voice_settings_path)
    defaults = store.set(args.name, changes) if changes else store.get(args.name)
    shown = " ".join(f"{k}={v:g}" for k, v in defaults.as_dict().items()) or "none of its own"
    print(f"{args.name}: {shown}")
    return 0
