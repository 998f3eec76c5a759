// A SignPlugin-style client for the test portal, written from the protocol facts
// (docs/compat/fpt.md), not copied: each call POSTs the form "request=" followed by the
// base64 of the JSON request, unescaped, with XMLHttpRequest (as the vendor library and the
// portals that copy it do), and decodes the answer, base64 of UTF-8 JSON.
(function (global) {
  "use strict";

  const DEFAULT_PORT = 14408;

  /** Base64 of the UTF-8 bytes of a string (what the library's Base64.encode produces). */
  function textToBase64(value) {
    return bytesToBase64(new TextEncoder().encode(value));
  }

  function bytesToBase64(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function base64ToBytes(value) {
    const binary = atob(value);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  /** The answer's text: atob, then UTF-8 (names such as "Nguyễn Văn An" are UTF-8 inside). */
  function base64ToText(value) {
    return new TextDecoder().decode(base64ToBytes(value));
  }

  /** One request: resolves with the reply object; rejects with {status} when the browser
   * gives the page no answer (status 0: refused, or no CORS header for this origin). */
  function process(request, options) {
    const port = (options && options.port) || DEFAULT_PORT;
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.onreadystatechange = () => {
        if (xhr.readyState !== 4) return;
        if (xhr.status !== 200) {
          reject({ status: xhr.status, text: xhr.responseText });
          return;
        }
        try {
          resolve(JSON.parse(base64ToText(xhr.responseText)));
        } catch (error) {
          reject({ status: xhr.status, text: String(error) });
        }
      };
      xhr.open("POST", `https://127.0.0.1:${port}/process`, true);
      xhr.setRequestHeader("Content-type", "application/x-www-form-urlencoded");
      // The library's own call: window.btoa over the JSON text (its values are base64 or
      // ASCII), appended without percent-encoding.
      xhr.send("request=" + btoa(JSON.stringify(request)));
    });
  }

  /** A document of the portal's own origin, as base64. */
  async function fetchBase64(path) {
    const response = await fetch(path);
    return bytesToBase64(new Uint8Array(await response.arrayBuffer()));
  }

  global.fpt = { process, textToBase64, bytesToBase64, base64ToText, fetchBase64 };
})(window);
