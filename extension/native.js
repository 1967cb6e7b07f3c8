// The daemon through the native messaging host ('readaloud browser install'): no token, no
// config edit. When the host is not installed, everything goes over HTTP with the token.

export const HOST_NAME = "readaloud.daemon";

// A missing host is looked for again after this long (the user may install it meanwhile).
const RETRY_MS = 5000;

/** The host is not installed (or cannot start): use HTTP. */
export class NoHost extends Error {}

let port = null;
let missingSince = 0;
let nextId = 1;
const pending = new Map(); // id -> {resolve, reject} of a request
const followers = new Map(); // id -> onEvent of an event stream

function connect() {
  if (port) return port;
  if (missingSince && Date.now() - missingSince < RETRY_MS) throw new NoHost("no host");
  let opened;
  try {
    opened = chrome.runtime.connectNative(HOST_NAME);
  } catch (error) {
    missingSince = Date.now(); // no nativeMessaging permission (a browser without it)
    throw new NoHost(String(error));
  }
  port = opened;
  let answered = false;
  opened.onMessage.addListener((message) => {
    answered = true;
    missingSince = 0;
    if (message.event) {
      const onEvent = followers.get(message.id);
      if (onEvent) onEvent(message.event);
      return;
    }
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    waiting.resolve(message);
  });
  opened.onDisconnect.addListener(() => {
    const reason = (chrome.runtime.lastError && chrome.runtime.lastError.message) || "closed";
    if (port === opened) port = null;
    if (!answered) missingSince = Date.now();
    // Before any answer: there is no host; after one, the host ended (fall back likewise).
    for (const waiting of pending.values()) waiting.reject(new NoHost(reason));
    pending.clear();
    for (const onEvent of followers.values()) onEvent({ type: "lost" });
    followers.clear();
  });
  return opened;
}

/** One API request through the host: resolves to {status, body}; rejects with NoHost. */
export function nativeRequest(method, path, body) {
  const connected = connect();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    connected.postMessage({ id, method, path, body });
  });
}

/** Follows the daemon's events through the host; resolves (to a function that stops it) once
 * the daemon's stream is open. Rejects with NoHost. */
export function nativeEvents(onEvent, signal) {
  const connected = connect();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const stop = () => {
      followers.delete(id);
      if (port === connected) connected.postMessage({ id, type: "unfollow" });
    };
    let opened = false;
    followers.set(id, (event) => {
      if (event.type === "connected") {
        opened = true;
        pending.delete(id);
        resolve(stop);
      } else if (event.type !== "lost") onEvent(event);
      // Lost before it opened: no host, or the host could not reach the daemon (use HTTP).
      else if (opened) onEvent(event);
      else {
        followers.delete(id);
        reject(new NoHost("the host's event stream ended"));
      }
    });
    pending.set(id, { resolve() {}, reject });
    connected.postMessage({ id, type: "events" });
    if (signal) signal.addEventListener("abort", stop, { once: true });
  });
}
