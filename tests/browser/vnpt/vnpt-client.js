// A vnpt-plugin.js-style client for the test portal, written from the protocol
// (docs/compat/vnpt.md), not copied. Like the vendor's library it keeps one socket to
// wss://localhost:PORT/plugin, tries the ports in order (three seconds each), sends
// {functionID, funcCallback, args, domain: location.hostname}, splits each answer
// "<result>*<callback>" at "*", and hands <result> to window[callback] or, for
// "callbackDefault", to the call's promise. The option objects are sent as the library does:
// JSON.stringify(options) as the last argument.
(function (global) {
  "use strict";

  const FUNCTION = {
    GetCertInfo: 0, SignXML: 1, SignPDF: 2, SignOFFICE: 3, SignCMS: 4, setLicenseKey: 6,
    checkPlugin: 7, signHash: 9, signArrDataAdvanced: 10, getVersion: 11, CheckToken: 34,
    GetAllCertificates: 45,
  };
  const TIMEOUT = 3000;

  let socket = null;
  // Answers come back in the order of the calls: each waits for its turn here.
  const waiting = [];

  function open(ports) {
    return new Promise((resolve, reject) => {
      const tryPort = (index) => {
        if (index >= ports.length) {
          reject(new Error("-1"));
          return;
        }
        const candidate = new WebSocket(`wss://localhost:${ports[index]}/plugin`);
        let settled = false;
        const next = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          tryPort(index + 1);
        };
        const timer = setTimeout(() => { candidate.close(); next(); }, TIMEOUT);
        candidate.onerror = next;
        candidate.onclose = next;
        candidate.onopen = () => {
          settled = true;
          clearTimeout(timer);
          candidate.onclose = () => { socket = null; };
          candidate.onmessage = (event) => {
            const parts = String(event.data).split("*");
            const result = parts[0];
            const name = parts[1];
            const pending = waiting.shift();
            if (name !== "callbackDefault" && typeof global[name] === "function") {
              global[name](result);
            }
            if (pending) pending(result);
          };
          resolve(candidate);
        };
      };
      tryPort(0);
    });
  }

  async function call(functionID, args, callback) {
    if (socket === null || socket.readyState !== WebSocket.OPEN) {
      socket = await open(plugin.ports);
    }
    const message = {
      functionID,
      funcCallback: callback ? callback.name : "callbackDefault",
      args,
      domain: global.location.hostname,
    };
    return new Promise((resolve) => {
      waiting.push(resolve);
      socket.send(JSON.stringify(message));
    });
  }

  const options = (value) => (value == null ? null : JSON.stringify(value));

  const plugin = {
    ports: [4433, 4434, 4435],
    checkPlugin: (cb) => call(FUNCTION.checkPlugin, [""], cb),
    getVersion: (cb) => call(FUNCTION.getVersion, [""], cb),
    CheckToken: (cb) => call(FUNCTION.CheckToken, [""], cb),
    setLicenseKey: (license, cb) => call(FUNCTION.setLicenseKey, [license], cb),
    getCertInfo: (cb, onlyFromToken, serial) =>
      call(FUNCTION.GetCertInfo, [onlyFromToken ? "1" : "0", serial], cb),
    GetAllCertificates: (cb) => call(FUNCTION.GetAllCertificates, [""], cb),
    signHash: (data, cb) => call(FUNCTION.signHash, [data], cb),
    signCms: (data, cb) => call(FUNCTION.SignCMS, [data], cb),
    signOffice: (data, cb) => call(FUNCTION.SignOFFICE, [data], cb),
    signPdf: (data, cb, pdfSigner) =>
      call(FUNCTION.SignPDF, pdfSigner == null ? [data] : [data, options(pdfSigner)], cb),
    signXML: (data, cb, xmlSigner) =>
      call(FUNCTION.SignXML, xmlSigner == null ? [data] : [data, options(xmlSigner)], cb),
    signArrDataAdvanced: (arrData, serial, clearPINCache, cb, showCertList) =>
      call(
        FUNCTION.signArrDataAdvanced,
        [JSON.stringify(arrData), serial, clearPINCache ? "1" : "0", showCertList === false ? "0" : "1"],
        cb,
      ),
  };

  // The vendor library's option objects, with its defaults.
  global.PdfSigner = function PdfSigner() {
    Object.assign(this, {
      page: 1, llx: 0, lly: 0, urx: 150, ury: 75, SigTextSize: 9, Signer: null,
      SignerPosition: null, SigningTime: null, Description: null, ImageBase64: null,
      OnlyDescription: false, ValidationOption: true, SigColorRGB: null,
      SetImageBackground: false, PagesArray: null, CertificateSerial: null, TsaUrl: null,
      TsaUsername: null, TsaPassword: null, AdvancedCustom: false, SigType: 0,
      IsEncyptFile: false, EncryptPassword: null, SigVisible: true, SigSignerVisible: true,
      SigEmailVisible: true, SigPositionVisible: false, SigSigningTimeVisible: true,
    });
  };
  global.XmlSigner = function XmlSigner() {
    Object.assign(this, {
      TagSigning: null, NodeToSign: null, TagSaveResult: null, ParrentTagSigning: null,
      NameXPathFilter: null, NameIDTimeSignature: null, DsSignature: false,
      SigningType: "Enveloped", SigningTime: null, CertificateSerial: null,
      ValidateBefore: false, DigestMethod: "SHA1", SignatureMethod: "RSAwithSHA1",
    });
  };
  global.vnpt_plugin = plugin;
})(window);
