// Content script (top frame of https pages, http://localhost and http://127.0.0.1): the page's way to the agent.
//
// Pages talk to it with window.postMessage (see page.js and kyso.js):
//   page → extension  {kyso: "kyso-agent", dir: "request", id, type: "hello"}
//                     {kyso: "kyso-agent", dir: "request", id, type: "call", path, method, body?, lang?}
//   extension → page  {kyso: "kyso-agent", dir: "response", id, type: "hello", version, api}
//                     {kyso: "kyso-agent", dir: "response", id, type: "call", status, body}
// Only messages from this very window are read; anything else in a message (an "origin",
// headers …) is dropped: the service worker names the page from what the browser says.
(() => {
  const TAG = "kyso-agent";
  const MAX_MESSAGE_CHARS = 48 * 1024 * 1024; // runtime messaging caps a message at 64 MiB
  const MAX_IN_FLIGHT = 8;
  const ID = /^[A-Za-z0-9_-]{1,64}$/;
  const api = typeof browser !== "undefined" ? browser : chrome;
  const version = api.runtime.getManifest().version;
  let inFlight = 0;

  function answer(id, type, fields) {
    window.postMessage({ kyso: TAG, dir: "response", id, type, ...fields }, window.location.origin);
  }

  function error(id, code) {
    answer(id, "call", { status: 0, body: { error: { code, message: "" } } });
  }

  function plainObject(value) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
  }

  window.addEventListener("message", (event) => {
    if (event.source !== window || event.origin !== window.location.origin) return;
    const data = event.data;
    if (!plainObject(data) || data.kyso !== TAG || data.dir !== "request") return;
    const { id, type } = data;
    if (typeof id !== "string" || !ID.test(id)) return;
    if (type === "hello") {
      answer(id, "hello", { version, api: 1 });
      return;
    }
    if (type !== "call") return;
    const { path, method, body, lang } = data;
    if (typeof path !== "string" || (method !== "GET" && method !== "POST")) {
      error(id, "EXTENSION_REFUSED");
      return;
    }
    if (body !== undefined && !plainObject(body)) {
      error(id, "EXTENSION_REFUSED");
      return;
    }
    let size = 0;
    try {
      size = body === undefined ? 0 : JSON.stringify(body).length;
    } catch {
      error(id, "EXTENSION_REFUSED");
      return;
    }
    if (size > MAX_MESSAGE_CHARS) {
      error(id, "PAYLOAD_TOO_LARGE");
      return;
    }
    if (inFlight >= MAX_IN_FLIGHT) {
      error(id, "BUSY");
      return;
    }
    inFlight += 1;
    const message = { type: "kyso:call", path, method, body, lang: typeof lang === "string" ? lang : undefined };
    // One port per call, not a one-off message: when this page goes away (the tab is closed, it
    // navigates elsewhere) the port disconnects, and the service worker aborts the agent call,
    // so that the agent closes its dialog instead of asking for a page that is gone.
    let port;
    try {
      port = api.runtime.connect({ name: "kyso:call" });
    } catch {
      inFlight -= 1;
      error(id, "EXTENSION_ERROR");
      return;
    }
    let settled = false;
    const settle = (fields) => {
      if (settled) return;
      settled = true;
      inFlight -= 1;
      answer(id, "call", fields);
    };
    port.onMessage.addListener((reply) => {
      settle(plainObject(reply) ? { status: reply.status, body: reply.body } : { status: 0, body: { error: { code: "EXTENSION_ERROR", message: "" } } });
      port.disconnect();
    });
    port.onDisconnect.addListener(() => settle({ status: 0, body: { error: { code: "EXTENSION_ERROR", message: "" } } }));
    port.postMessage(message);
  });

  // The page-side helper (window.kysoExtension). Injected as a file the page can load,
  // so it runs in the page's world; it only wraps the messages above.
  const script = document.createElement("script");
  script.src = api.runtime.getURL("page.js");
  script.async = false;
  script.onload = () => script.remove();
  (document.head || document.documentElement).appendChild(script);
})();
