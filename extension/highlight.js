// Injected into the tab being read (in the extension's isolated world, through activeTab): it
// shows the sentence and the word being heard, with the CSS Custom Highlight API, which paints
// over the page's text without touching its DOM or its layout.
//
// The daemon's events carry each sentence's and word's text. This script finds that text in the
// page's visible text, in reading order (a cursor moves forward), comparing with all white space
// left out: the daemon's text of a page (the extracted article) and the DOM's text nodes differ
// in spacing and line breaks, never in the letters. Hand-written: no library maps text back to
// DOM ranges.
//
// Injected again for every read; the state lives on globalThis, so a second injection replaces
// the first reader's state instead of adding a second listener.

(() => {
  const SENTENCE = "readaloud-sentence";
  const WORD = "readaloud-word";
  // A sentence the daemon changed beyond spacing (rare) is looked for by its start, then its end.
  const PROBE = 40;
  const SKIPPED = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "TEXTAREA", "SELECT"]);

  /** The visible text under `root` (within `range` when given), white space left out, with
   * where each of its characters lies in the DOM. */
  function indexText(root, range) {
    const nodes = [];
    const offsets = [];
    let flat = "";
    const visible = new Map();
    const isVisible = (element) => {
      if (!visible.has(element)) {
        const shown =
          !SKIPPED.has(element.tagName) &&
          (typeof element.checkVisibility !== "function" ||
            element.checkVisibility({ visibilityProperty: true }));
        visible.set(element, shown);
      }
      return visible.get(element);
    };
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement || !isVisible(node.parentElement)) continue;
      if (range && !range.intersectsNode(node)) continue;
      let from = 0;
      let to = node.data.length;
      if (range && node === range.startContainer) from = range.startOffset;
      if (range && node === range.endContainer) to = range.endOffset;
      for (let i = from; i < to; i += 1) {
        const char = node.data[i];
        if (/\s/.test(char)) continue;
        flat += char;
        nodes.push(node);
        offsets.push(i);
      }
    }
    return { flat, nodes, offsets };
  }

  const squeeze = (text) => String(text || "").replace(/\s+/g, "");

  class Reader {
    constructor({ scope, highlightWord, fromHere, byPointer }) {
      this.highlightWord = highlightWord;
      const selection = window.getSelection();
      const range =
        scope === "selection" && selection && selection.rangeCount && !selection.isCollapsed
          ? selection.getRangeAt(0).cloneRange()
          : null;
      this.index = indexText(document.body, range);
      // The daemon starts at the sentence holding the words sent: at or after their block.
      const here = fromHere ? startPoint(byPointer) : null;
      this.cursor = here ? this.offsetOf({ node: here.block, offset: 0 }) : 0;
      this.sentence = null; // [start, end) in index.flat of the sentence being heard
      this.found = new Map(); // segment index -> where it was found: going back finds it again
      this.wordCursor = 0;
    }

    /** Where a DOM point falls in the index (the first indexed character at or after it). */
    offsetOf(point) {
      if (!point) return 0;
      const { nodes, offsets } = this.index;
      for (let i = 0; i < nodes.length; i += 1) {
        const node = nodes[i];
        if (node === point.node ? offsets[i] >= point.offset : followsPoint(node, point)) return i;
      }
      return 0;
    }

    find(text, from, limit = this.index.flat.length) {
      const { flat } = this.index;
      const needle = squeeze(text);
      if (!needle) return null;
      const at = (found, length) =>
        found >= 0 && found + length <= limit ? [found, found + length] : null;
      let found = at(flat.indexOf(needle, from), needle.length);
      if (!found && needle.length > PROBE) {
        const head = at(flat.indexOf(needle.slice(0, PROBE), from), PROBE);
        if (head) found = [head[0], Math.min(limit, head[0] + needle.length)];
        const tail = head ? null : at(flat.indexOf(needle.slice(-PROBE), from), PROBE);
        if (tail) found = [Math.max(from, tail[1] - needle.length), tail[1]];
      }
      return found;
    }

    rangeOf([start, end]) {
      const { nodes, offsets } = this.index;
      const range = document.createRange();
      range.setStart(nodes[start], offsets[start]);
      range.setEnd(nodes[end - 1], offsets[end - 1] + 1);
      return range;
    }

    onSentence(text, index) {
      // Forward from the last sentence; a skip back finds the one it had (or looks again).
      const found =
        this.found.get(index) || this.find(text, this.cursor) || this.find(text, 0);
      if (found) this.found.set(index, found);
      CSS.highlights.delete(WORD);
      if (!found) {
        CSS.highlights.delete(SENTENCE);
        this.sentence = null;
        return;
      }
      this.sentence = found;
      this.cursor = found[1];
      this.wordCursor = found[0];
      const range = this.rangeOf(found);
      CSS.highlights.set(SENTENCE, new Highlight(range));
      reveal(range);
    }

    onWord(text) {
      if (!this.highlightWord || !this.sentence) return;
      const found = this.find(text, this.wordCursor, this.sentence[1]);
      if (!found) return;
      this.wordCursor = found[1];
      CSS.highlights.set(WORD, new Highlight(this.rangeOf(found)));
    }
  }

  function followsPoint(node, point) {
    const here = document.createRange();
    here.setStart(point.node, point.offset);
    return here.comparePoint(node, 0) > 0;
  }

  const BLOCKS = "p, li, dt, dd, td, th, h1, h2, h3, h4, h5, h6, blockquote, pre, figcaption";

  /** Where "read from here" starts, and its paragraph. From the context menu: the selection's
   * start, else the paragraph under the pointer (an open menu leaves the page's :hover where
   * the right click was; a right click does not move the caret); from the keyboard: the caret
   * or the selection's start. */
  function startPoint(byPointer) {
    const selection = window.getSelection();
    const range = selection && selection.rangeCount ? selection.getRangeAt(0) : null;
    const node = range && range.startContainer;
    const inBody = node && node !== document.body && document.body.contains(node);
    let point = inBody && !(byPointer && range.collapsed)
      ? { node, offset: range.startOffset }
      : null;
    if (!point && byPointer) {
      const hovered = [...document.querySelectorAll(":hover")].pop();
      if (hovered && hovered !== document.body && hovered !== document.documentElement) {
        point = { node: hovered, offset: 0 };
      }
    }
    if (!point) return null;
    const element = point.node.nodeType === Node.ELEMENT_NODE ? point.node : point.node.parentElement;
    return { ...point, block: (element && element.closest(BLOCKS)) || element };
  }

  /** Scrolls the sentence into view when it is not already (no smooth scrolling: it lags). */
  function reveal(range) {
    const box = range.getBoundingClientRect();
    if (box.top >= 0 && box.bottom <= window.innerHeight) return;
    const element = range.startContainer.parentElement;
    if (element) element.scrollIntoView({ block: "center", inline: "nearest" });
  }

  function clear() {
    CSS.highlights.delete(SENTENCE);
    CSS.highlights.delete(WORD);
  }

  /** The words a read from here starts at: up to 8 whole words from the start point to the end
   * of its paragraph (what follows it may not be in the article the daemon extracts). */
  function wordsFromHere(byPointer) {
    const point = startPoint(byPointer);
    if (!point || !point.block) return "";
    const range = document.createRange();
    range.setStart(point.node, point.offset);
    range.setEnd(point.block, point.block.childNodes.length);
    const words = range.toString().split(/\s+/);
    const text = point.node.nodeType === Node.TEXT_NODE ? point.node.data : "";
    if (point.offset > 0 && /\S/.test(text[point.offset - 1] || "")) words.shift(); // a part word
    return words.filter(Boolean).slice(0, 8).join(" ");
  }

  const state = globalThis.readaloudHighlight || {};
  if (!state.listening) {
    chrome.runtime.onMessage.addListener((message) => {
      if (!message || message.type !== "readaloud-highlight") return;
      const reader = globalThis.readaloudHighlight.reader;
      const event = message.event;
      if (event.type === "clear") clear();
      else if (!reader) return;
      else if (event.type === "segment_start") reader.onSentence(event.text, event.index);
      else if (event.type === "word") reader.onWord(event.text);
    });
    state.listening = true;
  }
  state.prepare = (options) => {
    clear();
    state.reader = new Reader(options);
    return options.fromHere ? wordsFromHere(options.byPointer) : "";
  };
  globalThis.readaloudHighlight = state;
})();
