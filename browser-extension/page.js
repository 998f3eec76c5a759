// Runs in the page: window.kysoExtension, a small promise API over the extension's
// postMessage protocol (content.js). Portals should rather use kyso.js, which uses this
// protocol when the extension is installed and calls the agent directly otherwise.
(() => {
  if (window.kysoExtension) return;
  const TAG = "kyso-agent";
  const pending = new Map();
  let counter = 0;

  window.addEventListener("message", (event) => {
    if (event.source !== window) return;
    const data = event.data;
    if (!data || data.kyso !== TAG || data.dir !== "response" || !pending.has(data.id)) return;
    const resolve = pending.get(data.id);
    pending.delete(data.id);
    resolve(data);
  });

  function send(fields) {
    counter += 1;
    const id = `p${Date.now().toString(36)}${counter}`;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      window.postMessage({ kyso: TAG, dir: "request", id, ...fields }, window.location.origin);
    });
  }

  Object.defineProperty(window, "kysoExtension", {
    value: Object.freeze({
      /** Resolves to {status, body}: the agent's HTTP status and JSON answer (status 0: not reached). */
      call(method, path, body) {
        return send({ type: "call", method, path, body }).then(({ status, body: json }) => ({ status, body: json }));
      },
      /** Resolves to {version, api} of the extension. */
      hello() {
        return send({ type: "hello" }).then(({ version, api }) => ({ version, api }));
      },
    }),
  });
  window.dispatchEvent(new Event("kyso-extension-ready"));
})();
