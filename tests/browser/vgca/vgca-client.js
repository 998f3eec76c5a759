// A vgcaplugin-style client for the test portal, written from the protocol
// (docs/vgca-compat.md), not copied: each call opens wss://127.0.0.1:PORT/<Endpoint>,
// sends one text message, and resolves with the one JSON reply.
//
// The vgca_* functions send exactly what the real vgcaplugin.js sends for each call (facts
// read from public portals that embed it): the page's string as it is for the JSON calls;
// the plain words "get_cert_info" (GetCertInfo), "config" (Config) and "request"
// (GetLicenseRequest); the Auth challenge as plain text. Their callbacks get the reply's
// text, with the sender first where the library passes one.
(function (global) {
  "use strict";

  const DEFAULT_PORT = 8987;

  /** One call: resolves with the reply object, rejects when the socket fails or closes first.
   * A string is sent as it is (the library never re-encodes the page's string). */
  function call(endpoint, params, options) {
    const port = (options && options.port) || DEFAULT_PORT;
    return new Promise((resolve, reject) => {
      let answered = false;
      const socket = new WebSocket(`wss://127.0.0.1:${port}/${endpoint}`);
      socket.onopen = () => {
        socket.send(typeof params === "string" ? params : JSON.stringify(params || {}));
      };
      socket.onmessage = (event) => {
        answered = true;
        try {
          resolve(JSON.parse(event.data));
        } catch (error) {
          reject(error);
        }
      };
      socket.onclose = (event) => {
        if (!answered) reject(new Error(`vgca: the socket closed without a reply (${event.code})`));
      };
    });
  }

  /** The reply as text, the way the library hands it to callbacks. */
  function text(endpoint, message, options) {
    return call(endpoint, message, options).then(
      (reply) => JSON.stringify(reply),
      (error) => JSON.stringify({ Status: -1, Message: String(error.message) }),
    );
  }

  /** callback(sender, replyText): SignMsg, SignXML, Auth. */
  function withSender(endpoint) {
    return (sender, message, callback, options) =>
      text(endpoint, message, options).then((reply) => callback && callback(sender, reply));
  }

  /** callback(replyText): the PDF calls, SignFile, VerifyMsg, VerifyPDF. */
  function withoutSender(endpoint) {
    return (message, callback, options) =>
      text(endpoint, message, options).then((reply) => callback && callback(reply));
  }

  /** callback(replyText), the message fixed by the library whatever the page passes. */
  function fixedWord(endpoint, word) {
    return (callback, options) =>
      text(endpoint, word, options).then((reply) => callback && callback(reply));
  }

  global.vgca = {
    call,
    vgca_sign_approved: withoutSender("SignApproved"),
    vgca_sign_issued: withoutSender("SignIssued"),
    vgca_sign_appendix: withoutSender("SignAppendix"),
    vgca_sign_file: withoutSender("SignFile"),
    vgca_verify_msg: withoutSender("VerifyMsg"),
    vgca_sign_msg: withSender("SignMsg"),
    vgca_auth: withSender("Auth"),
    vgca_get_certinfo: fixedWord("GetCertInfo", "get_cert_info"),
    vgca_license_request: fixedWord("GetLicenseRequest", "request"),
    // vgca_show_config ignores the reply; the test reads it here.
    vgca_show_config: fixedWord("Config", "config"),
  };
})(window);
