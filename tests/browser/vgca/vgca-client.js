// A vgcaplugin-style client for the test portal, written from the protocol
// (docs/vgca-compat.md), not copied: each call opens wss://127.0.0.1:PORT/<Endpoint>,
// sends one JSON text message, and resolves with the one JSON reply.
(function (global) {
  "use strict";

  const DEFAULT_PORT = 8987;

  /** One call: resolves with the reply object, rejects when the socket fails or closes first. */
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

  /** The callback style portals use: callback(sender, replyText). */
  function callbackStyle(endpoint) {
    return (sender, json, callback, options) =>
      call(endpoint, json, options).then(
        (reply) => callback(sender, JSON.stringify(reply)),
        (error) => callback(sender, JSON.stringify({ Status: -1, Message: String(error.message) })),
      );
  }

  global.vgca = {
    call,
    vgca_sign_approved: callbackStyle("SignApproved"),
    vgca_sign_issued: callbackStyle("SignIssued"),
    vgca_sign_appendix: callbackStyle("SignAppendix"),
    vgca_sign_msg: callbackStyle("SignMsg"),
    vgca_get_cert_info: callbackStyle("GetCertInfo"),
  };
})(window);
