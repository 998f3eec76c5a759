// Test doubles: a window whose postMessage behaves like a browser's (asynchronous,
// structured clone, source and origin set), an agent behind a fake fetch, and a fake
// extension that answers the page protocol the way content.js does.

export class FakeWindow extends EventTarget {
  constructor(origin = "https://portal.example.gov.vn") {
    super();
    this.location = { origin };
    this.document = { documentElement: { lang: "vi" } };
    this.posted = [];
  }

  postMessage(data, targetOrigin) {
    this.posted.push({ data, targetOrigin });
    this.deliver(structuredClone(data), this, this.location.origin);
  }

  /** Delivers a message event as if `source` (a window) at `origin` had posted it. */
  deliver(data, source, origin) {
    setTimeout(() => {
      const event = new Event("message");
      Object.defineProperties(event, { data: { value: data }, source: { value: source }, origin: { value: origin } });
      this.dispatchEvent(event);
    }, 0);
  }
}

/** Answers the page protocol like content.js, with `handler(method, path, body)` → {status, body}. */
export function installFakeExtension(win, handler, { version = "9.9.9" } = {}) {
  const calls = [];
  win.addEventListener("message", async (event) => {
    const data = event.data;
    if (event.source !== win || !data || data.kyso !== "kyso-agent" || data.dir !== "request") return;
    const reply = { kyso: "kyso-agent", dir: "response", id: data.id, type: data.type };
    if (data.type === "hello") {
      win.postMessage({ ...reply, version, api: 1 }, win.location.origin);
      return;
    }
    calls.push({ method: data.method, path: data.path, body: data.body, lang: data.lang });
    const answer = await handler(data.method, data.path, data.body);
    win.postMessage({ ...reply, ...answer }, win.location.origin);
  });
  return calls;
}

function jsonResponse(status, body) {
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: new Headers({ "Content-Type": "application/json; charset=utf-8" }),
    async json() {
      if (body === undefined) throw new SyntaxError("no JSON");
      return structuredClone(body);
    },
  };
}

/** The agent's answer as a file (a raw body, or `Accept: application/pdf`). */
function fileResponse(status, file, certificate) {
  const headers = new Headers({ "Content-Type": "application/pdf" });
  if (certificate !== undefined) headers.set("Kyso-Certificate", certificate);
  return {
    status,
    ok: status >= 200 && status < 300,
    headers,
    async arrayBuffer() {
      return file.slice().buffer;
    },
    async json() {
      throw new SyntaxError("a PDF, not JSON");
    },
  };
}

/** A request body as the agent reads it: JSON, or a form's parts (`options` parsed). */
async function readBody(body) {
  if (body === undefined) return { body: undefined };
  if (body instanceof FormData) {
    const file = body.get("file");
    return {
      form: {
        options: body.has("options") ? JSON.parse(body.get("options")) : undefined,
        file: new Uint8Array(await file.arrayBuffer()),
        fileName: file.name,
        parts: [...body.keys()],
      },
    };
  }
  return { body: JSON.parse(body) };
}

/**
 * A fake fetch with the agent on `port` (other ports refuse the connection, like a
 * closed port: TypeError). `routes[path]` → {status, body}, {status, file, certificate} (the
 * answer as a file), or a function of the request ({port, path, init, body} for JSON,
 * {…, form: {options, file, fileName, parts}} for a form).
 */
export function fakeAgent({ port = 8990, routes = {}, others = {} } = {}) {
  const requests = [];
  const fetchImpl = async (url, init = {}) => {
    const parsed = new URL(url);
    const request = { port: Number(parsed.port), path: parsed.pathname, init, ...(await readBody(init.body)) };
    requests.push(request);
    const other = others[request.port];
    if (other) return jsonResponse(other.status, other.body);
    if (request.port !== port) throw new TypeError("Failed to fetch");
    if (request.path === "/v1/info" && !routes["/v1/info"]) {
      return jsonResponse(200, { product: "kyso-agent", version: "1.2.3", api: 1 });
    }
    const route = routes[request.path];
    if (!route) return jsonResponse(404, { error: { code: "NOT_FOUND", message: "no route" } });
    const answer = typeof route === "function" ? await route(request) : route;
    if (answer instanceof Error) throw answer;
    if (answer.file !== undefined) return fileResponse(answer.status, answer.file, answer.certificate);
    return jsonResponse(answer.status, answer.body);
  };
  return { fetch: fetchImpl, requests };
}

/** navigator.permissions with the given states; unknown names throw like Chrome does. */
export function fakePermissions(states) {
  return {
    async query({ name }) {
      if (!(name in states)) throw new TypeError(`The provided value '${name}' is not a valid enum value`);
      return { state: states[name] };
    },
  };
}
