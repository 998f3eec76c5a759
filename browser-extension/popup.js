// The toolbar popup: is the agent reachable, which version, the tokens, and the helpdesk link.
import { discover, tokenStatus } from "./agent.js";

const t = (key, ...subs) => chrome.i18n.getMessage(key, subs.map(String));

for (const node of document.querySelectorAll("[data-i18n]")) {
  node.textContent = t(node.dataset.i18n);
}
document.documentElement.lang = chrome.i18n.getUILanguage().startsWith("vi") ? "vi" : "en";
document.getElementById("extension").textContent = t(
  "popupExtensionVersion",
  chrome.runtime.getManifest().version,
);

const state = document.getElementById("state");
const detail = document.getElementById("detail");
const info = await discover();
if (info) {
  state.dataset.state = "ok";
  state.textContent = t("popupReachable");
  detail.textContent = t("popupVersion", info.version, info.port);
  document.getElementById("helpdesk").href = `https://127.0.0.1:${info.port}/`;
  showTokens(await tokenStatus(info.port));
} else {
  state.dataset.state = "down";
  state.textContent = t("popupUnreachable");
  detail.textContent = t("popupUnreachableHelp");
}
document.body.dataset.done = "true";

function make(tag) {
  return document.createElement(tag);
}

function showTokens(tokens) {
  const list = document.getElementById("tokens");
  list.replaceChildren();
  if (tokens === null) return;
  if (tokens.length === 0) {
    const item = make("li");
    item.textContent = t("popupNoToken");
    list.append(item);
    return;
  }
  for (const token of tokens) {
    const item = make("li");
    item.textContent = t(token.pin === "ok" ? "popupToken" : "popupTokenPinWarning", token.label);
    const certificates = make("ul");
    for (const cert of token.certificates) {
      const line = make("li");
      line.textContent = t("popupCertificate", cert.holder, cert.daysLeft);
      if (cert.validity !== "valid") line.className = "warn";
      certificates.append(line);
    }
    item.append(certificates);
    list.append(item);
  }
}
