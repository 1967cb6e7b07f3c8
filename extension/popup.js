// The toolbar button's popup: it starts reading the selection (else the page) when nothing is
// being read, then offers pause/go on, stop, previous/next sentence, speed and voice. The
// reading itself is asked for by the background (it keeps the page's highlight going after
// this popup closes); the controls call the daemon directly.

import {
  MAX_RATE,
  MIN_RATE,
  Problem,
  control,
  daemonStatus,
  daemonVoices,
  loadSettings,
  setRate,
  stopReading,
} from "./daemon.js";

const POLL_MS = 300;
const RATE_SETTLE_MS = 400;
const STATES = { idle: "Not reading.", speaking: "Reading.", paused: "Paused." };

const stateLine = document.getElementById("state");
const sentenceLine = document.getElementById("sentence");
const play = document.getElementById("play");
const rate = document.getElementById("rate");
const rateValue = document.getElementById("rate-value");
const voice = document.getElementById("voice");

let settings = null;
let state = "idle";

function show(kind, message) {
  stateLine.dataset.kind = kind;
  if (stateLine.textContent !== message) stateLine.textContent = message;
}

function showProblem(failure) {
  show("problem", failure instanceof Problem || failure.message ? failure.message : String(failure));
}

async function refresh() {
  try {
    const status = await daemonStatus(settings);
    state = status.state;
    show("ok", STATES[state] || state);
    sentenceLine.textContent = status.segment ? status.segment.text : "";
    play.textContent = state === "speaking" ? "Pause" : state === "paused" ? "Go on" : "Read";
  } catch (failure) {
    showProblem(failure);
  }
}

/** Read the selection (else the page) of the tab this popup belongs to, through the background. */
async function read() {
  const answer = await chrome.runtime.sendMessage({ type: "readaloud-read" });
  if (answer && answer.problem) show("problem", answer.problem);
}

async function act(what) {
  try {
    if (what === "play") {
      if (state === "speaking") await control(settings, "pause");
      else if (state === "paused") await control(settings, "resume");
      else await read();
    } else if (what === "stop") {
      await chrome.runtime.sendMessage({ type: "readaloud-stop" });
    } else {
      await control(settings, "skip", what === "next" ? 1 : -1);
    }
  } catch (failure) {
    showProblem(failure);
  }
  await refresh();
}

function showRate(value) {
  rateValue.textContent = `${Number(value).toFixed(1)}×`;
}

async function fillVoices() {
  try {
    for (const each of await daemonVoices(settings)) {
      const option = document.createElement("option");
      option.value = each.id;
      option.textContent = each.description || each.id;
      voice.append(option);
    }
  } catch {
    // The state line already says what is wrong with the daemon.
  }
  voice.value = settings.voice;
  if (voice.value !== settings.voice) voice.value = ""; // a voice the daemon no longer has
}

function onKey(event) {
  if (event.target.closest("input, select") || event.altKey || event.ctrlKey || event.metaKey) {
    return;
  }
  const what = { k: "play", s: "stop", ArrowLeft: "previous", ArrowRight: "next" }[event.key];
  if (!what) return;
  event.preventDefault();
  act(what);
}

async function init() {
  settings = await loadSettings();
  rate.min = String(Math.max(MIN_RATE, Number(rate.min)));
  rate.max = String(Math.min(MAX_RATE, Number(rate.max)));
  rate.value = String(settings.rate ?? 1);
  showRate(rate.value);
  rate.addEventListener("input", () => showRate(rate.value));
  let settle = null;
  rate.addEventListener("change", async () => {
    const value = Number(rate.value);
    await chrome.storage.local.set({ rate: value });
    // The reading under way goes on at the new speed from its sentence, once the arrow keys
    // have stopped moving the slider (each restart would repeat the sentence's start).
    clearTimeout(settle);
    settle = setTimeout(async () => {
      if (state === "idle") return;
      try {
        await setRate(settings, value);
      } catch (failure) {
        showProblem(failure);
      }
    }, RATE_SETTLE_MS);
  });
  voice.addEventListener("change", () => chrome.storage.local.set({ voice: voice.value }));
  for (const what of ["play", "stop", "previous", "next"]) {
    document.getElementById(what).addEventListener("click", () => act(what));
  }
  document.addEventListener("keydown", onKey);
  await refresh();
  fillVoices();
  if (state === "idle" && !stateLine.dataset.kind.startsWith("problem")) {
    await read(); // the toolbar button reads at once, as it did before it had a popup
    await refresh();
  }
  play.focus();
  document.body.dataset.ready = "true";
  setInterval(refresh, POLL_MS);
}

init();
