// Unit tests of the extension's content script and service worker, with fake browser APIs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import vm from "node:vm";

import { FakeWindow } from "./fakes.js";

const CONTENT = readFileSync(new URL("../content.js", import.meta.url), "utf-8");
const ID = "chipklpdnohojehnebdabndkaobocajj";

/** One side of a runtime port: what it was sent, its listeners, and its peer's end. */
class FakePort {
  constructor(name, sender) {
    this.name = name;
    this.sender = sender;
    this.posted = [];
    this.disconnected = false;
    this.messageListeners = [];
    this.disconnectListeners = [];
    this.onMessage = { addListener: (listener) => this.messageListeners.push(listener) };
    this.onDisconnect = { addListener: (listener) => this.disconnectListeners.push(listener) };
    this.peer = null;
  }

  postMessage(message) {
    if (this.disconnected) throw new Error("Attempting to use a disconnected port object");
    this.posted.push(message);
    const peer = this.peer;
    setTimeout(() => peer && !peer.disconnected && peer.messageListeners.forEach((l) => l(structuredClone(message), peer)), 0);
  }

  disconnect() {
    if (this.disconnected) return;
    this.disconnected = true;
    const peer = this.peer;
    // As in a browser: only the other end hears of it.
    setTimeout(() => {
      if (!peer || peer.disconnected) return;
      peer.disconnected = true;
      peer.disconnectListeners.forEach((l) => l(peer));
    }, 0);
  }
}

/** Two connected ports: the caller's end and the end the listener gets. */
function portPair(name, sender) {
  const near = new FakePort(name, undefined);
  const far = new FakePort(name, sender);
  near.peer = far;
  far.peer = near;
  return [near, far];
}

/** content.js in a fake page; `reply(message)` is the service worker's answer. */
function loadContent(reply = async () => ({ status: 200, body: { ok: true } })) {
  const win = new FakeWindow("https://portal.example.gov.vn");
  const sent = [];
  const injected = [];
  const ports = [];
  const chrome = {
    runtime: {
      getManifest: () => ({ version: "0.1.0" }),
      getURL: (path) => `chrome-extension://${ID}/${path}`,
      connect: ({ name }) => {
        const [page, worker] = portPair(name, { id: ID });
        ports.push(worker);
        worker.onMessage.addListener(async (message) => {
          sent.push(message);
          const answer = await reply(message);
          if (!worker.disconnected) worker.postMessage(answer);
        });
        return page;
      },
    },
  };
  const document = {
    createElement: () => ({ remove() {} }),
    documentElement: { appendChild: (node) => injected.push(node) },
    head: null,
  };
  vm.runInNewContext(CONTENT, { window: win, chrome, document, JSON, Promise, Object, Array });
  const answers = [];
  win.addEventListener("message", (event) => {
    if (event.data && event.data.dir === "response") answers.push(event.data);
  });
  return { win, sent, injected, answers, ports };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
// Objects made inside the vm have its Object.prototype: compare them as plain JSON.
const plain = (value) => JSON.parse(JSON.stringify(value));

async function until(condition) {
  for (let i = 0; i < 500 && !condition(); i += 1) await settle();
}

function request(fields) {
  return { kyso: "kyso-agent", dir: "request", id: "r1", ...fields };
}

test("content: answers the handshake and injects page.js", async () => {
  const { win, injected, answers } = loadContent();
  assert.equal(injected[0].src, `chrome-extension://${ID}/page.js`);
  win.postMessage(request({ type: "hello" }), win.location.origin);
  await settle();
  assert.deepEqual(answers, [{ kyso: "kyso-agent", dir: "response", id: "r1", type: "hello", version: "0.1.0", api: 1 }]);
});

test("content: relays a call with only the fields it knows, dropping any claimed origin", async () => {
  const { win, sent, answers } = loadContent();
  win.postMessage(
    request({
      type: "call",
      method: "POST",
      path: "/v1/sign",
      body: { hash: "AA==" },
      lang: "en",
      origin: "https://evil.example",
      pageOrigin: "https://evil.example",
      headers: { "Kyso-Page-Origin": "https://evil.example" },
    }),
    win.location.origin,
  );
  await settle();
  assert.deepEqual(plain(sent), [{ type: "kyso:call", path: "/v1/sign", method: "POST", body: { hash: "AA==" }, lang: "en" }]);
  assert.deepEqual(answers[0].body, { ok: true });
  assert.equal(answers[0].status, 200);
});

test("content: messages from other windows (frames, openers) are ignored", async () => {
  const { win, sent, answers } = loadContent();
  const frame = new FakeWindow("https://ads.example");
  win.deliver(request({ type: "call", method: "POST", path: "/v1/sign", body: {} }), frame, "https://ads.example");
  win.deliver(request({ type: "hello" }), frame, "https://ads.example");
  await settle();
  assert.deepEqual(sent, []);
  assert.deepEqual(answers, []);
});

test("content: bad shapes are refused or ignored, never relayed", async () => {
  const { win, sent, answers } = loadContent();
  win.postMessage(request({ id: "bad id!", type: "hello" }), win.location.origin);
  win.postMessage(request({ id: "x".repeat(65), type: "hello" }), win.location.origin);
  win.postMessage({ kyso: "kyso-agent", dir: "request", type: "hello" }, win.location.origin);
  win.postMessage("kyso", win.location.origin);
  win.postMessage(request({ id: "a", type: "call", method: "DELETE", path: "/v1/sign" }), win.location.origin);
  win.postMessage(request({ id: "b", type: "call", method: "POST", path: "/v1/sign", body: [1] }), win.location.origin);
  win.postMessage(request({ id: "c", type: "call", method: "POST", path: 7 }), win.location.origin);
  await settle();
  assert.deepEqual(sent, []);
  assert.deepEqual(
    answers.map((a) => [a.id, a.body.error.code]),
    [["a", "EXTENSION_REFUSED"], ["b", "EXTENSION_REFUSED"], ["c", "EXTENSION_REFUSED"]],
  );
});

test("content: a body over the message limit is refused before it is sent", async () => {
  const { win, sent, answers } = loadContent();
  const pdf = "A".repeat(48 * 1024 * 1024 + 1);
  win.postMessage(request({ type: "call", method: "POST", path: "/v1/pdf/sign", body: { pdf } }), win.location.origin);
  await until(() => answers.length > 0);
  assert.deepEqual(sent, []);
  assert.equal(answers[0].body.error.code, "PAYLOAD_TOO_LARGE");
});

test("content: at most 8 calls in flight per page", async () => {
  let release;
  const gate = new Promise((resolve) => {
    release = resolve;
  });
  const { win, sent, answers } = loadContent(() => gate.then(() => ({ status: 200, body: {} })));
  for (let i = 0; i < 10; i += 1) {
    win.postMessage(request({ id: `n${i}`, type: "call", method: "GET", path: "/v1/info" }), win.location.origin);
  }
  await settle();
  assert.equal(sent.length, 8);
  assert.deepEqual(answers.map((a) => a.body.error.code), ["BUSY", "BUSY"]);
  release();
  await settle();
  assert.equal(answers.length, 10);
});

// ------------------------------------------------------------------ service worker

const listeners = [];
const fetched = [];
globalThis.chrome = {
  runtime: { id: ID, onConnect: { addListener: (listener) => listeners.push(listener) } },
  storage: {
    local: {
      data: {},
      async get(key) {
        return { [key]: this.data[key] };
      },
      async set(values) {
        Object.assign(this.data, values);
      },
    },
  },
};
globalThis.fetch = async (url, init = {}) => {
  const parsed = new URL(url);
  fetched.push({ port: Number(parsed.port), path: parsed.pathname, init });
  if (Number(parsed.port) !== 8991) throw new TypeError("Failed to fetch");
  if (init.signal && typeof init.body === "string" && init.body.includes('"hold"')) {
    // An agent that keeps the request until the page goes away (its question is open).
    await new Promise((resolve, reject) => {
      init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
    });
  }
  const body = parsed.pathname === "/v1/info" ? { product: "kyso-agent", version: "1", api: 1 } : { signature: "AA==" };
  return { ok: true, status: 200, json: async () => body };
};
const { pageOrigin } = await import("../background.js");

/** What the service worker answers ``message`` sent by ``sender`` on a new port (undefined:
 * it closed the port without an answer). */
function relay(message, sender, name = "kyso:call") {
  const [page, worker] = portPair(name, sender);
  const answer = new Promise((resolve) => {
    page.onMessage.addListener((reply) => resolve(reply));
    page.onDisconnect.addListener(() => resolve(undefined));
  });
  listeners[0](worker);
  page.postMessage(message);
  return answer;
}

const TAB = { id: ID, tab: { id: 1 }, frameId: 0, origin: "https://portal.example.gov.vn", url: "https://portal.example.gov.vn/doc?id=1" };

test("worker: the page origin is the browser's, from sender.origin, else sender.url", () => {
  assert.equal(pageOrigin(TAB), "https://portal.example.gov.vn");
  assert.equal(pageOrigin({ ...TAB, origin: undefined, url: "http://localhost:8980/x" }), "http://localhost:8980");
  assert.equal(pageOrigin({ ...TAB, frameId: 3 }), null);
  assert.equal(pageOrigin({ ...TAB, tab: undefined }), null);
  assert.equal(pageOrigin({ ...TAB, id: "another-extension" }), null);
  assert.equal(pageOrigin({ ...TAB, origin: "null", url: "about:blank" }), null);
  assert.equal(pageOrigin({ ...TAB, origin: "file://" }), null);
});

test("worker: finds the agent, caches its port and names the page in Kyso-Page-Origin", async () => {
  fetched.length = 0;
  const answer = await relay({ type: "kyso:call", method: "POST", path: "/v1/sign", body: { hash: "AA==" }, lang: "en" }, TAB);
  assert.deepEqual(answer, { status: 200, body: { signature: "AA==" } });
  assert.equal(chrome.storage.local.data.agentPort, 8991);
  const [post] = fetched.filter((f) => f.path === "/v1/sign");
  assert.equal(post.port, 8991);
  assert.equal(post.init.headers["Kyso-Page-Origin"], "https://portal.example.gov.vn");
  assert.equal(post.init.headers["Accept-Language"], "en");
  assert.equal(post.init.body, JSON.stringify({ hash: "AA==" }));
  fetched.length = 0;
  await relay({ type: "kyso:call", method: "GET", path: "/v1/info" }, TAB);
  assert.deepEqual(fetched.map((f) => f.port), [8991, 8991]); // the cached port, confirmed
});

test("worker: refuses unknown endpoints, wrong methods and frames before any fetch", async () => {
  fetched.length = 0;
  for (const [message, sender] of [
    [{ type: "kyso:call", method: "POST", path: "/status.json", body: {} }, TAB],
    [{ type: "kyso:call", method: "GET", path: "/v1/sign" }, TAB],
    [{ type: "kyso:call", method: "POST", path: "/v1/sign", body: "x" }, TAB],
    [{ type: "kyso:call", method: "POST", path: "/v1/sign", body: {} }, { ...TAB, frameId: 2 }],
  ]) {
    const answer = await relay(message, sender);
    assert.equal(answer.body.error.code, "EXTENSION_REFUSED");
  }
  assert.deepEqual(fetched, []);
  assert.equal(await relay({ type: "other" }, TAB), undefined);
});

test("worker: relays every endpoint kyso.js calls, with its method", async () => {
  const { ROUTES } = await import("../agent.js");
  const client = readFileSync(new URL("../kyso.js", import.meta.url), "utf-8");
  const called = [...client.matchAll(/call\("(GET|POST)", "(\/v1\/[^"]+)"/g)].map(([, method, path]) => [path, method]);
  assert.ok(called.length >= 11, called);
  for (const [path, method] of called) assert.equal(ROUTES[path], method, path);
  for (const [path, method] of called) {
    if (method !== "POST") continue;
    const answer = await relay({ type: "kyso:call", method, path, body: {} }, TAB);
    assert.equal(answer.status, 200, path);
  }
});

test("worker: no agent anywhere is AGENT_UNREACHABLE", async () => {
  chrome.storage.local.data = {};
  const saved = globalThis.fetch;
  globalThis.fetch = async () => {
    throw new TypeError("Failed to fetch");
  };
  try {
    const answer = await relay({ type: "kyso:call", method: "GET", path: "/v1/info" }, TAB);
    assert.deepEqual(answer, { status: 0, body: { error: { code: "AGENT_UNREACHABLE", message: "" } } });
  } finally {
    globalThis.fetch = saved;
  }
});

test("worker: a call whose page goes away is aborted at the agent, and nothing is answered", async () => {
  fetched.length = 0;
  const [page, worker] = portPair("kyso:call", TAB);
  const replies = [];
  page.onMessage.addListener((reply) => replies.push(reply));
  listeners[0](worker);
  page.postMessage({ type: "kyso:call", method: "POST", path: "/v1/sign", body: { hold: true } });
  await until(() => fetched.some((f) => f.path === "/v1/sign"));
  const [held] = fetched.filter((f) => f.path === "/v1/sign");
  assert.equal(held.init.signal.aborted, false);
  page.disconnect(); // the tab is closed: the browser disconnects the content script's port
  await until(() => held.init.signal.aborted);
  assert.equal(held.init.signal.aborted, true);
  await settle();
  assert.deepEqual(replies, []);
});

test("worker: ports of another name or another extension are closed unanswered", async () => {
  assert.equal(await relay({ type: "kyso:call", method: "GET", path: "/v1/info" }, TAB, "other"), undefined);
  assert.equal(
    await relay({ type: "kyso:call", method: "GET", path: "/v1/info" }, { ...TAB, id: "another-extension" }),
    undefined,
  );
});

test("content: each call has its own port, closed once answered; a port lost unanswered is an error", async () => {
  const { win, answers, ports } = loadContent(async (message) =>
    message.path === "/v1/info" ? { status: 200, body: {} } : new Promise(() => {}),
  );
  win.postMessage(request({ id: "a", type: "call", method: "GET", path: "/v1/info" }), win.location.origin);
  win.postMessage(request({ id: "b", type: "call", method: "POST", path: "/v1/sign", body: {} }), win.location.origin);
  await until(() => ports.length === 2 && answers.length === 1);
  assert.equal(answers[0].id, "a");
  await until(() => ports[0].disconnected);
  assert.equal(ports[0].disconnected, true); // content.js closed it after the answer
  ports[1].disconnect(); // the service worker went away mid-call
  await until(() => answers.length === 2);
  assert.deepEqual(plain(answers[1]).body, { error: { code: "EXTENSION_ERROR", message: "" } });
});
