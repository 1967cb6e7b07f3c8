"""``readaloud lexicon``: the words said otherwise (the pronunciation dictionary)."""

from __future__ import annotations

import argparse

from readaloud.config import Config


def register(commands: argparse._SubParsersAction) -> None:
    lexicon = commands.add_parser(
        "lexicon",
        help="teach readaloud how to say a word",
        description=(
            "Words or patterns said otherwise, per language, kept in "
            "~/.config/readaloud/lexicon.toml and used from the next sentence on (the daemon "
            "reads the file again when it changes). A lower-case word matches in any case, a "
            "word with a capital only as written; 're:REGEX' is a pattern; a respelling in "
            "[[ ]] is phonemes, for Piper voices."
        ),
    )
    actions = lexicon.add_subparsers(dest="lexicon_action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="say WORD as SAYS", description="Say WORD as SAYS.")
    add.add_argument("word", metavar="WORD")
    add.add_argument("says", metavar="SAYS", help='how it is said, e.g. "sequel" for SQL')
    add.add_argument("--lang", default="*", metavar="CODE", help="only in this language")
    add.set_defaults(handler=cmd_add)
    listing = actions.add_parser("list", help="list the words", description="List the words.")
    listing.set_defaults(handler=cmd_list)
    remove = actions.add_parser("remove", help="forget a word", description="Forget a word.")
    remove.add_argument("word", metavar="WORD")
    remove.add_argument("--lang", metavar="CODE", help="only from this language's words")
    remove.set_defaults(handler=cmd_remove)


def _lexicon(config: Config):
    from readaloud.text.lexicon import Lexicon

    return Lexicon(config.lexicon_path)


def _language(code: str) -> str:
    from readaloud.engines.languages import base_language
    from readaloud.errors import BadInput

    if code == "*":
        return code
    try:
        return base_language(code)
    except ValueError:
        raise BadInput(f"'{code}' is not a language code; use one like en or de, or *.") from None


def cmd_add(args: argparse.Namespace, config: Config) -> int:
    language = _language(args.lang)
    _lexicon(config).add(args.word, args.says, language)
    where = "every language" if language == "*" else language
    print(f'"{args.word}" is said "{args.says}" ({where}).')
    return 0


def cmd_list(args: argparse.Namespace, config: Config) -> int:
    tables = _lexicon(config).tables()
    if not any(tables.values()):
        print('No words yet. Add one: readaloud lexicon add SQL "sequel"')
        return 0
    for language, entries in sorted(tables.items()):
        for word, says in sorted(entries.items()):
            print(f"{language}\t{word}\t{says}")
    return 0


def cmd_remove(args: argparse.Namespace, config: Config) -> int:
    from readaloud.errors import BadInput

    language = _language(args.lang) if args.lang else None
    found = _lexicon(config).remove(args.word, language)
    if not found:
        raise BadInput(f'"{args.word}" is not in the lexicon. See: readaloud lexicon list')
    print(f'Forgot "{args.word}" ({", ".join(found)}).')
    return 0
