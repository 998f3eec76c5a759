// kyso.js — the browser client of Kyso Agent, for portal developers. No dependencies.
//
//   import { signPdf, KysoError } from "./kyso.js";
//   const { pdf } = await signPdf(file, { documentName: file.name, appearance: { profile: "personal" } });
//
// Transport: through the Kyso browser extension when it is installed (found by a
// handshake over window.postMessage), otherwise straight to the agent with
// fetch("https://127.0.0.1:PORT/…", { targetAddressSpace: "loopback" }) on ports 8988–8998.
//
// Bytes in: Uint8Array, ArrayBuffer, a view of one, a Blob/File (PDFs, images) or a
// standard base64 string. Bytes out: always Uint8Array. Every failure is a KysoError
// with a stable `code`, the HTTP `status` (0 when the agent was not reached) and a
// Vietnamese or English `message`. Types: kyso.d.ts.
//
// Calls that ask the user take as long as the user does: when no token is plugged in, the
// agent first asks for it ("Hãy cắm USB token…") and waits up to its prompt timeout, and a
// batch shows its progress with a Stop button. No call here times out on its own.

/** Ports the agent may listen on, in the order it takes them. */
export const AGENT_PORTS = Object.freeze(Array.from({ length: 11 }, (_, i) => 8988 + i));

const TAG = "kyso-agent";
const HASH_LENGTHS = Object.freeze({ 32: "SHA-256", 48: "SHA-384", 64: "SHA-512" });

/**
 * Every error code a caller can see: the agent's (API v1 ErrorCode) and the client's own.
 * Each has a Vietnamese and an English text for the user.
 */
export const MESSAGES = deepFreeze({
  BAD_REQUEST: [
    "Yêu cầu ký không hợp lệ (lỗi của cổng thông tin).",
    "The signing request is invalid (a bug in the portal).",
  ],
  HOST_NOT_ALLOWED: [
    "Kyso Agent từ chối địa chỉ đã gọi nó.",
    "Kyso Agent refused the address it was called on.",
  ],
  ORIGIN_NOT_ALLOWED: [
    "Trang này chưa được phép dùng Kyso Agent. Hãy liên hệ bộ phận CNTT.",
    "This site is not allowed to use Kyso Agent. Contact your IT department.",
  ],
  CALLER_NOT_ALLOWED: [
    "Kyso Agent đang chạy cho một người dùng khác trên máy này.",
    "Kyso Agent is running for another user of this computer.",
  ],
  UNSUPPORTED_MEDIA_TYPE: [
    "Yêu cầu ký có định dạng không được hỗ trợ (lỗi của cổng thông tin).",
    "The signing request has an unsupported format (a bug in the portal).",
  ],
  PAYLOAD_TOO_LARGE: ["Tài liệu quá lớn để ký.", "The document is too large to sign."],
  NOT_FOUND: [
    "Kyso Agent không hỗ trợ thao tác này; có thể cần cập nhật.",
    "Kyso Agent does not support this operation; it may need an update.",
  ],
  USER_CANCELLED: ["Bạn đã không đồng ý ký.", "You chose not to sign."],
  CONSENT_TIMEOUT: [
    "Hết thời gian chờ bạn xác nhận ký.",
    "The signing question was not answered in time.",
  ],
  TOKEN_NOT_PRESENT: [
    "Không tìm thấy USB token. Hãy cắm token rồi thử lại.",
    "No USB token found. Plug in your token and try again.",
  ],
  TOKEN_MODULE_FAILED: [
    "Trình điều khiển USB token bị lỗi và đang được khởi động lại. Chưa ký gì; hãy thử lại.",
    "The USB token's driver failed and is being restarted. Nothing was signed; try again.",
  ],
  CERTIFICATE_NOT_FOUND: [
    "Không tìm thấy chứng thư số cần dùng trên token.",
    "The certificate to sign with is not on the token.",
  ],
  CERTIFICATE_EXPIRED: [
    "Chứng thư số đã hết hạn hoặc chưa có hiệu lực.",
    "The certificate has expired or is not yet valid.",
  ],
  CERTIFICATE_REVOKED: [
    "Chứng thư số đã bị thu hồi; không thể ký.",
    "The certificate has been revoked; nothing was signed.",
  ],
  SIGNING_FAILED: [
    "Không ký được: dịch vụ cấp dấu thời gian hoặc kiểm tra chứng thư không trả lời.",
    "Signing failed: the time-stamping or certificate-status service did not answer.",
  ],
  STORAGE_FAILED: [
    "Kyso Agent không ghi được tài liệu vào ổ đĩa (có thể ổ đĩa đã đầy). Chưa ký gì; hãy giải phóng dung lượng rồi thử lại.",
    "Kyso Agent could not write the document to disk (it may be full). Nothing was signed; free some space and try again.",
  ],
  PIN_LOCKED: [
    "Mã PIN của token đã bị khóa. Hãy liên hệ nhà cung cấp chứng thư hoặc bộ phận CNTT.",
    "The token's PIN is locked. Contact your certificate provider or IT department.",
  ],
  BUSY: [
    "Kyso Agent đang chờ bạn trả lời một yêu cầu khác. Hãy thử lại sau.",
    "Kyso Agent is waiting for your answer to another request. Try again afterwards.",
  ],
  INTERNAL: [
    "Kyso Agent gặp lỗi. Hãy gửi báo cáo hỗ trợ cho bộ phận CNTT.",
    "Kyso Agent hit an error. Send the helpdesk report to your IT department.",
  ],
  AGENT_UNREACHABLE: [
    "Không kết nối được Kyso Agent. Hãy kiểm tra Kyso Agent đang chạy và trình duyệt tin cậy chứng thư của nó (mở https://127.0.0.1:8988/).",
    "Cannot reach Kyso Agent. Check that it is running and that the browser trusts its certificate (open https://127.0.0.1:8988/).",
  ],
  LOCAL_NETWORK_DENIED: [
    "Trình duyệt đã chặn trang này truy cập Kyso Agent trên máy. Hãy cho phép “truy cập mạng cục bộ” cho trang này, hoặc cài tiện ích Kyso Agent.",
    "The browser blocked this site from reaching Kyso Agent on this computer. Allow “local network access” for this site, or install the Kyso Agent extension.",
  ],
  EXTENSION_REFUSED: [
    "Tiện ích Kyso Agent từ chối yêu cầu này (lỗi của cổng thông tin).",
    "The Kyso Agent extension refused this request (a bug in the portal).",
  ],
  EXTENSION_ERROR: [
    "Tiện ích Kyso Agent gặp lỗi. Hãy tải lại trang.",
    "The Kyso Agent extension failed. Reload the page.",
  ],
  INVALID_ARGUMENT: [
    "Dữ liệu đưa vào để ký không hợp lệ (lỗi của cổng thông tin).",
    "The data given for signing is invalid (a bug in the portal).",
  ],
  UNEXPECTED_RESPONSE: [
    "Kyso Agent trả lời không như mong đợi; có thể cần cập nhật.",
    "Kyso Agent gave an unexpected answer; it may need an update.",
  ],
});

function deepFreeze(table) {
  for (const pair of Object.values(table)) Object.freeze(pair);
  return Object.freeze(table);
}

/** The user-facing text for `code` in `lang` ("vi" or "en"); unknown codes read as INTERNAL. */
export function messageFor(code, lang = "vi") {
  const pair = MESSAGES[code] ?? MESSAGES.INTERNAL;
  return lang === "en" ? pair[1] : pair[0];
}

/** A failed Kyso operation. */
export class KysoError extends Error {
  /**
   * @param {string} code a key of MESSAGES
   * @param {object} [init] {status, lang, detail, cause}
   */
  constructor(code, { status = 0, lang = "vi", detail = "", cause } = {}) {
    super(messageFor(code, lang), cause === undefined ? undefined : { cause });
    this.name = "KysoError";
    /** Stable code: the agent's ErrorCode or one of the client's own. */
    this.code = MESSAGES[code] ? code : "INTERNAL";
    /** HTTP status of the agent's answer; 0 when no answer came. */
    this.status = status;
    /** The text in both languages. */
    this.messages = Object.freeze({ vi: messageFor(code, "vi"), en: messageFor(code, "en") });
    /** The agent's own message, when it sent one (for logs and bug reports). */
    this.detail = detail;
  }
}

/** The KysoError for an agent answer `{error: {code, message}}` with HTTP `status`. */
export function errorFromAgent(status, body, lang = "vi") {
  const error = body && typeof body === "object" ? body.error : undefined;
  const code = error && typeof error.code === "string" ? error.code : undefined;
  const detail = error && typeof error.message === "string" ? error.message : "";
  if (!code) return new KysoError("UNEXPECTED_RESPONSE", { status, lang, detail: `HTTP ${status}` });
  return new KysoError(MESSAGES[code] ? code : "INTERNAL", { status, lang, detail });
}

// ---------------------------------------------------------------------------- bytes

/** Standard base64 of `bytes` (Uint8Array). */
export function toBase64(bytes) {
  if (typeof bytes.toBase64 === "function") return bytes.toBase64();
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The bytes of a standard base64 string. */
export function fromBase64(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Bytes given in any accepted form, as a Uint8Array (strings are base64). */
async function bytesOf(value, what, lang) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof Blob !== "undefined" && value instanceof Blob) return new Uint8Array(await value.arrayBuffer());
  if (typeof value === "string" && BASE64.test(value)) return fromBase64(value);
  throw new KysoError("INVALID_ARGUMENT", {
    lang,
    detail: `${what}: expected Uint8Array, ArrayBuffer, Blob or base64 text`,
  });
}

async function base64Of(value, what, lang) {
  if (typeof value === "string" && BASE64.test(value)) return value;
  return toBase64(await bytesOf(value, what, lang));
}

/** An XML document as base64: XML text (a string starting with "<") is sent as UTF-8. */
async function xmlBase64Of(value, what, lang) {
  if (typeof value === "string" && value.trimStart().startsWith("<")) {
    return toBase64(new TextEncoder().encode(value));
  }
  return base64Of(value, what, lang);
}

const XML_FIELDS = ["profile", "role", "signId", "parentId", "parentXpath", "digestAlgorithm", "documentName"];
const APPEARANCE_FIELDS = ["profile", "page", "rect", "anchor", "text", "field"];

/** The name of a File (what the user chose), else undefined. */
function fileName(value) {
  return typeof File !== "undefined" && value instanceof File && value.name ? value.name : undefined;
}

function pick(options, keys) {
  const out = {};
  for (const key of keys) {
    if (options && options[key] !== undefined) out[key] = options[key];
  }
  return out;
}

function decodeField(value, lang) {
  if (typeof value !== "string") throw new KysoError("UNEXPECTED_RESPONSE", { status: 200, lang });
  try {
    return fromBase64(value);
  } catch (cause) {
    throw new KysoError("UNEXPECTED_RESPONSE", { status: 200, lang, cause });
  }
}

// ---------------------------------------------------------------------------- client

let sequence = 0;

function uniqueId() {
  sequence += 1;
  const random =
    typeof crypto !== "undefined" && crypto.getRandomValues
      ? Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("")
      : Math.random().toString(16).slice(2, 14);
  return `k${random}${sequence}`;
}

function defaultLang(win) {
  const tag = (win && win.document && win.document.documentElement && win.document.documentElement.lang) || "";
  return tag.toLowerCase().startsWith("en") ? "en" : "vi";
}

/**
 * A client with its own settings. The module's top-level functions use one made with
 * the defaults.
 *
 * @param {object} [options]
 * @param {"auto"|"extension"|"direct"} [options.transport="auto"]
 * @param {number[]} [options.ports] agent ports to try (default 8988–8998)
 * @param {"vi"|"en"} [options.lang] language of messages (default: the page's <html lang>, else vi)
 * @param {number} [options.extensionTimeoutMs=400] how long to wait for the extension's handshake
 * @param {Window} [options.window] the window to talk to the extension through
 * @param {typeof fetch} [options.fetch] fetch for the direct transport
 * @param {Permissions} [options.permissions] navigator.permissions, to tell an LNA denial
 */
export function createClient(options = {}) {
  const win = options.window ?? (typeof window !== "undefined" ? window : undefined);
  const fetchImpl = options.fetch ?? (typeof fetch !== "undefined" ? fetch.bind(globalThis) : undefined);
  const permissions =
    options.permissions ?? (typeof navigator !== "undefined" ? navigator.permissions : undefined);
  const ports = options.ports ? [...options.ports] : [...AGENT_PORTS];
  const transportMode = options.transport ?? "auto";
  const timeoutMs = options.extensionTimeoutMs ?? 400;
  const lang = () => options.lang ?? defaultLang(win);
  let extension = null; // Promise<{version, api} | null>
  let directPort = null; // Promise<{port, info} | null>
  let knownPort = null;

  // -- extension transport ----------------------------------------------------

  function exchange(fields, timeout) {
    return new Promise((resolve) => {
      const id = uniqueId();
      let timer = null;
      const listener = (event) => {
        if (event.source !== win) return;
        const data = event.data;
        if (!data || data.kyso !== TAG || data.dir !== "response" || data.id !== id) return;
        win.removeEventListener("message", listener);
        if (timer !== null) clearTimeout(timer);
        resolve(data);
      };
      win.addEventListener("message", listener);
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          win.removeEventListener("message", listener);
          resolve(null);
        }, timeout);
      }
      win.postMessage({ kyso: TAG, dir: "request", id, ...fields }, win.location.origin);
    });
  }

  function detectExtension() {
    if (!win || transportMode === "direct") return Promise.resolve(null);
    if (!extension) {
      extension = exchange({ type: "hello" }, timeoutMs).then((reply) =>
        reply && reply.type === "hello" ? { version: String(reply.version), api: reply.api } : null,
      );
    }
    return extension;
  }

  async function viaExtension(method, path, body) {
    const reply = await exchange({ type: "call", method, path, body, lang: lang() });
    return { status: Number(reply.status) || 0, body: reply.body };
  }

  // -- direct transport -------------------------------------------------------

  /** fetch to the agent on `port`: nothing cached, no cookies, Chrome told it is the loopback. */
  function agentFetch(port, path, init) {
    return fetchImpl(`https://127.0.0.1:${port}${path}`, {
      ...init,
      cache: "no-store",
      credentials: "omit",
      // Chrome's Local Network Access: say up front that this goes to the loopback.
      targetAddressSpace: "loopback",
    });
  }

  /** {status, body}: the agent's JSON, or undefined for an answer that is not JSON. */
  async function jsonAnswer(response) {
    let json;
    try {
      json = await response.json();
    } catch {
      json = undefined;
    }
    return { status: response.status, body: json };
  }

  async function directFetch(port, method, path, body) {
    const init = { method, headers: { "Accept-Language": lang() } };
    if (method === "POST") {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body ?? {});
    }
    return jsonAnswer(await agentFetch(port, path, init));
  }

  async function probe(port) {
    try {
      const { status, body } = await directFetch(port, "GET", "/v1/info");
      return status === 200 && body && body.product === "kyso-agent" ? { port, info: body } : null;
    } catch {
      return null;
    }
  }

  async function localNetworkDenied() {
    if (!permissions || typeof permissions.query !== "function") return false;
    for (const name of ["loopback-network", "local-network-access"]) {
      try {
        const state = await permissions.query({ name });
        return state.state === "denied";
      } catch {
        // this browser does not know the permission name; try the next one
      }
    }
    return false;
  }

  async function unreachable(cause) {
    const code = (await localNetworkDenied()) ? "LOCAL_NETWORK_DENIED" : "AGENT_UNREACHABLE";
    return new KysoError(code, { lang: lang(), cause });
  }

  async function findAgent() {
    if (!fetchImpl) return null;
    if (!directPort) {
      directPort = Promise.all(ports.map(probe)).then((found) => found.find(Boolean) ?? null);
    }
    const found = await directPort;
    if (!found) directPort = null; // try again next time: the agent may have started since
    knownPort = found ? found.port : null;
    return found;
  }

  /** `exchange(port)` with the agent found on the loopback; unreachable is a KysoError. */
  async function onAgent(exchange) {
    const found = await findAgent();
    if (!found) throw await unreachable();
    try {
      return await exchange(found.port);
    } catch (cause) {
      directPort = null;
      knownPort = null;
      throw await unreachable(cause);
    }
  }

  function viaDirect(method, path, body) {
    return onAgent((port) => directFetch(port, method, path, body));
  }

  /**
   * A PDF posted as a form, the file as it is, asking for the signed file back
   * (`Accept: application/pdf`): no base64 of a 50 MB scan to make here, nor to decode.
   * {status, file, certificate} on success, {status, body} (the agent's JSON) otherwise.
   * `options` null: no options part, and the answer asked for in JSON (a verification).
   */
  async function directFile(port, path, file, options) {
    const form = new FormData();
    if (options !== null) form.append("options", JSON.stringify(options));
    form.append("file", file, fileName(file) ?? "document.pdf");
    const accept = options === null ? "application/json" : "application/pdf";
    const response = await agentFetch(port, path, {
      method: "POST",
      headers: { "Accept-Language": lang(), Accept: accept },
      body: form,
    });
    const type = (response.headers.get("Content-Type") ?? "").split(";")[0].trim();
    if (response.status === 200 && type === "application/pdf") {
      const file = new Uint8Array(await response.arrayBuffer());
      return { status: 200, file, certificate: response.headers.get("Kyso-Certificate") };
    }
    return jsonAnswer(response);
  }

  /** A PDF as a Blob to post: a Blob or File as it is, bytes or base64 made into one. */
  async function fileOf(pdf) {
    if (typeof Blob !== "undefined" && pdf instanceof Blob) return pdf;
    return new Blob([await bytesOf(pdf, "pdf", lang())], { type: "application/pdf" });
  }

  // -- calls ------------------------------------------------------------------

  async function transport() {
    if (transportMode === "direct") return "direct";
    const present = await detectExtension();
    if (present) return "extension";
    if (transportMode === "extension") throw new KysoError("AGENT_UNREACHABLE", { lang: lang(), detail: "no extension" });
    return "direct";
  }

  /** One API call: the agent's JSON on success, else a KysoError thrown. */
  async function call(method, path, body) {
    const via = await transport();
    const { status, body: json } =
      via === "extension" ? await viaExtension(method, path, body) : await viaDirect(method, path, body);
    if (status >= 200 && status < 300 && json && typeof json === "object") return json;
    if (status === 0) {
      const code = json && json.error && typeof json.error.code === "string" ? json.error.code : "EXTENSION_ERROR";
      throw new KysoError(MESSAGES[code] ? code : "EXTENSION_ERROR", { lang: lang() });
    }
    throw errorFromAgent(status, json, lang());
  }

  async function hashItem(hash, hashAlgorithm, what) {
    const bytes = await bytesOf(hash, what, lang());
    const algorithm = hashAlgorithm ?? HASH_LENGTHS[bytes.length];
    if (!algorithm) {
      throw new KysoError("INVALID_ARGUMENT", {
        lang: lang(),
        detail: `${what}: ${bytes.length} bytes is no SHA-256/384/512 digest`,
      });
    }
    return { hash: toBase64(bytes), hashAlgorithm: algorithm };
  }

  /** An appearance with its image as base64; null stays null (an invisible signature). */
  async function appearanceOf(appearance, what) {
    if (appearance === null) return null;
    const wire = pick(appearance, APPEARANCE_FIELDS);
    if (appearance && appearance.image !== undefined) {
      wire.image = appearance.image === null ? null : await base64Of(appearance.image, `${what}.image`, lang());
    }
    return wire;
  }

  async function withCertificate(body, opts) {
    if (opts && opts.certificate !== undefined) {
      body.certificate = await base64Of(opts.certificate, "certificate", lang());
    }
    return body;
  }

  const client = {
    /** Is the agent reachable, and how: never throws. */
    async status() {
      let via = null;
      try {
        via = await transport();
        const info = await call("GET", "/v1/info");
        const ext = via === "extension" ? await detectExtension() : null;
        const port = via === "direct" ? knownPort : null;
        return {
          available: info.product === "kyso-agent",
          transport: via,
          version: info.version,
          api: info.api,
          port,
          extension: ext,
        };
      } catch (error) {
        const ext = via === "extension" ? await detectExtension() : null;
        return { available: false, transport: via, extension: ext, error };
      }
    },

    /** The user picks a certificate on their token: {certificate, chain, keyType, token}. */
    async getCertificate() {
      const json = await call("POST", "/v1/certificates", {});
      return {
        certificate: decodeField(json.certificate, lang()),
        chain: Array.isArray(json.chain) ? json.chain.map((c) => decodeField(c, lang())) : [],
        keyType: json.keyType,
        token: json.token,
      };
    },

    /** Sign one digest: {signature, signatureAlgorithm, certificate}. */
    async sign(hash, opts = {}) {
      const body = {
        ...(await hashItem(hash, opts.hashAlgorithm, "hash")),
        ...pick(opts, ["documentName", "scheme"]),
      };
      const json = await call("POST", "/v1/sign", await withCertificate(body, opts));
      return {
        signature: decodeField(json.signature, lang()),
        signatureAlgorithm: json.signatureAlgorithm,
        certificate: decodeField(json.certificate, lang()),
      };
    },

    /** Sign several digests with one question and one PIN. */
    async signBatch(items, opts = {}) {
      if (!Array.isArray(items) || items.length === 0) {
        throw new KysoError("INVALID_ARGUMENT", { lang: lang(), detail: "items: a non-empty array" });
      }
      const wire = [];
      for (const [index, item] of items.entries()) {
        const plain = item && typeof item === "object" && "hash" in item;
        const entry = await hashItem(plain ? item.hash : item, plain ? item.hashAlgorithm : undefined, `items[${index}]`);
        if (plain && item.documentName !== undefined) entry.documentName = item.documentName;
        wire.push(entry);
      }
      const body = { items: wire, ...pick(opts, ["scheme"]) };
      const json = await call("POST", "/v1/sign/batch", await withCertificate(body, opts));
      const out = {
        signatures: (json.signatures ?? []).map((s) => decodeField(s, lang())),
        signatureAlgorithms: json.signatureAlgorithms,
        certificate: decodeField(json.certificate, lang()),
      };
      if (json.signatureAlgorithm !== undefined) out.signatureAlgorithm = json.signatureAlgorithm;
      return out;
    },

    /**
     * The agent signs a whole PDF (PAdES): {pdf, certificate}. Straight to the agent the file
     * goes as a form and comes back as a file; through the extension, in JSON.
     */
    async signPdf(pdf, opts = {}) {
      const options = pick(opts, ["documentName", "level", "reason", "location", "tsaUrl"]);
      if (opts.appearance !== undefined) options.appearance = await appearanceOf(opts.appearance, "appearance");
      await withCertificate(options, opts);
      let json;
      if ((await transport()) === "direct") {
        const file = await fileOf(pdf);
        const answer = await onAgent((port) => directFile(port, "/v1/pdf/sign", file, options));
        if (answer.file) {
          return { pdf: answer.file, certificate: decodeField(answer.certificate, lang()) };
        }
        // Else an error, or an agent that answers a form in JSON whatever the page accepts.
        json = answer.body;
        if (answer.status !== 200 || !json || typeof json !== "object") {
          throw errorFromAgent(answer.status, json, lang());
        }
      } else {
        json = await call("POST", "/v1/pdf/sign", { pdf: await base64Of(pdf, "pdf", lang()), ...options });
      }
      return { pdf: decodeField(json.pdf, lang()), certificate: decodeField(json.certificate, lang()) };
    },

    /**
     * Up to 50 PDFs, one question and one PIN; the agent shows its progress with a Stop
     * button. {documents: [{index, documentName, signed, pdf?}], signed, stopped, error,
     * certificate}: the first `signed` documents come back signed, even when the user
     * stopped the batch or signing a later one failed (`error`, a KysoError).
     */
    async signPdfBatch(documents, opts = {}) {
      if (!Array.isArray(documents) || documents.length === 0) {
        throw new KysoError("INVALID_ARGUMENT", { lang: lang(), detail: "documents: a non-empty array" });
      }
      const wire = [];
      for (const [index, doc] of documents.entries()) {
        const plain = doc !== null && typeof doc === "object" && "pdf" in doc;
        const pdf = plain ? doc.pdf : doc;
        const entry = { pdf: await base64Of(pdf, `documents[${index}]`, lang()) };
        const name = plain && doc.documentName !== undefined ? doc.documentName : fileName(pdf);
        if (name !== undefined) entry.documentName = name;
        if (plain) {
          Object.assign(entry, pick(doc, ["reason", "location"]));
          if (doc.appearance !== undefined) {
            entry.appearance = await appearanceOf(doc.appearance, `documents[${index}].appearance`);
          }
        }
        wire.push(entry);
      }
      const body = { documents: wire, ...pick(opts, ["level", "reason", "location", "tsaUrl"]) };
      if (opts.appearance !== undefined) body.appearance = await appearanceOf(opts.appearance, "appearance");
      const json = await call("POST", "/v1/pdf/sign/batch", await withCertificate(body, opts));
      if (!Array.isArray(json.documents)) throw new KysoError("UNEXPECTED_RESPONSE", { status: 200, lang: lang() });
      return {
        documents: json.documents.map((d) => {
          const out = { index: d.index, documentName: d.documentName ?? null, signed: d.signed === true };
          if (out.signed) out.pdf = decodeField(d.pdf, lang());
          return out;
        }),
        signed: json.signed,
        stopped: json.stopped === true,
        error: json.error ? errorFromAgent(200, json, lang()) : null,
        certificate: decodeField(json.certificate, lang()),
      };
    },

    /** A CMS SignedData (PAdES attributes) over a digest the portal's server computed. */
    async cmsSign(digest, opts = {}) {
      const { hash, hashAlgorithm } = await hashItem(digest, opts.digestAlgorithm, "digest");
      const body = { digest: hash, digestAlgorithm: hashAlgorithm, ...pick(opts, ["documentName", "tsaUrl"]) };
      const json = await call("POST", "/v1/cms/sign", await withCertificate(body, opts));
      return { cms: decodeField(json.cms, lang()), certificate: decodeField(json.certificate, lang()) };
    },

    /** The agent signs an XML document (e-invoice, tax filing): {xml, certificate, signatureAlgorithm}. */
    async signXml(xml, opts = {}) {
      const body = { xml: await xmlBase64Of(xml, "xml", lang()), profile: "einvoice", ...pick(opts, XML_FIELDS) };
      const json = await call("POST", "/v1/xml/sign", await withCertificate(body, opts));
      return {
        xml: decodeField(json.xml, lang()),
        certificate: decodeField(json.certificate, lang()),
        signatureAlgorithm: json.signatureAlgorithm,
      };
    },

    /** Up to 500 XML documents, one question and one PIN: {documents: [{index, xml, …}], certificate}. */
    async signXmlBatch(documents, opts = {}) {
      if (!Array.isArray(documents) || documents.length === 0) {
        throw new KysoError("INVALID_ARGUMENT", { lang: lang(), detail: "documents: a non-empty array" });
      }
      const wire = [];
      for (const [index, doc] of documents.entries()) {
        const plain = doc && typeof doc === "object" && "xml" in doc;
        const xml = await xmlBase64Of(plain ? doc.xml : doc, `documents[${index}]`, lang());
        wire.push({ xml, profile: "einvoice", ...(plain ? pick(doc, XML_FIELDS) : {}) });
      }
      const json = await call("POST", "/v1/xml/sign/batch", await withCertificate({ documents: wire }, opts));
      return {
        documents: (json.documents ?? []).map((d) => ({ ...d, xml: decodeField(d.xml, lang()) })),
        signed: json.signed,
        certificate: decodeField(json.certificate, lang()),
      };
    },

    /** Check every signature in an XML document; asks the user nothing. */
    async verifyXml(xml) {
      return call("POST", "/v1/xml/verify", { xml: await xmlBase64Of(xml, "xml", lang()) });
    },

    /**
     * Check every signature in a PDF; asks the user nothing. Straight to the agent the file
     * goes as a form, as it is (an agent that takes it only in JSON, 415, is sent JSON);
     * through the extension, in JSON.
     */
    async verifyPdf(pdf) {
      if ((await transport()) === "direct") {
        const file = await fileOf(pdf);
        const answer = await onAgent((port) => directFile(port, "/v1/pdf/verify", file, null));
        const json = answer.body;
        if (answer.status === 200 && json && typeof json === "object") return json;
        if (answer.status !== 415) throw errorFromAgent(answer.status, json, lang());
      }
      return call("POST", "/v1/pdf/verify", { pdf: await base64Of(pdf, "pdf", lang()) });
    },
  };
  return Object.freeze(client);
}

let defaultClient = null;

function shared() {
  if (!defaultClient) defaultClient = createClient();
  return defaultClient;
}

/** Settings for the top-level functions (see createClient). */
export function configure(options) {
  defaultClient = createClient(options);
}

export const status = () => shared().status();
export const getCertificate = () => shared().getCertificate();
export const sign = (hash, opts) => shared().sign(hash, opts);
export const signBatch = (items, opts) => shared().signBatch(items, opts);
export const signPdf = (pdf, opts) => shared().signPdf(pdf, opts);
export const signPdfBatch = (documents, opts) => shared().signPdfBatch(documents, opts);
export const cmsSign = (digest, opts) => shared().cmsSign(digest, opts);
export const verifyPdf = (pdf) => shared().verifyPdf(pdf);
export const signXml = (xml, opts) => shared().signXml(xml, opts);
export const signXmlBatch = (documents, opts) => shared().signXmlBatch(documents, opts);
export const verifyXml = (xml) => shared().verifyXml(xml);
