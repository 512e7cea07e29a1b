// The CSV export box, on the device list and on an import's page.
import { api } from "./api.js";
import { html, raw } from "./html.js";
import { pause, say } from "./ui.js";

export const EXPORT_BOX = html`<div class="export" id="export-box">
  <button id="export" type="button">Export CSV</button>
  <span id="export-state" role="status" aria-live="polite"></span></div>`;

const plural = (n) => `${n.toLocaleString()} device${n === 1 ? "" : "s"}`;

function progress(e) {
  // Without a known total the bar is indeterminate (no value).
  const value = raw(e.total ? `value="${Math.min(e.rows, e.total)}"` : "");
  const of = e.total == null ? "" : ` of ${e.total.toLocaleString()}`;
  const text =
    e.status === "queued"
      ? "Waiting for the export to start…"
      : `Exporting… ${e.rows.toLocaleString()}${of} devices`;
  return html`<progress id="export-progress" aria-label="Export progress"
    max="${e.total || 1}" ${value}></progress>
    <span>${text}</span>`;
}

/** Starts an export of `filter` and follows it in #export-box: a progress bar, then the link. */
export function bindExport(filter) {
  const button = document.getElementById("export");
  const state = document.getElementById("export-state");
  button.onclick = async () => {
    button.disabled = true;
    try {
      let e = await api("POST", "/exports", filter);
      for (;;) {
        if (e.status === "ready") {
          state.innerHTML = html`<a id="export-download" class="button"
              href="${e.download_url}" download>Download ${plural(e.rows)} (CSV)</a>
            <span class="muted">The link works for 15 minutes;
              export again for a new one.</span>`.s;
          break;
        }
        if (e.status === "failed") {
          state.innerHTML =
            html`<span class="error" id="export-error">Export failed: ${e.error}</span>`.s;
          break;
        }
        state.innerHTML = progress(e).s;
        await pause();
        e = await api("GET", `/exports/${encodeURIComponent(e.export_id)}`);
      }
    } catch (err) {
      if (err.status !== 401) say(`Not exported: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
  };
}
