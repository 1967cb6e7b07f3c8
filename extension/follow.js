// Follow along: while the daemon reads what a tab sent, the tab shows the sentence and the word
// being heard. The daemon sends an event when each one is heard (GET /v1/events, driven by its
// player); this passes the events of our utterance to highlight.js in that tab.

import { listenEvents } from "./daemon.js";

const STYLE = `
::highlight(readaloud-sentence) { background-color: #fff0a8; color: #000; }
::highlight(readaloud-word) { background-color: #ffc400; color: #000; text-decoration: underline; }
@media (forced-colors: active) {
  ::highlight(readaloud-sentence) { background-color: Highlight; color: HighlightText; }
  ::highlight(readaloud-word) { background-color: Mark; color: MarkText; }
}`;

// A paused reading sends no events, and an idle extension worker is ended after 30 s: any
// extension call keeps it, so this one is made while something is followed.
const KEEP_AWAKE_MS = 20000;

export const HIGHLIGHT = { off: "off", sentence: "sentence", word: "word" };

let current = null;

/** Stops following whatever is followed, and clears its highlight. */
export function stopFollowing() {
  if (current) current.close();
}

class Following {
  constructor(tab, frameId, injected) {
    this.tab = tab;
    this.frameId = frameId;
    // Events wait for the page to be ready; a page that cannot be scripted gets none.
    this.ready = injected.then(
      () => true,
      (error) => {
        console.warn("readaloud: no highlighting in this page:", error);
        return false;
      },
    );
    this.abort = new AbortController();
    this.id = null;
    this.early = []; // events that came before the daemon told our utterance's id
    this.timer = setInterval(() => chrome.runtime.getPlatformInfo(), KEEP_AWAKE_MS);
    this.closed = false;
  }

  tell(event) {
    const options = this.frameId === undefined ? {} : { frameId: this.frameId };
    const message = { type: "readaloud-highlight", event };
    this.ready.then((ready) => {
      if (!ready) return;
      chrome.tabs
        .sendMessage(this.tab.id, message, options)
        .catch(() => this.close(false)); // the tab is gone or went elsewhere
    });
  }

  onEvent(event) {
    if (this.id === null) {
      this.early.push(event);
      return;
    }
    if (event.id !== this.id) return;
    if (event.type === "segment_start" || event.type === "word") this.tell(event);
    if (event.type === "utterance_end") this.close();
  }

  /** The daemon accepted the request: its events are ours from now on. */
  follow(id) {
    this.id = id;
    for (const event of this.early.splice(0)) this.onEvent(event);
  }

  close(clear = true) {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.abort.abort();
    if (clear) this.tell({ type: "clear" });
    if (current === this) current = null;
  }

  /** Resolves once the daemon's events are listened to: none of ours is missed after. */
  async listen(settings) {
    await listenEvents(
      settings,
      (event) => {
        if (event.type === "lost") this.close();
        else this.onEvent(event);
      },
      this.abort.signal,
    );
  }
}

async function inject(target, options) {
  await chrome.scripting.insertCSS({ target, css: STYLE });
  await chrome.scripting.executeScript({ target, files: ["highlight.js"] });
  const [first] = await chrome.scripting.executeScript({
    target,
    func: (given) => globalThis.readaloudHighlight.prepare(given),
    args: [options],
  });
  return (first && first.result) || "";
}

/**
 * Gets `tab` ready to show what will be heard: highlight.js and its style in the frame, the
 * page's text indexed (the selection's, with scope "selection"), the daemon's events listened
 * to. Resolves to [following, words] as soon as the events are listened to (the page is got
 * ready meanwhile: speech does not wait for it). `words`, with fromHere, are where a read from
 * here starts, and are waited for. `following` is null when highlighting is off or the page
 * cannot be scripted; the reading itself goes on without it.
 */
export async function prepareFollowing(settings, tab, frameId, how) {
  const { scope, highlight, fromHere, byPointer } = how;
  stopFollowing();
  if (highlight === HIGHLIGHT.off && !fromHere) return [null, ""];
  const target = { tabId: tab.id, ...(frameId === undefined ? {} : { frameIds: [frameId] }) };
  const options = {
    scope,
    highlightWord: highlight === HIGHLIGHT.word,
    fromHere: !!fromHere,
    byPointer: !!byPointer,
  };
  const injected = inject(target, options);
  let words = "";
  if (fromHere || highlight === HIGHLIGHT.off) {
    try {
      words = await injected;
    } catch (error) {
      console.warn("readaloud: this page cannot be scripted:", error);
      return [null, ""];
    }
    if (highlight === HIGHLIGHT.off) return [null, words];
  }
  const following = new Following(tab, frameId, injected);
  current = following;
  try {
    await following.listen(settings);
  } catch (error) {
    console.warn("readaloud: the daemon's events are not there; no highlighting:", error);
    following.close(false);
    return [null, words];
  }
  return [following, words];
}
