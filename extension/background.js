// The extension's background: context menus, the toolbar button and the keyboard shortcuts all
// end in readSelection / readPage / readSelectionOrPage / stop below, which call the daemon.
//
// Pages are read from the DOM the browser already has (document.documentElement.outerHTML), so
// pages behind a login work; the daemon extracts the article. Access to the page comes from
// activeTab: the user's click or shortcut grants it for that tab only.

import { Problem, loadSettings, speak, stopReading, throughHost } from "./daemon.js";
import { prepareFollowing, stopFollowing } from "./follow.js";

const MENU = {
  selection: "read-selection",
  page: "read-page",
  fromHere: "read-from-here",
  stop: "stop-reading",
};

const COMMAND = { read: "read-aloud", fromHere: "read-from-here", stop: "stop-reading" };

// Characters of page HTML sent as is; past this, scripts and styles are dropped first (the
// daemon caps request bodies at [server] max_body_bytes, 8 MB by default).
const HTML_LIMIT = 2000000;

const NOTIFICATION = "readaloud-problem";

// Settings problems: clicking their notification opens the options page.
const SETTINGS_PROBLEMS = new Set([
  "no_token",
  "wrong_token",
  "bad_origin",
  "not_running",
  "not_readaloud",
  "no_permission",
]);

// --- what runs in the page (each function is injected alone: no outside names) ---------------

function selectedTextInPage() {
  const field = document.activeElement;
  const textField =
    field instanceof HTMLTextAreaElement ||
    (field instanceof HTMLInputElement && /^(text|search|url|tel|email)$/i.test(field.type));
  if (textField && field.selectionStart !== field.selectionEnd) {
    return field.value.slice(field.selectionStart, field.selectionEnd);
  }
  const selection = window.getSelection();
  return selection ? selection.toString() : "";
}

function pageHtmlInPage(limit) {
  const html = document.documentElement.outerHTML;
  if (html.length <= limit) return html;
  // An inert copy (DOMParser loads nothing) without what is never read aloud.
  const copy = new DOMParser().parseFromString(html, "text/html");
  copy
    .querySelectorAll("script, style, noscript, template, svg, canvas, iframe, object, embed")
    .forEach((node) => node.remove());
  copy.querySelectorAll("[style]").forEach((node) => node.removeAttribute("style"));
  return copy.documentElement.outerHTML;
}

// --- getting text out of a tab -----------------------------------------------------------------

class Unreadable extends Error {}

// activeTab is granted as the click or shortcut reaches us, but the page's process can learn of
// it a moment later (seen on a busy machine): a refusal then is retried for up to 1.5 s.
const RETRY_DELAYS_MS = [50, 100, 200, 400, 750];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function runInTab(tab, target, func, args = []) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await chrome.scripting.executeScript({
        target: { tabId: tab.id, ...target },
        func,
        args,
      });
    } catch (error) {
      const message = String(error && error.message ? error.message : error);
      if (/Cannot access contents/i.test(message) && attempt < RETRY_DELAYS_MS.length) {
        await sleep(RETRY_DELAYS_MS[attempt]);
        continue;
      }
      // Browser pages, the extension stores, the PDF viewer: no extension may script them.
      throw new Unreadable(message);
    }
  }
}

/** The selected text in one frame of the tab, or in any frame when frameId is undefined:
 * {text, frameId} (text "" when nothing is selected). */
async function selectionIn(tab, frameId) {
  // allFrames skips the frames activeTab does not cover (other sites' iframes).
  const target = frameId === undefined ? { allFrames: true } : { frameIds: [frameId] };
  const results = await runInTab(tab, target, selectedTextInPage);
  const found = (results || []).find((r) => r.result && r.result.trim());
  return found ? { text: found.result, frameId: found.frameId } : { text: "", frameId };
}

async function pageHtml(tab) {
  const [first] = await runInTab(tab, {}, pageHtmlInPage, [HTML_LIMIT]);
  return first && first.result ? first.result : "";
}

// --- telling the user --------------------------------------------------------------------------

let lastProblem = "";

async function tell(failure) {
  const kind = failure instanceof Problem ? failure.kind : "error";
  const message = failure.message || String(failure);
  lastProblem = message;
  await chrome.action.setBadgeBackgroundColor({ color: "#B00020" });
  await chrome.action.setBadgeText({ text: "!" });
  await chrome.action.setTitle({ title: `readaloud: ${message}` });
  try {
    // A desktop notification: screen readers announce it; the badge alone is only visible.
    await chrome.notifications.create(`${NOTIFICATION}:${kind}`, {
      type: "basic",
      iconUrl: chrome.runtime.getURL("icons/icon-128.png"),
      title: "readaloud",
      message,
      priority: 2,
    });
  } catch {
    // No notification service (some desktops, headless browsers): the badge and title remain.
  }
}

async function allIsWell() {
  await chrome.action.setBadgeText({ text: "" });
  await chrome.action.setTitle({ title: chrome.runtime.getManifest().action.default_title });
  try {
    const shown = await chrome.notifications.getAll();
    await Promise.all(Object.keys(shown).map((id) => chrome.notifications.clear(id)));
  } catch {
    // No notification service: nothing to clear.
  }
}

/** Reads `request` aloud; with `follow` ({tab, frameId, scope}) the tab shows what is heard. */
async function send(request, follow = null) {
  const settings = await loadSettings();
  let following = null;
  if (follow) {
    [following] = await prepareFollowing(settings, follow.tab, follow.frameId, {
      scope: follow.scope,
      highlight: settings.highlight,
    });
  }
  return speakFollowed(settings, request, following);
}

async function speakFollowed(settings, request, following) {
  try {
    const id = await speak(settings, request);
    if (following) following.follow(id);
    await allIsWell();
    return id;
  } catch (failure) {
    if (following) following.close();
    await tell(failure);
    return null;
  }
}

// --- the actions -------------------------------------------------------------------------------

/** "Read selection aloud": the selection in the clicked frame (the menu's own copy as fallback). */
async function readSelection(tab, info = {}) {
  let found = { text: "", frameId: info.frameId };
  try {
    found = await selectionIn(tab, info.frameId);
  } catch (error) {
    // A page no extension may script (the PDF viewer, say): the menu still knows the text.
    console.warn("readaloud: using the menu's copy of the selection:", error);
  }
  if (!found.text.trim()) return readText(info.selectionText || "");
  return send({ text: found.text }, { tab, frameId: found.frameId, scope: "selection" });
}

async function readText(text) {
  if (!text.trim()) {
    await tell(new Problem("nothing_selected", "Nothing is selected: select some text first."));
    return null;
  }
  return send({ text });
}

/** "Read this page aloud": the page's DOM, extracted by the daemon. */
async function readPage(tab) {
  let html;
  try {
    html = await pageHtml(tab);
  } catch (error) {
    if (error instanceof Unreadable && /^https?:/.test(tab.url || "")) {
      return send({ url: tab.url }); // unscriptable (a PDF, say): let the daemon fetch it
    }
    await tell(new Problem("unreadable", "The browser does not let extensions read this page."));
    return null;
  }
  return send({ html }, { tab, frameId: 0, scope: "page" });
}

/** "Read from here": the article from the paragraph at the caret (byPointer: under the pointer,
 * where the context menu was opened) to its end. */
async function readFromHere(tab, byPointer = false) {
  let html;
  try {
    html = await pageHtml(tab);
  } catch {
    await tell(new Problem("unreadable", "The browser does not let extensions read this page."));
    return null;
  }
  const settings = await loadSettings();
  const [following, words] = await prepareFollowing(settings, tab, 0, {
    scope: "page",
    highlight: settings.highlight,
    fromHere: true,
    byPointer,
  });
  if (!words) {
    if (following) following.close();
    await tell(
      new Problem(
        "nowhere",
        "Read from here needs a place to start: click in a paragraph (or move the caret " +
          "there), then choose Read from here again.",
      ),
    );
    return null;
  }
  return speakFollowed(settings, { html, from: words }, following);
}

/** The toolbar button and the "read" shortcut: the selection if there is one, else the page. */
async function readSelectionOrPage(tab) {
  let found = { text: "" };
  try {
    found = await selectionIn(tab);
  } catch (error) {
    // Unscriptable page: readPage says so, or hands the address to the daemon.
    console.warn("readaloud: could not look for a selection:", error);
  }
  if (!found.text.trim()) return readPage(tab);
  return send({ text: found.text }, { tab, frameId: found.frameId, scope: "selection" });
}

async function stop() {
  stopFollowing();
  try {
    await stopReading(await loadSettings());
    await allIsWell();
  } catch (failure) {
    await tell(failure);
  }
}

async function activeTab() {
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  return tab;
}

// --- wiring: listeners are registered at the top level, as service workers need ---------------

function createMenus() {
  chrome.contextMenus.removeAll(() => {
    chrome.contextMenus.create({
      id: MENU.selection,
      title: "Read selection aloud",
      contexts: ["selection"],
    });
    chrome.contextMenus.create({ id: MENU.page, title: "Read this page aloud", contexts: ["page"] });
    chrome.contextMenus.create({
      id: MENU.fromHere,
      title: "Read from here",
      contexts: ["page", "selection"],
    });
    chrome.contextMenus.create({
      id: MENU.stop,
      title: "Stop reading",
      contexts: ["page", "selection", "action"],
    });
  });
}

async function onMenuClicked(info, tab) {
  if (info.menuItemId === MENU.selection) return readSelection(tab, info);
  if (info.menuItemId === MENU.page) return readPage(tab);
  if (info.menuItemId === MENU.fromHere) return readFromHere(tab, true);
  if (info.menuItemId === MENU.stop) return stop();
  return null;
}

async function onActionClicked(tab) {
  return readSelectionOrPage(tab);
}

/** The popup's requests: it is an extension page (no tab); pages and frames are not heard. */
function onMessage(message, sender, reply) {
  if (sender.id !== chrome.runtime.id || sender.tab || !message) return false;
  let done;
  if (message.type === "readaloud-read") {
    lastProblem = "";
    done = activeTab()
      .then((tab) => readSelectionOrPage(tab))
      .then((id) => (id ? { id } : { problem: lastProblem || "Nothing was read." }));
  } else if (message.type === "readaloud-stop") {
    done = stop().then(() => ({}));
  } else {
    return false;
  }
  done.then(reply, (error) => reply({ problem: String(error) }));
  return true; // the reply comes later
}

async function onCommand(command, tab) {
  if (command === COMMAND.stop) return stop();
  if (command === COMMAND.read) return readSelectionOrPage(tab || (await activeTab()));
  if (command === COMMAND.fromHere) return readFromHere(tab || (await activeTab()));
  return null;
}

function onNotificationClicked(id) {
  const kind = id.startsWith(`${NOTIFICATION}:`) ? id.slice(NOTIFICATION.length + 1) : "";
  if (SETTINGS_PROBLEMS.has(kind)) chrome.runtime.openOptionsPage();
  chrome.notifications.clear(id);
}

chrome.runtime.onInstalled.addListener(async (details) => {
  createMenus();
  if (details.reason === "install" && !(await loadSettings()).token && !(await throughHost())) {
    // First run without the browser host: the token has to be set before anything works.
    chrome.runtime.openOptionsPage();
  }
});
chrome.runtime.onStartup.addListener(createMenus);
chrome.contextMenus.onClicked.addListener(onMenuClicked);
chrome.action.onClicked.addListener(onActionClicked);
chrome.commands.onCommand.addListener(onCommand);
chrome.notifications.onClicked.addListener(onNotificationClicked);
chrome.runtime.onMessage.addListener(onMessage);

// The very listeners above, for tests driving the worker over the DevTools protocol: menus can
// not be clicked there, so a test calls onMenuClicked exactly as the browser would.
globalThis.readaloud = { onMenuClicked, onActionClicked, onCommand };
