// Types of kyso.js, the browser client of Kyso Agent.
//
// Bytes in (`Bytes`): Uint8Array, ArrayBuffer, any ArrayBufferView, a Blob/File, or a
// standard base64 string. Bytes out: always Uint8Array (DER for certificates).
//
// Every call that uses the token (getCertificate, sign…, cmsSign) may stay pending for a
// while: when no token is plugged in, or none holds the requested certificate, the agent
// shows "Hãy cắm USB token…" and waits up to its prompt timeout (120 s by default; IT can
// turn this off with the `wait_for_token` setting), then asks its question, which the user
// has as long again to answer. Cancel in the wait rejects with USER_CANCELLED; no token in
// time with TOKEN_NOT_PRESENT or CERTIFICATE_NOT_FOUND. Do not put a timeout of your own on
// these calls.

export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView | Blob | string;
export type Lang = "vi" | "en";
export type HashAlgorithm = "SHA-256" | "SHA-384" | "SHA-512";
export type RsaScheme = "PKCS1v15" | "PSS";
export type SignatureAlgorithm = "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "ES512";

/** Error codes of the agent's API v1. */
export type AgentErrorCode =
  | "BAD_REQUEST"
  | "HOST_NOT_ALLOWED"
  | "ORIGIN_NOT_ALLOWED"
  | "CALLER_NOT_ALLOWED"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "PAYLOAD_TOO_LARGE"
  | "NOT_FOUND"
  | "USER_CANCELLED"
  | "CONSENT_TIMEOUT"
  | "TOKEN_NOT_PRESENT"
  | "TOKEN_MODULE_FAILED"
  | "CERTIFICATE_NOT_FOUND"
  | "CERTIFICATE_EXPIRED"
  | "CERTIFICATE_REVOKED"
  | "SIGNING_FAILED"
  | "STORAGE_FAILED"
  | "PIN_LOCKED"
  | "BUSY"
  | "INTERNAL";

/** Codes of the client and the extension (status 0: the agent gave no answer). */
export type ClientErrorCode =
  /** No agent answered on 8988–8998: not running, or its certificate is not trusted. */
  | "AGENT_UNREACHABLE"
  /** The browser's Local Network Access permission for this site is denied. */
  | "LOCAL_NETWORK_DENIED"
  /** The extension refused the message (bad shape, unknown endpoint). */
  | "EXTENSION_REFUSED"
  /** The extension failed (e.g. it was updated while the page was open). */
  | "EXTENSION_ERROR"
  /** An argument could not be used (not bytes, not a SHA-2 digest length …). */
  | "INVALID_ARGUMENT"
  /** The agent's answer did not have the documented shape. */
  | "UNEXPECTED_RESPONSE";

export type ErrorCode = AgentErrorCode | ClientErrorCode;

export declare class KysoError extends Error {
  readonly name: "KysoError";
  /** Stable code, for the portal's logic. */
  readonly code: ErrorCode;
  /** HTTP status of the agent's answer; 0 when the agent gave none. */
  readonly status: number;
  /** What to tell the user, in the client's language. */
  readonly message: string;
  /** The same text in both languages. */
  readonly messages: { readonly vi: string; readonly en: string };
  /** The agent's own message (names the field of a BAD_REQUEST, the failing TSA …). */
  readonly detail: string;
  constructor(code: ErrorCode, init?: { status?: number; lang?: Lang; detail?: string; cause?: unknown });
}

export interface ClientOptions {
  /** "auto" (default): the extension if it answers the handshake, else direct fetch. */
  transport?: "auto" | "extension" | "direct";
  /** Agent ports to probe for the direct transport (default 8988–8998). */
  ports?: number[];
  /** Language of KysoError messages and of the agent's texts (default: `<html lang>`, else vi). */
  lang?: Lang;
  /** How long to wait for the extension's handshake (default 400 ms). */
  extensionTimeoutMs?: number;
  window?: Window;
  fetch?: typeof fetch;
  permissions?: Permissions;
}

export interface TokenRef {
  label: string;
  serial: string;
}

export interface Status {
  available: boolean;
  transport: "extension" | "direct" | null;
  version?: string;
  api?: number;
  /** The agent's port (direct transport only; the extension keeps its own). */
  port?: number | null;
  /** The extension's version when it is installed. */
  extension: { version: string; api: number } | null;
  error?: KysoError;
}

export interface CertificateResult {
  certificate: Uint8Array;
  chain: Uint8Array[];
  keyType: "RSA" | "EC";
  token: TokenRef;
}

export interface SignOptions {
  /** Default: from the digest's length (32 → SHA-256, 48 → SHA-384, 64 → SHA-512). */
  hashAlgorithm?: HashAlgorithm;
  /** DER certificate to sign with; without it the user picks. */
  certificate?: Bytes;
  /** Shown to the user in the agent's question. */
  documentName?: string;
  scheme?: RsaScheme;
}

export interface SignResult {
  signature: Uint8Array;
  signatureAlgorithm: SignatureAlgorithm;
  certificate: Uint8Array;
}

export interface BatchItem {
  hash: Bytes;
  hashAlgorithm?: HashAlgorithm;
  documentName?: string;
}

export interface BatchResult {
  signatures: Uint8Array[];
  signatureAlgorithms: SignatureAlgorithm[];
  /** Present when every signature used the same algorithm. */
  signatureAlgorithm?: SignatureAlgorithm;
  certificate: Uint8Array;
}

export type AppearanceProfile = "invisible" | "personal" | "organization" | "attachment";

export interface Appearance {
  profile: AppearanceProfile;
  /** 1-based; negative counts from the end. */
  page?: number;
  /** [x1, y1, x2, y2] in PDF points, origin lower left. */
  rect?: [number, number, number, number];
  /** Text in the document the stamp is centred on. */
  anchor?: string;
  /** PNG: the signer's signature image (personal) or the seal (organization). */
  image?: Bytes;
  /** Số và ký hiệu (attachment). */
  text?: string;
  /** Name of an existing empty signature field to sign in (page, rect and anchor are then not used). */
  field?: string;
}

export interface PdfSignOptions {
  documentName?: string;
  certificate?: Bytes;
  level?: "B-B" | "B-T" | "B-LT";
  reason?: string;
  location?: string;
  /** Only the TSA the agent is configured with (its `tsa_url`); any other is BAD_REQUEST. */
  tsaUrl?: string;
  appearance?: Appearance;
}

export interface PdfSignResult {
  pdf: Uint8Array;
  certificate: Uint8Array;
}

/** One PDF of a batch, with what is its own (the rest comes from `PdfBatchSignOptions`). */
export interface PdfBatchDocument {
  pdf: Bytes;
  /** Shown to the user; default: the File's name when `pdf` is a File. */
  documentName?: string | null;
  /** This document's reason instead of the batch's (null: none). */
  reason?: string | null;
  /** This document's place of signing instead of the batch's (null: none). */
  location?: string | null;
  /** This document's stamp instead of the batch's (null: invisible). */
  appearance?: Appearance | null;
}

/** Options every document of a batch is signed with. */
export type PdfBatchSignOptions = Omit<PdfSignOptions, "documentName">;

/** A document of a batch's answer: signed (with its PDF) or not (after Stop or `error`). */
export type PdfBatchSignedDocument =
  | { index: number; documentName: string | null; signed: true; pdf: Uint8Array }
  | { index: number; documentName: string | null; signed: false };

export interface PdfBatchSignResult {
  /** documents[i] is the request's documents[i]; the first `signed` of them are signed. */
  documents: PdfBatchSignedDocument[];
  /** How many documents were signed (all of them unless `stopped` or `error`). */
  signed: number;
  /** The user pressed Stop: the batch ended after the document being signed then. */
  stopped: boolean;
  /**
   * Signing a document failed after others were signed: why (its `status` is 200, the
   * answer's). The documents from that one on are not signed; the others are given back.
   * null when nothing failed.
   */
  error: KysoError | null;
  certificate: Uint8Array;
}

export interface CmsSignOptions {
  /** Default: from the digest's length. */
  digestAlgorithm?: HashAlgorithm;
  documentName?: string;
  certificate?: Bytes;
  /** Only the TSA the agent is configured with (its `tsa_url`); any other is BAD_REQUEST. */
  tsaUrl?: string;
}

export interface CmsSignResult {
  /** DER CMS SignedData with PAdES signed attributes. */
  cms: Uint8Array;
  certificate: Uint8Array;
}

/** The agent's verification report (`PdfVerifyReport` in its OpenAPI description). */
export interface PdfVerifyReport {
  allValid: boolean;
  signatures: Array<Record<string, unknown> & { signer: string; ok: boolean; problems: string[] }>;
  /** The report as text, in the client's language. */
  text: string;
}

export type XmlProfile = "einvoice" | "tax-declaration" | "tax-message" | "enveloped";
export type EinvoiceRole = "seller" | "buyer" | "tax-authority" | "other";
/** XML text (a string starting with "<", sent as UTF-8), or bytes / base64. */
export type XmlInput = Bytes;

export interface XmlSignOptions {
  /** Default "einvoice". */
  profile?: XmlProfile;
  /** einvoice only; default "seller". */
  role?: EinvoiceRole;
  /** enveloped only (required there): the Id of the element to sign. */
  signId?: string;
  /** enveloped only: the Id of the element the signature goes into (not with parentXpath). */
  parentId?: string;
  /** enveloped only: a path of names such as "/Doc/Signatures" (not with parentId). */
  parentXpath?: string;
  /** Default "SHA-256". */
  digestAlgorithm?: "SHA-256" | "SHA-1";
  documentName?: string;
}

export interface XmlDocument extends XmlSignOptions {
  xml: XmlInput;
}

export interface XmlSignResult {
  xml: Uint8Array;
  certificate: Uint8Array;
  /** The XMLDSig SignatureMethod URI. */
  signatureAlgorithm: string;
}

export interface XmlBatchSignResult {
  /** documents[i] is the request's documents[i], signed. */
  documents: Array<{ index: number; documentName: string | null; signed: true; xml: Uint8Array; signatureAlgorithm: string }>;
  signed: number;
  certificate: Uint8Array;
}

/** The agent's XML verification report (`XmlVerifyReport` in its OpenAPI description). */
export interface XmlVerifyReport {
  allValid: boolean;
  signatures: Array<Record<string, unknown> & { intact: boolean; valid: boolean; trusted: boolean; ok: boolean; problems: string[] }>;
  /** The report as text, in the client's language. */
  text: string;
}

export interface KysoClient {
  status(): Promise<Status>;
  /** The user picks a certificate (after plugging the token in, if the agent has to ask). */
  getCertificate(): Promise<CertificateResult>;
  sign(hash: Bytes, opts?: SignOptions): Promise<SignResult>;
  /**
   * Up to 1000 digests after one question and one PIN. Over 50, the agent shows its
   * progress once signing takes more than a second; the user's Stop there rejects with
   * USER_CANCELLED and no signature comes back.
   */
  signBatch(items: Array<BatchItem | Bytes>, opts?: Omit<SignOptions, "hashAlgorithm" | "documentName">): Promise<BatchResult>;
  /**
   * The agent signs a whole PDF (PAdES). Straight to the agent the file is posted as a form and
   * the signed file comes back as it is (no base64 either way); through the extension, in JSON.
   */
  signPdf(pdf: Bytes, opts?: PdfSignOptions): Promise<PdfSignResult>;
  /**
   * Up to 50 PDFs (together at most the agent's `max_pdf_bytes`) after one question that
   * lists them all and one PIN. Each document is a PDF (`Bytes`; a File gives its name) or a
   * `PdfBatchDocument`. Every document is checked before the question: one that cannot be
   * signed rejects with BAD_REQUEST naming it (`documents.3`) and nobody is asked. While
   * signing, the agent shows "n of N" and the current document with a Stop button; Stop ends
   * the batch after that document, and the promise resolves with those signed
   * (`stopped: true`). When a later document fails, it resolves with those signed before it
   * and `error`; when the first one fails, or the user cancels the question, it rejects as
   * signPdf would.
   */
  signPdfBatch(documents: Array<PdfBatchDocument | Bytes>, opts?: PdfBatchSignOptions): Promise<PdfBatchSignResult>;
  cmsSign(digest: Bytes, opts?: CmsSignOptions): Promise<CmsSignResult>;
  /** Every signature of a PDF, asking nobody; straight to the agent the file goes as a form. */
  verifyPdf(pdf: Bytes): Promise<PdfVerifyReport>;
  signXml(xml: XmlInput, opts?: XmlSignOptions & { certificate?: Bytes }): Promise<XmlSignResult>;
  signXmlBatch(documents: Array<XmlDocument | XmlInput>, opts?: { certificate?: Bytes }): Promise<XmlBatchSignResult>;
  verifyXml(xml: XmlInput): Promise<XmlVerifyReport>;
}

export declare const AGENT_PORTS: readonly number[];
export declare const MESSAGES: Readonly<Record<ErrorCode, readonly [vi: string, en: string]>>;
export declare function messageFor(code: string, lang?: Lang): string;
export declare function errorFromAgent(status: number, body: unknown, lang?: Lang): KysoError;
export declare function toBase64(bytes: Uint8Array): string;
export declare function fromBase64(text: string): Uint8Array;
export declare function createClient(options?: ClientOptions): KysoClient;
export declare function configure(options: ClientOptions): void;

export declare function status(): Promise<Status>;
export declare function getCertificate(): Promise<CertificateResult>;
export declare function sign(hash: Bytes, opts?: SignOptions): Promise<SignResult>;
export declare function signBatch(items: Array<BatchItem | Bytes>, opts?: Omit<SignOptions, "hashAlgorithm" | "documentName">): Promise<BatchResult>;
export declare function signPdf(pdf: Bytes, opts?: PdfSignOptions): Promise<PdfSignResult>;
/** See KysoClient.signPdfBatch. */
export declare function signPdfBatch(documents: Array<PdfBatchDocument | Bytes>, opts?: PdfBatchSignOptions): Promise<PdfBatchSignResult>;
export declare function cmsSign(digest: Bytes, opts?: CmsSignOptions): Promise<CmsSignResult>;
export declare function verifyPdf(pdf: Bytes): Promise<PdfVerifyReport>;
export declare function signXml(xml: XmlInput, opts?: XmlSignOptions & { certificate?: Bytes }): Promise<XmlSignResult>;
export declare function signXmlBatch(documents: Array<XmlDocument | XmlInput>, opts?: { certificate?: Bytes }): Promise<XmlBatchSignResult>;
export declare function verifyXml(xml: XmlInput): Promise<XmlVerifyReport>;
