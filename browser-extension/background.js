// Service worker: relays a page's calls (from content.js) to the local Kyso Agent.
//
// The agent learns the page's origin from the Kyso-Page-Origin header, which is taken
// from what the browser says about the sender (MessageSender.origin, else its URL),
// never from anything the page wrote in its message.
import { ROUTES, callAgent } from "./agent.js";

const LANGUAGES = new Set(["vi", "en"]);

/** The origin of the tab's top frame that sent `sender`'s message, or null. */
export function pageOrigin(sender) {
  if (!sender || sender.id !== chrome.runtime.id || !sender.tab || sender.frameId !== 0) {
    return null;
  }
  let origin = typeof sender.origin === "string" ? sender.origin : null;
  if (!origin && typeof sender.url === "string") {
    try {
      origin = new URL(sender.url).origin;
    } catch {
      origin = null;
    }
  }
  if (!origin || origin === "null") return null;
  const scheme = origin.slice(0, origin.indexOf(":"));
  return scheme === "https" || scheme === "http" ? origin : null;
}

function refuse(code) {
  return { status: 0, body: { error: { code, message: "" } } };
}

async function relay(message, sender) {
  const origin = pageOrigin(sender);
  if (!origin) return refuse("EXTENSION_REFUSED");
  const { method, path, body, lang } = message;
  if (typeof path !== "string" || ROUTES[path] === undefined || ROUTES[path] !== method) {
    return refuse("EXTENSION_REFUSED");
  }
  if (method === "POST" && (body === null || typeof body !== "object" || Array.isArray(body))) {
    return refuse("EXTENSION_REFUSED");
  }
  return callAgent({
    method,
    path,
    body,
    pageOrigin: origin,
    language: LANGUAGES.has(lang) ? lang : undefined,
  });
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (!message || message.type !== "kyso:call" || sender.id !== chrome.runtime.id) return false;
  relay(message, sender).then(sendResponse, () => sendResponse(refuse("EXTENSION_ERROR")));
  return true; // the answer comes asynchronously
});
