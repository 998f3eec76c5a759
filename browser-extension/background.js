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

async function relay(message, sender, signal) {
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
    signal,
  });
}

// Each call comes on a port of its own (content.js): the page's one message, then the answer.
// The port disconnects when the page goes away, and the call to the agent is aborted with it:
// the agent then ends the request (its dialog closes), as for a page that calls it directly.
chrome.runtime.onConnect.addListener((port) => {
  if (port.name !== "kyso:call" || !port.sender || port.sender.id !== chrome.runtime.id) {
    port.disconnect();
    return;
  }
  const aborted = new AbortController();
  port.onDisconnect.addListener(() => aborted.abort());
  port.onMessage.addListener((message) => {
    if (!message || message.type !== "kyso:call") {
      port.disconnect();
      return;
    }
    const answer = (reply) => {
      if (aborted.signal.aborted) return; // nobody to tell
      port.postMessage(reply);
    };
    relay(message, port.sender, aborted.signal).then(answer, () => answer(refuse("EXTENSION_ERROR")));
  });
});
