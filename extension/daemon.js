// Talking to the readaloud daemon on this computer, and saying in plain words what went wrong.
// Shared by the background script and the options page.

import { NoHost, nativeEvents, nativeRequest } from "./native.js";

export const DEFAULT_PORT = 7412;

// Loopback only: the daemon never listens elsewhere, and the extension may reach nothing else.
const HOST = "127.0.0.1";

// Extracting a long page happens before the daemon answers; a dead daemon fails at once anyway.
const TIMEOUT_MS = 30000;

/** What the user has to do something about; `kind` picks the message. */
export class Problem extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/** This extension's origin as the daemon sees it: chrome-extension://<id> or moz-extension://<uuid>. */
export function extensionOrigin() {
  return new URL(chrome.runtime.getURL("/")).origin;
}

/** The line the daemon's config needs so that it accepts this extension. */
export function allowedOriginsLine() {
  return `allowed_origins = ["${extensionOrigin()}"]`;
}

// What the page shows as it is read: "word" (the sentence and the word), "sentence" or "off".
const HIGHLIGHTS = ["word", "sentence", "off"];

export async function loadSettings() {
  const stored = await chrome.storage.local.get({
    port: DEFAULT_PORT,
    token: "",
    highlight: HIGHLIGHTS[0],
    rate: null,
    voice: "",
  });
  const rate = Number(stored.rate);
  return {
    port: Number(stored.port) || DEFAULT_PORT,
    token: String(stored.token || "").trim(),
    highlight: HIGHLIGHTS.includes(stored.highlight) ? stored.highlight : HIGHLIGHTS[0],
    // Chosen in the popup; unset: the daemon's own ([speech] rate, [voices] default).
    rate: stored.rate !== null && rate >= MIN_RATE && rate <= MAX_RATE ? rate : null,
    voice: String(stored.voice || ""),
  };
}

// The daemon's limits for rate (config.py MIN_RATE, MAX_RATE).
export const MIN_RATE = 0.25;
export const MAX_RATE = 4;

export async function saveSettings({ port, token, highlight }) {
  const settings = { port: Number(port), token: String(token).trim() };
  if (HIGHLIGHTS.includes(highlight)) settings.highlight = highlight;
  await chrome.storage.local.set(settings);
}

export function validPort(port) {
  const number = Number(port);
  return Number.isInteger(number) && number >= 1 && number <= 65535;
}

const MESSAGES = {
  not_running: (port) =>
    `The readaloud daemon is not running: nothing answers on port ${port}. ` +
    "Start it with 'systemctl --user start readaloud' (or 'readaloud daemon'), " +
    "and check that the port in the extension's options matches [server] port in its config.",
  no_token: () =>
    "No token is set. Run 'readaloud browser install' in a terminal once and restart the " +
    "browser (then no token is needed), or run 'readaloud token' and paste what it prints " +
    "into the extension's options.",
  wrong_token: () =>
    "The daemon refused the token. Run 'readaloud token' in a terminal and paste what it " +
    "prints into the extension's options.",
  bad_origin: () =>
    "The daemon does not accept requests from this extension. Add this line under [server] " +
    "in ~/.config/readaloud/readaloud.toml, then restart the daemon " +
    "('systemctl --user restart readaloud'): " +
    allowedOriginsLine() +
    ` (if an allowed_origins line is already there, add "${extensionOrigin()}" to its list).`,
  not_readaloud: (port) =>
    `Something that is not readaloud answers on port ${port}. ` +
    "Check [server] port in the daemon's config and the port in the extension's options.",
  no_permission: () =>
    "The extension may not reach the daemon on 127.0.0.1. Allow it in the browser's " +
    "extension settings (Permissions: access to 127.0.0.1 and localhost).",
  timeout: (port) => `The daemon on port ${port} did not answer within ${TIMEOUT_MS / 1000} seconds.`,
};

export function problem(kind, port, detail) {
  const make = MESSAGES[kind];
  return new Problem(kind, make ? make(port) : detail || "The daemon refused the request.");
}

async function errorOf(response) {
  try {
    const body = await response.json();
    return body && body.error ? body.error : {};
  } catch {
    return {};
  }
}

async function problemFor(response, port) {
  return problemOf(response.status, await errorOf(response), port);
}

function problemOf(status, error, port) {
  if (status === 401) return problem("wrong_token", port);
  if (status === 403 && error.type === "bad_origin") return problem("bad_origin", port);
  if (error.message) return new Problem(error.type || "refused", error.message);
  return problem("not_readaloud", port);
}

/**
 * Follows the daemon's events (GET /v1/events), through the native host when it is installed,
 * else over HTTP: calls onEvent with each, and with {type: "lost"} when the stream ends.
 * Resolves once the stream is open (no later event is missed); `signal` ends it.
 */
export async function listenEvents(settings, onEvent, signal) {
  try {
    await nativeEvents(onEvent, signal);
    return;
  } catch (error) {
    if (!(error instanceof NoHost)) throw error;
  }
  if (!settings.token) throw problem("no_token", settings.port);
  const response = await fetch(`http://${HOST}:${settings.port}/v1/events`, {
    headers: { Authorization: `Bearer ${settings.token}`, Accept: "text/event-stream" },
    cache: "no-store",
    credentials: "omit",
    signal,
  });
  if (!response.ok) throw await problemFor(response, settings.port);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let connected;
  const opened = new Promise((resolve) => {
    connected = resolve;
  });
  (async () => {
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        connected(); // the daemon's first bytes (": connected")
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const data = buffer
            .slice(0, end)
            .split("\n")
            .filter((line) => line.startsWith("data:"))
            .map((line) => line.slice(5).trim())
            .join("\n");
          buffer = buffer.slice(end + 2);
          if (data) onEvent(JSON.parse(data));
        }
      }
    } catch {
      // Aborted, or the daemon went away.
    } finally {
      connected();
      onEvent({ type: "lost" });
    }
  })();
  await opened;
}

/** fetch() against the daemon; every failure becomes a Problem with a message for the user. */
async function call(settings, method, path, { body, auth = true } = {}) {
  try {
    const answer = await nativeRequest(method, path, body);
    const error = (answer.body && answer.body.error) || {};
    if (answer.status >= 400) throw problemOf(answer.status, error, settings.port);
    return answer.body;
  } catch (failure) {
    if (!(failure instanceof NoHost)) throw failure;
  }
  const headers = {};
  if (auth) {
    if (!settings.token) throw problem("no_token", settings.port);
    headers.Authorization = `Bearer ${settings.token}`;
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`http://${HOST}:${settings.port}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    if (error && error.name === "TimeoutError") throw problem("timeout", settings.port);
    if (!(await mayReachDaemon(settings.port))) throw problem("no_permission", settings.port);
    throw problem("not_running", settings.port);
  }
  if (!response.ok) throw await problemFor(response, settings.port);
  try {
    return await response.json();
  } catch {
    throw problem("not_readaloud", settings.port);
  }
}

/** Firefox lets users withhold host permissions; Chrome grants them at install. */
async function mayReachDaemon(port) {
  try {
    return await chrome.permissions.contains({ origins: [`http://${HOST}/*`] });
  } catch {
    return true;
  }
}

/** Ask the daemon to read `request` ({text} or {html}) with the popup's rate and voice;
 * resolves to the utterance id. */
export async function speak(settings, request) {
  const body = { ...request };
  if (settings.rate !== null) body.rate = settings.rate;
  if (settings.voice) body.voice = settings.voice;
  const answer = await call(settings, "POST", "/v1/speak", { body });
  return answer.id;
}

export async function stopReading(settings) {
  await call(settings, "POST", "/v1/stop", { body: {} });
}

/** Pause or resume what is read ("pause", "resume"), or move by sentences ("skip", count). */
export async function control(settings, action, count = 1) {
  const body = action === "skip" ? { count } : {};
  return call(settings, "POST", `/v1/${action}`, { body });
}

/** Read on at `rate` from the sentence being heard. */
export async function setRate(settings, rate) {
  return call(settings, "POST", "/v1/rate", { body: { rate } });
}

/** What the daemon is doing: {state: idle|speaking|paused, segment: {text…}|null, …}. */
export async function daemonStatus(settings) {
  return call(settings, "GET", "/v1/status");
}

/** The voices the daemon has: [{id, engine, languages, description}]. */
export async function daemonVoices(settings) {
  return (await call(settings, "GET", "/v1/voices")).voices;
}

/**
 * What "Test connection" reports: is a daemon there (GET /healthz, no token), does it take the
 * token (GET /v1/status), and does it accept this extension's origin? Resolves to the status, or
 * throws a Problem.
 */
export async function checkConnection(settings) {
  const health = await call(settings, "GET", "/healthz", { auth: false });
  if (!health || health.status !== "ok") throw problem("not_readaloud", settings.port);
  const status = await call(settings, "GET", "/v1/status");
  await checkOrigin(settings);
  return { ...status, native: await throughHost() };
}

/** Whether requests go through the native host now (true) or over HTTP (false). */
export async function throughHost() {
  try {
    await nativeRequest("GET", "/healthz");
    return true;
  } catch {
    return false;
  }
}

/**
 * Browsers send Origin with an extension's POSTs but not with its GETs, so only a POST shows
 * whether the daemon allows this extension. An empty speak request passes the origin and token
 * checks, then is refused as invalid: nothing is spoken.
 */
async function checkOrigin(settings) {
  try {
    await call(settings, "POST", "/v1/speak", { body: {} });
  } catch (failure) {
    if (failure instanceof Problem && failure.kind === "invalid_request") return;
    throw failure;
  }
}
