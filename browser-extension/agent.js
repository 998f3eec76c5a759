// Finding and calling the local Kyso Agent from the extension (service worker and popup).
// Shared by background.js and popup.js; no other code talks to the agent.

/** Ports the agent may listen on, in the order it tries them. */
export const AGENT_PORTS = Object.freeze(Array.from({ length: 11 }, (_, i) => 8988 + i));
/** What a page may ask the agent for, through the extension. */
export const ROUTES = Object.freeze({
  "/v1/info": "GET",
  "/v1/certificates": "POST",
  "/v1/sign": "POST",
  "/v1/sign/batch": "POST",
  "/v1/pdf/sign": "POST",
  "/v1/pdf/sign/batch": "POST",
  "/v1/cms/sign": "POST",
  "/v1/pdf/verify": "POST",
  "/v1/xml/sign": "POST",
  "/v1/xml/sign/batch": "POST",
  "/v1/xml/verify": "POST",
});
export const PAGE_ORIGIN_HEADER = "Kyso-Page-Origin";
const PORT_KEY = "agentPort";
const PROBE_TIMEOUT_MS = 1500;

function agentUrl(port, path) {
  return `https://127.0.0.1:${port}${path}`;
}

/** GET /v1/info on one port: the info if a Kyso Agent answers there, else null. */
export async function probe(port, fetchImpl = fetch) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), PROBE_TIMEOUT_MS);
  try {
    const response = await fetchImpl(agentUrl(port, "/v1/info"), {
      signal: controller.signal,
      cache: "no-store",
      credentials: "omit",
    });
    if (!response.ok) return null;
    const info = await response.json();
    return info && info.product === "kyso-agent" ? { ...info, port } : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

async function cachedPort() {
  try {
    const stored = await chrome.storage.local.get(PORT_KEY);
    const port = stored[PORT_KEY];
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : null;
  } catch {
    return null;
  }
}

/**
 * The running agent: the cached port if the agent still answers there, else the first
 * port of AGENT_PORTS that answers as a Kyso Agent (then cached). Null when none does.
 */
export async function discover() {
  const cached = await cachedPort();
  if (cached !== null) {
    const info = await probe(cached);
    if (info) return info;
  }
  const answers = await Promise.all(AGENT_PORTS.map((port) => probe(port)));
  const info = answers.find(Boolean) ?? null;
  if (info) await chrome.storage.local.set({ [PORT_KEY]: info.port });
  return info;
}

/**
 * One call to the agent for a page: `{status, body}` with the agent's JSON, or
 * `{status: 0, body: {error: {code: "AGENT_UNREACHABLE"}}}` when no agent answers.
 */
export async function callAgent({ method, path, body, pageOrigin, language, signal }) {
  const info = await discover();
  if (!info) return unreachable();
  const headers = { [PAGE_ORIGIN_HEADER]: pageOrigin };
  if (language) headers["Accept-Language"] = language;
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (signal) init.signal = signal; // the page went away: the agent sees its request end
  if (method === "POST") {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(agentUrl(info.port, path), init);
  } catch {
    return unreachable();
  }
  let json;
  try {
    json = await response.json();
  } catch {
    json = { error: { code: "INTERNAL", message: `HTTP ${response.status}` } };
  }
  return { status: response.status, body: json };
}

function unreachable() {
  return { status: 0, body: { error: { code: "AGENT_UNREACHABLE", message: "" } } };
}

/**
 * Tokens and certificates for the popup, from the agent's status report (which the agent
 * gives this extension, never a page): [{label, pin, certificates: [{holder, daysLeft,
 * validity}]}], or null when the report cannot be read.
 */
export async function tokenStatus(port, fetchImpl = fetch) {
  try {
    const response = await fetchImpl(agentUrl(port, "/status.json"), {
      cache: "no-store",
      credentials: "omit",
    });
    if (!response.ok) return null;
    const report = await response.json();
    return (report.tokens || []).map((token) => ({
      label: String(token.label),
      pin: String(token.pin),
      certificates: (report.certificates || [])
        .filter((c) => c.token_serial === token.serial && c.token_label === token.label)
        .map((c) => ({ holder: String(c.holder), daysLeft: c.days_left, validity: c.validity })),
    }));
  } catch {
    return null;
  }
}
