// Unit tests of kyso.js: error mapping, transports, bytes. Run: node --test browser-extension/test/
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  AGENT_PORTS,
  KysoError,
  MESSAGES,
  createClient,
  errorFromAgent,
  fromBase64,
  messageFor,
  toBase64,
} from "../kyso.js";
import { FakeWindow, fakeAgent, fakePermissions, installFakeExtension } from "./fakes.js";

const openapi = JSON.parse(
  readFileSync(new URL("../../agent/server/openapi.json", import.meta.url), "utf-8"),
);
const AGENT_CODES = openapi.components.schemas.ErrorCode.enum;
const SHA256 = new Uint8Array(32).fill(7);
const CERT = toBase64(new Uint8Array([0x30, 0x82, 1, 2, 3]));

function direct(agent, extra = {}) {
  return createClient({ transport: "direct", fetch: agent.fetch, lang: "vi", ...extra });
}

async function rejects(promise, code) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof KysoError, `not a KysoError: ${error}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

test("every agent error code of the OpenAPI description has a Vietnamese and an English text", () => {
  assert.ok(AGENT_CODES.length >= 17);
  for (const code of AGENT_CODES) {
    assert.ok(MESSAGES[code], `no message for ${code}`);
    const [vi, en] = MESSAGES[code];
    assert.ok(vi && en && vi !== en, code);
  }
});

test("client codes have texts too, and unknown codes read as INTERNAL", () => {
  for (const code of ["AGENT_UNREACHABLE", "LOCAL_NETWORK_DENIED", "EXTENSION_REFUSED", "EXTENSION_ERROR", "INVALID_ARGUMENT", "UNEXPECTED_RESPONSE"]) {
    assert.ok(MESSAGES[code], code);
  }
  assert.equal(messageFor("NO_SUCH_CODE", "en"), MESSAGES.INTERNAL[1]);
  assert.equal(new KysoError("NO_SUCH_CODE").code, "INTERNAL");
});

test("an agent error keeps its code, HTTP status and the agent's own message", () => {
  for (const code of AGENT_CODES) {
    const error = errorFromAgent(409, { error: { code, message: "chi tiết" } }, "en");
    assert.equal(error.code, code);
    assert.equal(error.status, 409);
    assert.equal(error.message, MESSAGES[code][1]);
    assert.deepEqual(error.messages, { vi: MESSAGES[code][0], en: MESSAGES[code][1] });
    assert.equal(error.detail, "chi tiết");
    assert.equal(error.name, "KysoError");
    assert.ok(error instanceof Error);
  }
});

test("an answer without an error body is UNEXPECTED_RESPONSE, a new code INTERNAL", () => {
  assert.equal(errorFromAgent(502, "<html>").code, "UNEXPECTED_RESPONSE");
  assert.equal(errorFromAgent(500, { error: {} }).code, "UNEXPECTED_RESPONSE");
  assert.equal(errorFromAgent(418, { error: { code: "FUTURE_CODE", message: "x" } }).code, "INTERNAL");
});

test("base64 round trip, also for large inputs", () => {
  const bytes = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff);
  assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
  assert.equal(toBase64(new Uint8Array([0xfb, 0xff])), "+/8=");
});

test("direct: finds the agent on its port, says loopback, signs a digest", async () => {
  const agent = fakeAgent({
    port: 8993,
    others: { 8989: { status: 200, body: { product: "something-else" } } },
    routes: {
      "/v1/sign": { status: 200, body: { signature: "AQID", signatureAlgorithm: "RS256", certificate: CERT } },
    },
  });
  const result = await direct(agent).sign(SHA256, { documentName: "QĐ-1.pdf" });
  assert.deepEqual(result.signature, new Uint8Array([1, 2, 3]));
  assert.equal(result.signatureAlgorithm, "RS256");
  assert.ok(result.certificate instanceof Uint8Array);
  const probed = new Set(agent.requests.filter((r) => r.path === "/v1/info").map((r) => r.port));
  assert.deepEqual([...probed].sort(), [...AGENT_PORTS]);
  const [post] = agent.requests.filter((r) => r.path === "/v1/sign");
  assert.equal(post.port, 8993);
  assert.equal(post.init.method, "POST");
  assert.equal(post.init.targetAddressSpace, "loopback");
  assert.equal(post.init.credentials, "omit");
  assert.equal(post.init.headers["Content-Type"], "application/json");
  assert.equal(post.init.headers["Accept-Language"], "vi");
  assert.deepEqual(post.body, { hash: toBase64(SHA256), hashAlgorithm: "SHA-256", documentName: "QĐ-1.pdf" });
});

test("direct: the port is found once and then reused", async () => {
  const agent = fakeAgent({ routes: { "/v1/pdf/verify": { status: 200, body: { allValid: true, signatures: [], text: "" } } } });
  const client = direct(agent);
  await client.verifyPdf(new Uint8Array([37, 80, 68, 70]));
  await client.verifyPdf("JVBERg==");
  assert.equal(agent.requests.filter((r) => r.path === "/v1/info").length, AGENT_PORTS.length);
  assert.equal(agent.requests.filter((r) => r.path === "/v1/pdf/verify").length, 2);
});

test("direct: no agent on any port is AGENT_UNREACHABLE", async () => {
  const agent = fakeAgent({ port: 1 });
  const error = await rejects(direct(agent, { permissions: fakePermissions({ "loopback-network": "granted" }) }).sign(SHA256), "AGENT_UNREACHABLE");
  assert.equal(error.status, 0);
  assert.match(error.message, /Kyso Agent/);
});

test("direct: a fetch TypeError with Local Network Access denied is LOCAL_NETWORK_DENIED", async () => {
  const agent = fakeAgent({ port: 1 });
  const client = direct(agent, { lang: "en", permissions: fakePermissions({ "loopback-network": "denied" }) });
  const error = await rejects(client.getCertificate(), "LOCAL_NETWORK_DENIED");
  assert.match(error.message, /local network access/);
});

test("direct: the older permission name local-network-access is asked when loopback-network is unknown", async () => {
  const agent = fakeAgent({ port: 1 });
  const client = direct(agent, { permissions: fakePermissions({ "local-network-access": "denied" }) });
  await rejects(client.sign(SHA256), "LOCAL_NETWORK_DENIED");
});

test("direct: a network failure on the call itself is mapped, and the port looked up again", async () => {
  let fail = true;
  const agent = fakeAgent({
    routes: {
      "/v1/sign": () => (fail ? new TypeError("Failed to fetch") : { status: 200, body: { signature: "AA==", signatureAlgorithm: "ES256", certificate: CERT } }),
    },
  });
  const client = direct(agent);
  await rejects(client.sign(SHA256), "AGENT_UNREACHABLE");
  fail = false;
  await client.sign(SHA256);
  assert.equal(agent.requests.filter((r) => r.path === "/v1/info").length, 2 * AGENT_PORTS.length);
});

test("direct: every agent error answer becomes a KysoError with its status", async () => {
  for (const [code, status] of [["USER_CANCELLED", 403], ["PIN_LOCKED", 423], ["BUSY", 429], ["ORIGIN_NOT_ALLOWED", 403], ["PAYLOAD_TOO_LARGE", 413]]) {
    const agent = fakeAgent({ routes: { "/v1/sign": { status, body: { error: { code, message: "agent says" } } } } });
    const error = await rejects(direct(agent).sign(SHA256), code);
    assert.equal(error.status, status);
    assert.equal(error.detail, "agent says");
  }
});

test("direct: a non-JSON answer is UNEXPECTED_RESPONSE", async () => {
  const agent = fakeAgent({ routes: { "/v1/sign": { status: 500, body: undefined } } });
  await rejects(direct(agent).sign(SHA256), "UNEXPECTED_RESPONSE");
});

test("arguments: digests of other lengths and non-bytes are refused before any call", async () => {
  const agent = fakeAgent();
  const client = direct(agent);
  await rejects(client.sign(new Uint8Array(20)), "INVALID_ARGUMENT");
  await rejects(client.sign(42), "INVALID_ARGUMENT");
  await rejects(client.signPdf("not base64!"), "INVALID_ARGUMENT");
  await rejects(client.signBatch([]), "INVALID_ARGUMENT");
  assert.equal(agent.requests.length, 0);
});

test("hash algorithm from the digest length, or as given", async () => {
  const seen = [];
  const agent = fakeAgent({
    routes: {
      "/v1/sign/batch": (request) => {
        seen.push(request.body);
        return { status: 200, body: { signatures: ["AQ==", "Ag=="], signatureAlgorithms: ["RS384", "RS512"], certificate: CERT } };
      },
    },
  });
  const result = await direct(agent).signBatch(
    [new Uint8Array(48), { hash: new Uint8Array(64).buffer, documentName: "b.pdf" }],
    { certificate: new Uint8Array([1]) },
  );
  assert.deepEqual(seen[0].items.map((i) => i.hashAlgorithm), ["SHA-384", "SHA-512"]);
  assert.equal(seen[0].items[1].documentName, "b.pdf");
  assert.equal(seen[0].certificate, "AQ==");
  assert.deepEqual(result.signatures, [new Uint8Array([1]), new Uint8Array([2])]);
  assert.equal(result.signatureAlgorithm, undefined);
});

test("signPdf straight to the agent: a form with the Blob as it is, the signed file back", async () => {
  let seen;
  const agent = fakeAgent({
    routes: {
      "/v1/pdf/sign": (request) => {
        seen = request;
        return { status: 200, file: new Uint8Array([37, 80, 68, 70, 45, 33]), certificate: CERT };
      },
    },
  });
  const pdf = new File([new Uint8Array([37, 80, 68, 70])], "QĐ-12.pdf", { type: "application/pdf" });
  const result = await direct(agent).signPdf(pdf, {
    documentName: "a.pdf",
    level: "B-B",
    certificate: new Uint8Array([1]),
    appearance: { profile: "organization", image: new Uint8Array([137, 80]), page: -1, ignored: true },
    unknown: "dropped",
  });
  assert.equal(seen.init.headers.Accept, "application/pdf");
  assert.deepEqual(seen.form.parts, ["options", "file"]);
  assert.deepEqual(seen.form.file, new Uint8Array([37, 80, 68, 70]));
  assert.equal(seen.form.fileName, "QĐ-12.pdf");
  assert.deepEqual(seen.form.options, {
    documentName: "a.pdf",
    level: "B-B",
    certificate: "AQ==",
    appearance: { profile: "organization", page: -1, image: "iVA=" },
  });
  assert.deepEqual(result.pdf, new Uint8Array([37, 80, 68, 70, 45, 33]));
  assert.deepEqual(result.certificate, fromBase64(CERT));
});

test("signPdf straight to the agent: bytes or base64 go as a file too", async () => {
  const files = [];
  const agent = fakeAgent({
    routes: {
      "/v1/pdf/sign": (r) => (files.push(r.form), { status: 200, file: new Uint8Array([1]), certificate: CERT }),
    },
  });
  await direct(agent).signPdf("JVBERg==", { appearance: { profile: "personal", field: "SigLanhDao" } });
  await direct(agent).signPdf(new Uint8Array([37, 80, 68, 70]).buffer);
  assert.deepEqual(files.map((f) => [...f.file]), [[37, 80, 68, 70], [37, 80, 68, 70]]);
  assert.equal(files[0].fileName, "document.pdf");
  assert.deepEqual(files[0].options.appearance, { profile: "personal", field: "SigLanhDao" });
});

test("signPdf straight to the agent: an agent answering the form in JSON, and errors", async () => {
  const json = fakeAgent({ routes: { "/v1/pdf/sign": { status: 200, body: { pdf: "JVBERi0=", certificate: CERT } } } });
  assert.deepEqual((await direct(json).signPdf("JVBERg==")).pdf, fromBase64("JVBERi0="));
  const refused = fakeAgent({
    routes: { "/v1/pdf/sign": { status: 403, body: { error: { code: "USER_CANCELLED", message: "no" } } } },
  });
  const error = await rejects(direct(refused).signPdf("JVBERg=="), "USER_CANCELLED");
  assert.equal(error.status, 403);
  const broken = fakeAgent({ routes: { "/v1/pdf/sign": { status: 200, file: new Uint8Array([1]) } } });
  await rejects(direct(broken).signPdf("JVBERg=="), "UNEXPECTED_RESPONSE"); // no certificate header
});

test("verifyPdf straight to the agent: a form with the file alone, the report in JSON", async () => {
  const seen = [];
  const report = { allValid: true, signatures: [], text: "" };
  const agent = fakeAgent({ routes: { "/v1/pdf/verify": (r) => (seen.push(r), { status: 200, body: report }) } });
  const pdf = new File([new Uint8Array([37, 80, 68, 70])], "QĐ-12.pdf", { type: "application/pdf" });
  assert.deepEqual(await direct(agent).verifyPdf(pdf), report);
  await direct(agent).verifyPdf("JVBERg==");
  assert.deepEqual(seen.map((r) => r.form.parts), [["file"], ["file"]]);
  assert.deepEqual(seen.map((r) => [...r.form.file]), [[37, 80, 68, 70], [37, 80, 68, 70]]);
  assert.equal(seen[0].form.fileName, "QĐ-12.pdf");
  assert.equal(seen[0].init.headers.Accept, "application/json");
  const refused = fakeAgent({
    routes: { "/v1/pdf/verify": { status: 400, body: { error: { code: "BAD_REQUEST", message: "not a PDF" } } } },
  });
  const error = await rejects(direct(refused).verifyPdf("JVBERg=="), "BAD_REQUEST");
  assert.equal(error.status, 400);
});

test("verifyPdf straight to an agent that takes it only in JSON: sent again in JSON", async () => {
  const agent = fakeAgent({
    routes: {
      "/v1/pdf/verify": (r) =>
        r.form
          ? { status: 415, body: { error: { code: "UNSUPPORTED_MEDIA_TYPE", message: "JSON" } } }
          : { status: 200, body: { allValid: false, signatures: [], text: "" } },
    },
  });
  assert.equal((await direct(agent).verifyPdf(new Uint8Array([37, 80, 68, 70]))).allValid, false);
  const sent = agent.requests.filter((r) => r.path === "/v1/pdf/verify");
  assert.deepEqual(sent.map((r) => (r.form ? "form" : r.body)), ["form", { pdf: "JVBERg==" }]);
});

test("signPdf through the extension: JSON with base64, as the extension relays it", async () => {
  const win = new FakeWindow();
  const calls = installFakeExtension(win, () => ({ status: 200, body: { pdf: "JVBERi0=", certificate: CERT } }));
  const client = createClient({ window: win, lang: "vi", extensionTimeoutMs: 500 });
  const result = await client.signPdf(new Blob([new Uint8Array([37, 80, 68, 70])]), { documentName: "a.pdf" });
  const [call] = calls.filter((c) => c.path === "/v1/pdf/sign");
  assert.deepEqual(call.body, { pdf: "JVBERg==", documentName: "a.pdf" });
  assert.deepEqual(result.pdf, fromBase64("JVBERi0="));
});

test("signPdfBatch: Files give their names, documents their own options, answers decoded", async () => {
  let body;
  const agent = fakeAgent({
    routes: {
      "/v1/pdf/sign/batch": (r) => (
        (body = r.body),
        {
          status: 200,
          body: {
            documents: [
              { index: 0, documentName: "QĐ 1.pdf", signed: true, pdf: "JVBERi0x" },
              { index: 1, documentName: "CV 2.pdf", signed: true, pdf: "JVBERi0y" },
              { index: 2, documentName: null, signed: false },
              { index: 3, documentName: "TT 4.pdf", signed: false },
            ],
            signed: 2,
            stopped: false,
            certificate: CERT,
            error: { code: "SIGNING_FAILED", message: "the TSA did not answer" },
          },
        }
      ),
    },
  });
  const pdf = new Uint8Array([37, 80, 68, 70]);
  const result = await direct(agent).signPdfBatch(
    [
      new File([pdf], "QĐ 1.pdf", { type: "application/pdf" }),
      { pdf: new Blob([pdf]), documentName: "CV 2.pdf", reason: "Đồng ý", appearance: null, unknown: 1 },
      pdf.buffer,
      { pdf: new File([pdf], "ignored.pdf"), documentName: "TT 4.pdf", appearance: { profile: "organization", image: new Uint8Array([137, 80]), field: "SigVanThu" } },
    ],
    { certificate: new Uint8Array([1]), level: "B-B", reason: "Phê duyệt", appearance: { profile: "personal", page: -1 }, documentName: "dropped" },
  );
  assert.deepEqual(body, {
    documents: [
      { pdf: "JVBERg==", documentName: "QĐ 1.pdf" },
      { pdf: "JVBERg==", documentName: "CV 2.pdf", reason: "Đồng ý", appearance: null },
      { pdf: "JVBERg==" },
      { pdf: "JVBERg==", documentName: "TT 4.pdf", appearance: { profile: "organization", field: "SigVanThu", image: "iVA=" } },
    ],
    level: "B-B",
    reason: "Phê duyệt",
    appearance: { profile: "personal", page: -1 },
    certificate: "AQ==",
  });
  assert.equal(result.signed, 2);
  assert.equal(result.stopped, false);
  assert.deepEqual(result.documents.map((d) => d.signed), [true, true, false, false]);
  assert.deepEqual(result.documents[1].pdf, fromBase64("JVBERi0y"));
  assert.equal("pdf" in result.documents[2], false);
  assert.equal(result.documents[2].documentName, null);
  assert.ok(result.error instanceof KysoError);
  assert.equal(result.error.code, "SIGNING_FAILED");
  assert.equal(result.error.detail, "the TSA did not answer");
  assert.equal(result.error.message, MESSAGES.SIGNING_FAILED[0]);
  assert.ok(result.certificate instanceof Uint8Array);
});

test("signPdfBatch: a stopped batch resolves, a refused one rejects, bad input is INVALID_ARGUMENT", async () => {
  let answer = {
    status: 200,
    body: { documents: [{ index: 0, documentName: null, signed: true, pdf: "JVBERi0x" }, { index: 1, documentName: null, signed: false }], signed: 1, stopped: true, certificate: CERT },
  };
  const agent = fakeAgent({ routes: { "/v1/pdf/sign/batch": () => answer } });
  const client = direct(agent);
  const stopped = await client.signPdfBatch(["JVBERg==", "JVBERg=="]);
  assert.equal(stopped.stopped, true);
  assert.equal(stopped.error, null);
  assert.equal(stopped.documents[0].signed, true);
  answer = { status: 403, body: { error: { code: "USER_CANCELLED", message: "no" } } };
  await rejects(client.signPdfBatch(["JVBERg=="]), "USER_CANCELLED");
  answer = { status: 200, body: { signed: 0 } };
  await rejects(client.signPdfBatch(["JVBERg=="]), "UNEXPECTED_RESPONSE");
  await rejects(client.signPdfBatch([]), "INVALID_ARGUMENT");
  await rejects(client.signPdfBatch("JVBERg=="), "INVALID_ARGUMENT");
  await rejects(client.signPdfBatch([{ pdf: 42 }]), "INVALID_ARGUMENT");
});

test("signXml: XML text is sent as UTF-8 base64 with the einvoice profile by default", async () => {
  let body;
  const agent = fakeAgent({
    routes: {
      "/v1/xml/sign": (r) => ((body = r.body), { status: 200, body: { xml: "PGEvPg==", certificate: CERT, signatureAlgorithm: "rsa" } }),
    },
  });
  const xml = "<HDon><DLHDon Id=\"a\">Hóa đơn</DLHDon></HDon>";
  const result = await direct(agent).signXml(xml, { role: "buyer", documentName: "HĐ 1", unknown: 1 });
  assert.equal(body.xml, toBase64(new TextEncoder().encode(xml)));
  assert.deepEqual({ ...body, xml: undefined }, { xml: undefined, profile: "einvoice", role: "buyer", documentName: "HĐ 1" });
  assert.equal(new TextDecoder().decode(result.xml), "<a/>");
  assert.equal(result.signatureAlgorithm, "rsa");
});

test("signXmlBatch and verifyXml: documents as text or bytes, answers decoded", async () => {
  let batch;
  const agent = fakeAgent({
    routes: {
      "/v1/xml/sign/batch": (r) => (
        (batch = r.body),
        {
          status: 200,
          body: {
            documents: [{ index: 0, documentName: null, signed: true, xml: "PGEvPg==", signatureAlgorithm: "rsa" }],
            signed: 1,
            certificate: CERT,
          },
        }
      ),
      "/v1/xml/verify": { status: 200, body: { allValid: true, signatures: [], text: "" } },
    },
  });
  const client = direct(agent);
  const result = await client.signXmlBatch(["<a/>", { xml: new Uint8Array([60, 98, 47, 62]), profile: "enveloped", signId: "x" }]);
  assert.deepEqual(batch.documents, [
    { xml: "PGEvPg==", profile: "einvoice" },
    { xml: "PGIvPg==", profile: "enveloped", signId: "x" },
  ]);
  assert.deepEqual(result.documents[0].xml, fromBase64("PGEvPg=="));
  assert.equal((await client.verifyXml("<a/>")).allValid, true);
  await rejects(client.signXmlBatch([]), "INVALID_ARGUMENT");
});

test("cmsSign sends digest and digestAlgorithm", async () => {
  let body;
  const agent = fakeAgent({ routes: { "/v1/cms/sign": (r) => ((body = r.body), { status: 200, body: { cms: "MA==", certificate: CERT } }) } });
  const result = await direct(agent).cmsSign(toBase64(SHA256), { documentName: "x.pdf" });
  assert.deepEqual(body, { digest: toBase64(SHA256), digestAlgorithm: "SHA-256", documentName: "x.pdf" });
  assert.deepEqual(result.cms, new Uint8Array([0x30]));
});

test("extension: used when it answers the handshake; nothing is fetched directly", async () => {
  const win = new FakeWindow();
  const calls = installFakeExtension(win, () => ({ status: 200, body: { certificate: CERT, chain: [CERT], keyType: "RSA", token: { label: "T", serial: "1" } } }));
  const agent = fakeAgent();
  const client = createClient({ window: win, fetch: agent.fetch, lang: "en" });
  const result = await client.getCertificate();
  assert.equal(result.keyType, "RSA");
  assert.equal(result.chain.length, 1);
  assert.deepEqual(calls, [{ method: "POST", path: "/v1/certificates", body: {}, lang: "en" }]);
  assert.equal(agent.requests.length, 0);
  for (const { data, targetOrigin } of win.posted.filter((p) => p.data.dir === "request")) {
    assert.equal(targetOrigin, "https://portal.example.gov.vn");
    assert.match(data.id, /^[A-Za-z0-9_-]{1,64}$/);
  }
});

test("extension: its own refusals and an unreachable agent map to KysoErrors with status 0", async () => {
  for (const code of ["AGENT_UNREACHABLE", "PAYLOAD_TOO_LARGE", "EXTENSION_REFUSED", "BUSY"]) {
    const win = new FakeWindow();
    installFakeExtension(win, () => ({ status: 0, body: { error: { code, message: "" } } }));
    const error = await rejects(createClient({ window: win, fetch: fakeAgent().fetch }).sign(SHA256), code);
    assert.equal(error.status, 0);
  }
});

test("extension: an agent error relayed keeps its code and status", async () => {
  const win = new FakeWindow();
  installFakeExtension(win, () => ({ status: 403, body: { error: { code: "ORIGIN_NOT_ALLOWED", message: "no" } } }));
  const error = await rejects(createClient({ window: win }).sign(SHA256), "ORIGIN_NOT_ALLOWED");
  assert.equal(error.status, 403);
});

test("extension: answers from another window, or to another id, are ignored", async () => {
  const win = new FakeWindow();
  const other = new FakeWindow();
  win.addEventListener("message", (event) => {
    const data = event.data;
    if (event.source !== win || data.dir !== "request" || data.type !== "hello") return;
    // A frame (another window) tries to pass as the extension, then a wrong id.
    win.deliver({ kyso: "kyso-agent", dir: "response", id: data.id, type: "hello", version: "6.6.6", api: 1 }, other, win.location.origin);
    win.deliver({ kyso: "kyso-agent", dir: "response", id: "x", type: "hello", version: "6.6.6", api: 1 }, win, win.location.origin);
  });
  const agent = fakeAgent();
  const state = await createClient({ window: win, fetch: agent.fetch, extensionTimeoutMs: 50 }).status();
  assert.equal(state.transport, "direct");
  assert.equal(state.extension, null);
  assert.equal(state.available, true);
  assert.equal(state.port, 8990);
});

test("status: without extension and agent, unavailable with the reason; never throws", async () => {
  const win = new FakeWindow();
  const state = await createClient({ window: win, fetch: fakeAgent({ port: 1 }).fetch, extensionTimeoutMs: 20 }).status();
  assert.equal(state.available, false);
  assert.equal(state.transport, "direct");
  assert.equal(state.error.code, "AGENT_UNREACHABLE");
});

test("status: through the extension, with its version", async () => {
  const win = new FakeWindow();
  installFakeExtension(win, () => ({ status: 200, body: { product: "kyso-agent", version: "1.0", api: 1 } }));
  const state = await createClient({ window: win }).status();
  assert.deepEqual(state, { available: true, transport: "extension", version: "1.0", api: 1, port: null, extension: { version: "9.9.9", api: 1 } });
});

test("transport 'extension' without the extension is AGENT_UNREACHABLE", async () => {
  const win = new FakeWindow();
  await rejects(createClient({ window: win, transport: "extension", extensionTimeoutMs: 20 }).sign(SHA256), "AGENT_UNREACHABLE");
});

test("the language follows <html lang> unless set", async () => {
  const win = new FakeWindow();
  win.document.documentElement.lang = "en-GB";
  installFakeExtension(win, () => ({ status: 403, body: { error: { code: "USER_CANCELLED", message: "" } } }));
  const error = await rejects(createClient({ window: win }).sign(SHA256), "USER_CANCELLED");
  assert.equal(error.message, "You chose not to sign.");
});
