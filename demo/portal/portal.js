// The demo portal: a PDF in, signed through Kyso Agent (kyso.js), out as a download,
// then checked by the agent (POST /v1/pdf/verify).
import { KysoError, signPdf, status, verifyPdf } from "./kyso.js";

const $ = (id) => document.getElementById(id);
let downloadUrl = null;

function show(id, visible) {
  $(id).hidden = !visible;
}

function fail(error) {
  const text =
    error instanceof KysoError
      ? `${error.message} [${error.code}${error.status ? `, HTTP ${error.status}` : ""}]${error.detail ? ` — ${error.detail}` : ""}`
      : String(error);
  $("error").textContent = text;
  $("error").dataset.code = error instanceof KysoError ? error.code : "";
  show("error", true);
}

async function showStatus() {
  const state = await status();
  const line = $("status");
  if (state.available) {
    const via = state.transport === "extension" ? `tiện ích ${state.extension.version}` : "kết nối trực tiếp";
    line.dataset.state = "ok";
    line.dataset.transport = state.transport;
    line.textContent = `Kyso Agent ${state.version} sẵn sàng (qua ${via})`;
  } else {
    line.dataset.state = "down";
    line.textContent = state.error ? state.error.message : "Không tìm thấy Kyso Agent";
  }
}

$("profile").addEventListener("change", () => {
  show("text-row", $("profile").value === "attachment");
});

$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) return;
  show("error", false);
  show("result", false);
  show("progress", true);
  $("sign").disabled = true;
  try {
    const appearance = { profile: $("profile").value };
    if (appearance.profile === "attachment") appearance.text = $("text").value;
    const signed = await signPdf(file, {
      documentName: file.name,
      reason: $("reason").value || undefined,
      appearance,
    });
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = URL.createObjectURL(new Blob([signed.pdf], { type: "application/pdf" }));
    $("download").href = downloadUrl;
    $("download").download = file.name.replace(/\.pdf$/i, "") + "-da-ky.pdf";
    const report = await verifyPdf(signed.pdf);
    $("verdict").dataset.valid = String(report.allValid);
    $("verdict").textContent = report.allValid
      ? "Mọi chữ ký hợp lệ (all signatures valid)"
      : "Có chữ ký không hợp lệ hoặc chưa được tin cậy (not all signatures valid or trusted)";
    $("report").textContent = report.text;
    show("result", true);
  } catch (error) {
    fail(error);
  } finally {
    show("progress", false);
    $("sign").disabled = false;
  }
});

showStatus();
