// The options page: port and token, "Test connection", and the config line the daemon needs.

import {
  DEFAULT_PORT,
  Problem,
  allowedOriginsLine,
  checkConnection,
  extensionOrigin,
  loadSettings,
  saveSettings,
  validPort,
} from "./daemon.js";

const form = document.getElementById("settings");
const portField = document.getElementById("port");
const tokenField = document.getElementById("token");
const showToken = document.getElementById("show-token");
const testButton = document.getElementById("test");
const result = document.getElementById("result");
const resultText = document.getElementById("result-text");

const firefox = extensionOrigin().startsWith("moz-extension:");

function report(kind, message) {
  // kind: "ok", "problem" or "info"; the live region announces the new text.
  result.dataset.kind = kind;
  result.dataset.problem = "";
  resultText.textContent = message;
}

function reportProblem(failure) {
  report("problem", failure.message || String(failure));
  result.dataset.problem = failure instanceof Problem ? failure.kind : "error";
}

function fieldSettings() {
  const port = portField.value.trim();
  if (!validPort(port)) {
    portField.setAttribute("aria-invalid", "true");
    portField.focus();
    throw new Problem("bad_port", "The port must be a whole number from 1 to 65535.");
  }
  portField.removeAttribute("aria-invalid");
  return { port: Number(port), token: tokenField.value.trim() };
}

async function save() {
  const settings = fieldSettings();
  await saveSettings(settings);
  return settings;
}

let testing = false;

async function testConnection() {
  if (testing) return;
  // Firefox asks the user for host permissions; the request must come straight from the click.
  const permitted = firefox
    ? chrome.permissions.request({ origins: ["http://127.0.0.1/*", "http://localhost/*"] })
    : Promise.resolve(true);
  // aria-disabled, not disabled: a disabled button would lose the keyboard focus.
  testing = true;
  testButton.setAttribute("aria-disabled", "true");
  result.setAttribute("aria-busy", "true");
  report("info", "Testing the connection…");
  try {
    await permitted.catch(() => false);
    const settings = await save();
    const status = await checkConnection(settings);
    const engine = status.engine_reason || status.engine || "unknown";
    const how = status.native
      ? "Connected through the browser host ('readaloud browser install'): no token or " +
        "allowed_origins line is needed."
      : "Connected: the daemon accepts this extension and its token.";
    report("ok", `${how} It is ${status.state}; voice engine: ${engine}.`);
  } catch (failure) {
    reportProblem(failure);
  } finally {
    testing = false;
    testButton.removeAttribute("aria-disabled");
    result.removeAttribute("aria-busy");
  }
}

async function showShortcuts() {
  const list = document.getElementById("shortcuts");
  const commands = await chrome.commands.getAll();
  for (const command of commands) {
    if (!command.description) continue;
    const item = document.createElement("li");
    const keys = command.shortcut || "no shortcut set";
    item.textContent = `${command.description}: ${keys}`;
    list.append(item);
  }
}

function showOrigin() {
  document.getElementById("origin-line").textContent = `[server]\n${allowedOriginsLine()}`;
  document.getElementById("origin-note").textContent = firefox
    ? `This extension's origin is ${extensionOrigin()}. Firefox gives each installation its ` +
      "own address, so copy the line from this page on every computer."
    : `This extension's origin is ${extensionOrigin()}; it is the same on every computer.`;
  document.getElementById("copy-origin").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(allowedOriginsLine());
      report("info", "The line is copied: paste it under [server] in the daemon's config.");
    } catch {
      report("info", `Copying failed; select the line and copy it: ${allowedOriginsLine()}`);
    }
  });
}

async function init() {
  const settings = await loadSettings();
  portField.value = String(settings.port || DEFAULT_PORT);
  tokenField.value = settings.token;
  showToken.addEventListener("change", () => {
    tokenField.type = showToken.checked ? "text" : "password";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await save();
      report("ok", "Saved.");
    } catch (failure) {
      reportProblem(failure);
    }
  });
  testButton.addEventListener("click", testConnection);
  const highlight = document.getElementById("highlight");
  highlight.value = settings.highlight;
  highlight.addEventListener("change", async () => {
    await chrome.storage.local.set({ highlight: highlight.value });
  });
  showOrigin();
  await showShortcuts();
  document.body.dataset.ready = "true";
}

init();
