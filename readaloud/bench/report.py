"""Print ``readaloud bench`` results as tables a person can read."""

from __future__ import annotations

from typing import TextIO


def _row(out: TextIO, name: str, stats: dict) -> None:
    if not stats:
        out.write(f"  {name:<36}{'(no data)':>10}\n")
        return
    out.write(
        f"  {name:<36}{stats['median']:>10}{stats['min']:>9}{stats['p90']:>9}{stats['max']:>9}\n"
    )


def _header(out: TextIO, title: str) -> None:
    out.write(f"  {title:<36}{'median':>10}{'min':>9}{'p90':>9}{'max':>9}\n")


def print_report(results: dict, out: TextIO) -> None:
    m = results["machine"]
    out.write(
        f"readaloud bench — engine {results['engine']}, {m['cores']} cores ({m['cpu']}), "
        f"measured at {results['sound_server']}\n\n"
    )
    _header(out, "time to first sound (ms)")
    fs = results["first_sound"]
    labels = [
        ("total_ms", "request → first sample at server"),
        ("request_ms", "  request handling"),
        ("extract_ms", "  text extraction"),
        ("prepare_ms", "  segmentation and checks"),
        ("queue_wait_ms", "  waiting for the speech worker"),
        ("engine_first_chunk_ms", "  engine's first chunk"),
        ("audio_path_ms", "  audio path (player → server)"),
        ("overhead_over_engine_ms", "daemon overhead over the engine"),
    ]
    for key, label in labels:
        _row(out, label, fs[key])
    _row(out, "naive daemon (whole first sentence)", results["naive_first_sound"]["total_ms"])
    short = results.get("short")
    if short:
        _row(out, "one word, new (synthesized)", short["first_sound_ms"])
        _row(out, f"one word again ({short['text']!r}, cached)", short["repeat_first_sound_ms"])
        if "echo_first_sound_ms" in short:
            _row(out, "a letter, new (echo set made ahead)", short["echo_first_sound_ms"])
    plain = results.get("baseline")
    if plain:
        _row(out, "bare Piper, whole first sentence", plain["plain_piper_sentence_ms"])
        _row(out, "bare Piper, the first chunk's text", plain["plain_piper_first_chunk_ms"])
    ratios = results.get("ratios", {})
    out.write(
        f"  readaloud / naive: {results['ratio_vs_naive']}; "
        f"first sound / bare Piper sentence: {ratios.get('first_sound_vs_plain_sentence')}; "
        f"engine in the daemon / bare: {ratios.get('engine_in_daemon_vs_bare')}\n\n"
    )
    _header(out, "control (ms)")
    for key, label in [
        ("stop_to_silence_ms", "stop → silence"),
        ("pause_to_silence_ms", "pause → silence"),
        ("resume_to_sound_ms", "resume → sound"),
    ]:
        _row(out, label, results["control"][key])
    a = results["article"]
    out.write(
        f"\n  long article: {a['words']} words, played {a['played_s']:g} s; synthesized "
        f"{a['synthesized_audio_s']} s of speech in {a['synthesis_s']} s: real-time factor "
        f"{a['real_time_factor']}; underruns {a['underruns']}, device xruns {a['xruns']}\n"
    )
    out.write(
        f"  memory: daemon RSS {results['rss_mb_idle']} MB idle, {a['rss_mb_before']} → "
        f"{a['rss_mb_after']} MB over the article\n\n"
    )
    follow = results.get("follow_along")
    if follow:
        _header(out, "follow along (ms)")
        _row(out, "word event − its sound at the server", follow["word_event_vs_sound_ms"])
        _row(out, "  the same, either way (the highlight lag)", follow["abs_lag_ms"])
        out.write(f"  {follow['matched']} of {follow['sentences']} sentence starts matched\n\n")
    _streaming(results.get("streaming", {}), out)
    _documents(results.get("documents", {}), out)
    _screen_reader(results.get("screen_reader", {}), out)
    out.write("  targets:\n")
    for name, verdict in results["targets"].items():
        mark = {True: "met", False: "MISSED", None: "no data"}[verdict["met"]]
        out.write(
            f"    {name:<28} ≤ {verdict['target']:<8} measured {verdict['measured']}: {mark}\n"
        )


def _streaming(streamed: dict, out: TextIO) -> None:
    if not streamed:
        return
    _header(out, f"streamed text, {streamed['words_per_s']:g} words/s (ms)")
    _row(out, "last char of sentence 1 → first sound", streamed["first_sound_after_sentence_ms"])
    _row(out, "the same sentence sent whole", streamed["whole_sentence_first_sound_ms"])
    out.write(
        f"  streamed / whole: {streamed['ratio_vs_whole']}; words lost "
        f"{streamed['words_lost']} of {streamed['words_sent']}\n\n"
    )


def _documents(found: dict, out: TextIO) -> None:
    if "skipped" in found:
        out.write(f"  documents: not measured ({found['skipped']})\n\n")
        return
    if not found:
        return
    made = found["extraction"]
    _header(out, f"a {made['pages']}-page two-column PDF (ms)")
    _row(out, "request → first sound, the daemon opens it", found["first_sound"]["document_ms"])
    _row(out, "its first sentence sent as text", found["first_sound"]["first_sentence_as_text_ms"])
    ocr = found["ocr_s_per_page"]
    out.write(
        f"  document / text: {found['ratio_vs_text']}; laid out at {made['pages_per_s']} pages/s, "
        f"first page's text {made['open_and_first_page_ms']} ms after opening; Tesseract "
        f"{'not installed' if ocr is None else f'{ocr} s a page'}\n"
    )
    made = found.get("export")
    if made:
        one, two = made["workers_1"], made["workers_2"]
        single = made["one_worker_process"]
        out.write(
            f"  export of {one['speech_s']} s of speech: real-time factor "
            f"{one['real_time_factor']} in this process (all cores to onnxruntime), "
            f"{single['real_time_factor']} in one worker process, {two['real_time_factor']} in "
            f"two: {made['speed_up_2_vs_1']} and {made['speed_up_2_vs_one_process']} times as "
            "fast\n"
        )
    out.write("\n")


def _screen_reader(reader: dict, out: TextIO) -> None:
    if "skipped" in reader:
        out.write(f"  screen reader: not measured ({reader['skipped']})\n\n")
        return
    if not reader:
        return
    _header(out, "through Orca and speechd (ms)")
    for module, name in (("readaloud", "readaloud"), ("espeak_ng", "espeak-ng")):
        figures = reader[module]
        _row(out, f"keystroke → first sound, {name}", figures["keystroke_first_sound_ms"])
        _row(out, f"spd-say → first sound, {name}", figures["spd_say_first_sound_ms"])
        engine = figures.get("spd_say_engine_first_chunk_ms")
        if engine is not None:
            _row(out, "  of which the engine's first chunk", engine)
    ratios = reader["ratios"]
    say_all = reader["readaloud"].get("say_all", {})
    out.write(
        f"  readaloud / espeak-ng: keystroke {ratios['keystroke_first_sound_ms_vs_espeak_ng']}, "
        f"spd-say {ratios['spd_say_first_sound_ms_vs_espeak_ng']}; keys not heard "
        f"{reader['readaloud']['keys_not_heard']}\n"
        f"  Say All: longest pause between sentences {say_all.get('longest_pause_between_ms')} "
        f"ms, within one {say_all.get('longest_pause_within_ms')} ms: "
        f"{say_all.get('added_silence_ms')} ms added\n\n"
    )
