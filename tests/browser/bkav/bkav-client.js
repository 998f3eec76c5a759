// A BkavCAPlugin-style client for the test portal, written from the protocol
// (docs/compat/bkav.md), not copied. As the real library does, it keeps one socket for
// every call; a call is its function number and arguments joined by "*", then
// "*BkavExtensionCallback" when a callback waits, then "*end", sent in pieces of 114,271
// characters and a last, shorter piece (empty when the length is a multiple); the answer is
// one frame "RESULT*BkavExtensionCallback*end" whose RESULT goes to the callback. Kyso Agent
// sends "BASE64(REASON)*KysoAgentMessage*end" before a failure's answer: kept as `reason`.
(function (global) {
  "use strict";

  const CHUNK = 114271;
  const CALLBACK = "BkavExtensionCallback";
  const REASON = "KysoAgentMessage";

  class Plugin {
    constructor(socket) {
      this.socket = socket;
      this.waiting = null;
      this.reason = null;
      this.frames = [];
      this.others = [];
      socket.onmessage = (event) => this.receive(String(event.data));
    }

    /** ProcessData: "*end", then the pieces. */
    send(text) {
      const whole = `${text}*end`;
      const full = Math.floor(whole.length / CHUNK);
      for (let i = 0; i < full; i += 1) this.socket.send(whole.substring(CHUNK * i, CHUNK * (i + 1)));
      this.socket.send(whole.substring(CHUNK * full));
      this.frames.push(full + 1);
    }

    receive(data) {
      const parts = data.split("*");
      if (parts[parts.length - 1] !== "end") return;
      const word = parts[parts.length - 2];
      if (word === CALLBACK && this.waiting) {
        const done = this.waiting;
        this.waiting = null;
        done({ result: data.substring(0, data.length - CALLBACK.length - 5), reason: this.reason });
        this.reason = null;
      } else if (word === REASON) {
        this.reason = utf8(parts[0]);
      } else {
        this.others.push(data);
      }
    }

    /** A call with a callback: resolves with {result, reason}. */
    call(...fields) {
      return new Promise((resolve) => {
        this.waiting = resolve;
        this.send(`${fields.join("*")}*${CALLBACK}`);
      });
    }

    /** A call without callback (SetLicenseKey adds the page's host, as the library does). */
    set(...fields) {
      const host = fields[0] === "26" ? `*${global.location.host}` : "";
      this.send(`${fields.join("*")}${host}`);
    }

    close() {
      this.socket.close();
    }
  }

  /** Opens wss://localhost:PORT; rejects when the socket does not open. */
  function connect(port) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`wss://localhost:${port}`);
      socket.onopen = () => resolve(new Plugin(socket));
      socket.onerror = () => reject(new Error("bkav: the socket did not open"));
    });
  }

  function base64(bytes) {
    let text = "";
    const view = new Uint8Array(bytes);
    for (let i = 0; i < view.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, view.subarray(i, i + 0x8000));
    }
    return global.btoa(text);
  }

  function utf8(encoded) {
    return new TextDecoder().decode(Uint8Array.from(global.atob(encoded), (c) => c.charCodeAt(0)));
  }

  /** A document of the portal's, in base64. */
  async function fetched(path) {
    const response = await fetch(path);
    return base64(await response.arrayBuffer());
  }

  /** The certificate list as portals read it: DOMParser and getElementsByTagName. */
  function certificates(result) {
    const xml = new DOMParser().parseFromString(utf8(result), "text/xml");
    return Array.from(xml.getElementsByTagName("Certificate")).map((node) => ({
      serial: node.getElementsByTagName("SerialNumber")[0].textContent,
      subject: node.getElementsByTagName("SubjectDN")[0].getElementsByTagName("CN")[0].textContent,
      validTo: node.getElementsByTagName("TimeValidTo")[0].textContent,
    }));
  }

  global.bkav = { connect, base64, utf8, fetched, certificates };
})(window);
