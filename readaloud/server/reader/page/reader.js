// The reader page: shows what the daemon reads, large, with the sentence and the word lit when
// they are heard (the daemon's events come from its player), and the controls to steer it.

const $ = (id) => document.getElementById(id);
const SETTINGS_KEY = "readaloud-reader";
const DEFAULTS = {
  font: "sans", size: 32, line: 1.8, letter: 0, word: 0, theme: "light", follow: "word", rate: 1,
};
const reduceMotion = matchMedia("(prefers-reduced-motion: reduce)");

let settings = { ...DEFAULTS };
let reading = null; // {id, streamed, pieces: [{node, start}], segment}
let state = "idle";

// -- settings ---------------------------------------------------------------------------------

function loadSettings() {
  try {
    settings = { ...DEFAULTS, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") };
  } catch {
    settings = { ...DEFAULTS };
  }
}

function saveSettings() {
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
}

function applySettings() {
  const root = document.documentElement;
  root.dataset.font = settings.font;
  root.dataset.theme = settings.theme;
  root.style.setProperty("--size", `${settings.size}px`);
  root.style.setProperty("--line", String(settings.line));
  root.style.setProperty("--letter", `${settings.letter}em`);
  root.style.setProperty("--word", `${settings.word}em`);
  for (const name of ["font", "theme", "follow", "size", "line", "letter", "word", "rate"]) {
    $(name).value = String(settings[name]);
  }
  $("size-value").textContent = `${settings.size} px`;
  $("line-value").textContent = `${Number(settings.line).toFixed(1)}`;
  $("letter-value").textContent = `${Number(settings.letter).toFixed(2)} em`;
  $("word-value").textContent = `${Number(settings.word).toFixed(2)} em`;
  $("rate-value").textContent = `${Number(settings.rate).toFixed(1)}×`;
  if (settings.follow === "off") clearHighlights();
  checkFont();
}

async function checkFont() {
  if (settings.font !== "dyslexic") {
    $("font-note").textContent = "";
    return;
  }
  await document.fonts.load(`16px "OpenDyslexic"`).catch(() => []);
  $("font-note").textContent = document.fonts.check(`16px "OpenDyslexic"`)
    ? ""
    : "OpenDyslexic is not installed: apt install fonts-opendyslexic";
}

function bindSettings() {
  for (const name of ["font", "theme", "follow"]) {
    $(name).addEventListener("change", () => {
      settings[name] = $(name).value;
      saveSettings();
      applySettings();
    });
  }
  for (const name of ["size", "line", "letter", "word"]) {
    $(name).addEventListener("input", () => {
      settings[name] = Number($(name).value);
      saveSettings();
      applySettings();
    });
  }
  $("settings-button").addEventListener("click", () => {
    const open = $("settings").hidden;
    $("settings").hidden = !open;
    $("settings-button").setAttribute("aria-expanded", String(open));
    if (open) $("font").focus();
  });
}

// -- the text and its highlight ---------------------------------------------------------------

function clearHighlights() {
  CSS.highlights.delete("reader-sentence");
  CSS.highlights.delete("reader-word");
}

/** Shows a reading's whole text, a paragraph per block, keeping each paragraph's offset. */
function showText(id, text) {
  const main = $("text");
  main.replaceChildren();
  const pieces = [];
  const blank = /\n[ \t]*\n\s*/g;
  let start = 0;
  for (;;) {
    const found = blank.exec(text);
    const end = found ? found.index : text.length;
    if (end > start) {
      const paragraph = document.createElement("p");
      const node = document.createTextNode(text.slice(start, end));
      paragraph.append(node);
      main.append(paragraph);
      pieces.push({ node, start });
    }
    if (!found) break;
    start = blank.lastIndex;
  }
  reading = { id, streamed: false, pieces, segment: null };
}

/** A document or page read as it arrives: each sentence heard is added. */
function startStream(id) {
  $("text").replaceChildren();
  reading = { id, streamed: true, pieces: [], segment: null, paragraph: null };
  // Sentences heard before this page opened are not known: only what comes from now on.
}

function addSentence(segment) {
  const last = reading.pieces[reading.pieces.length - 1];
  if (last && segment.start < last.end) return; // heard again (a skip back): it is shown
  // A gap of more than a space between sentences is a paragraph break in the document.
  if (!reading.paragraph || (last && segment.start - last.end > 1)) {
    reading.paragraph = document.createElement("p");
    $("text").append(reading.paragraph);
  }
  const separator = reading.paragraph.childNodes.length ? " " : "";
  const node = document.createTextNode(separator + segment.text);
  reading.paragraph.append(node);
  reading.pieces.push({ node, start: segment.start - separator.length, end: segment.end });
  while (reading.pieces.length > 500) {
    // A book stays light: the first paragraph shown goes, with its sentences.
    const first = $("text").firstChild;
    if (first === reading.paragraph) break;
    reading.pieces = reading.pieces.filter((piece) => piece.node.parentNode !== first);
    first.remove();
  }
}

/** The DOM position of character `offset` of the reading's text. */
function position(offset) {
  const pieces = reading.pieces;
  let low = 0;
  let high = pieces.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (pieces[middle].start <= offset) low = middle;
    else high = middle - 1;
  }
  const piece = pieces[low];
  const local = Math.max(0, Math.min(offset - piece.start, piece.node.length));
  return [piece.node, local];
}

function rangeOf(start, end) {
  const range = document.createRange();
  range.setStart(...position(start));
  range.setEnd(...position(end));
  return range;
}

function light(name, range) {
  CSS.highlights.set(name, new Highlight(range));
}

function scrollTo(range) {
  const box = range.getBoundingClientRect();
  const header = document.querySelector("header").getBoundingClientRect().bottom;
  if (box.top >= header + 8 && box.bottom <= innerHeight * 0.75) return;
  window.scrollBy({
    top: box.top - header - innerHeight * 0.2,
    behavior: reduceMotion.matches ? "auto" : "smooth",
  });
}

function onSegment(segment) {
  if (!reading || reading.id !== segment.id) return;
  if (reading.streamed) addSentence(segment);
  reading.segment = segment;
  if (settings.follow === "off") return;
  const range = rangeOf(segment.start, segment.end);
  CSS.highlights.delete("reader-word");
  light("reader-sentence", range);
  scrollTo(range);
}

function onWord(word) {
  if (!reading || reading.id !== word.id || settings.follow !== "word" || !reading.pieces.length)
    return;
  light("reader-word", rangeOf(word.start, word.end));
}

// -- state and controls -----------------------------------------------------------------------

function say(text) {
  $("state").textContent = text;
}

function setState(next) {
  state = next;
  const paused = state === "paused";
  $("toggle").textContent = paused ? "\u25B6\uFE0E Go on" : "\u23F8\uFE0E Pause";
  $("toggle").setAttribute("aria-pressed", String(paused));
  document.body.dataset.state = state;
  say(
    { speaking: "Reading.", paused: "Paused.", idle: "Stopped: nothing is being read." }[state] ||
      state,
  );
}

async function control(action, extra = {}) {
  let response;
  try {
    response = await fetch("/reader/api/control", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action, ...extra }),
      cache: "no-store",
    });
  } catch {
    say("readaloud is not answering: is the daemon running? (systemctl --user start readaloud)");
    return null;
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    say((answer.error && answer.error.message) || `readaloud answered ${response.status}.`);
    return null;
  }
  if (answer.state) setState(answer.state);
  return answer;
}

function changeRate(rate) {
  settings.rate = Math.round(Math.min(3, Math.max(0.5, rate)) * 10) / 10;
  saveSettings();
  applySettings();
  if (state !== "idle") control("rate", { rate: settings.rate });
}

function bindControls() {
  $("toggle").addEventListener("click", () => control("toggle"));
  $("stop").addEventListener("click", () => control("stop"));
  $("previous").addEventListener("click", () => control("skip", { count: -1 }));
  $("next").addEventListener("click", () => control("skip", { count: 1 }));
  $("rate").addEventListener("input", () => {
    $("rate-value").textContent = `${Number($("rate").value).toFixed(1)}×`;
  });
  $("rate").addEventListener("change", () => changeRate(Number($("rate").value)));
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    const inField = event.target.closest("select, input");
    const keys = {
      k: () => control("toggle"),
      " ": () => control("toggle"),
      s: () => control("stop"),
      Escape: () => control("stop"),
      ArrowLeft: () => control("skip", { count: -1 }),
      ArrowRight: () => control("skip", { count: 1 }),
      "+": () => changeRate(settings.rate + 0.1),
      "=": () => changeRate(settings.rate + 0.1),
      "-": () => changeRate(settings.rate - 0.1),
    };
    const act = keys[event.key];
    // In a list or a slider the arrows and space are that control's own.
    if (!act || (inField && !["Escape", "k", "s"].includes(event.key))) return;
    if (event.key === " " && event.target.closest("button")) return; // the button's own click
    event.preventDefault();
    act();
  });
}

// -- the daemon's events ----------------------------------------------------------------------

function begin(utterance) {
  clearHighlights();
  if (utterance.text) showText(utterance.id, utterance.text);
  else startStream(utterance.id);
}

function follow() {
  const events = new EventSource("/reader/api/events");
  const on = (type, handle) =>
    events.addEventListener(type, (message) => handle(JSON.parse(message.data)));
  on("utterance_start", (utterance) => {
    begin(utterance);
    setState("speaking");
  });
  on("segment_start", onSegment);
  on("word", onWord);
  on("paused", () => setState("paused"));
  on("resumed", () => setState("speaking"));
  on("utterance_end", (end) => {
    if (reading && reading.id === end.id) {
      clearHighlights();
      setState("idle");
    }
  });
  on("error", (failure) => {
    if (failure && failure.message) say(failure.message);
  });
  on("stopping", () => say("The readaloud daemon is stopping."));
  events.addEventListener("open", () => document.body.dataset.ready = "true");
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) {
      say("Lost readaloud: run 'readaloud reader' again once the daemon runs.");
    }
  };
}

async function catchUp() {
  const response = await fetch("/reader/api/now", { cache: "no-store" });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    say((answer.error && answer.error.message) || "readaloud refused the reader page.");
    return;
  }
  const now = await response.json();
  if (now.utterance) {
    begin(now.utterance);
    if (now.segment) onSegment(now.segment);
  }
  setState(now.state);
}

loadSettings();
applySettings();
bindSettings();
bindControls();
follow();
catchUp();
