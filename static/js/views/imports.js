// The imports: their list, and one import's page (counts, invites, errors,
// the export of its devices, its undo).
import { api } from "../api.js";
import { bindExport, EXPORT_BOX } from "../export.js";
import { byColumn, INVITE_STATES, when } from "../format.js";
import { html, thead } from "../html.js";
import { render, say } from "../ui.js";
import { bindUndo } from "./undo.js";

export async function imports() {
  const page = await api("GET", "/imports");
  const row = (i) => html`<tr><td><a href="#/imports/${i.import_id}">${i.file}</a></td>
      <td><span class="badge ${i.status}">${i.status}</span></td>
      <td>${i.counts.rows}</td><td>${i.counts.devices_written}</td>
      <td>${i.counts.users_written}</td><td>${i.counts.invites_queued}</td>
      <td>${when(i.created_at)}</td></tr>`;
  render(
    html`<h1>Imports</h1><div class="scroll"><table>
    ${thead("File", "Status", "Rows", "Devices", "Users", "Invites", "Started")}<tbody>
    ${page.items.map(row)}
    </tbody></table></div>${page.items.length ? "" : html`<p class="muted">No imports yet.</p>`}`,
    "Imports",
  );
}

// Invites a resend may still get through: the rest are delivered, on their way,
// or were marked as spam by the recipient.
const resendable = (t) => (t.bounced || 0) + (t.failed || 0) + (t.unconfirmed || 0);

function invites(i) {
  if (!i.counts.invites_queued) return "";
  const shown = INVITE_STATES.filter((s) => s !== "sending");
  const tally = i.invites;
  const n = resendable(tally);
  const what = "bounced, failed or unconfirmed";
  const resend = html`<p><button id="resend-all">Resend ${n} ${what}</button></p>`;
  return html`<h2>Invites</h2>
      <table id="invite-tally">${thead(...shown)}
      <tbody><tr>${shown.map((s) => html`<td data-state="${s}">${tally[s] ?? 0}</td>`)}</tr></tbody>
      </table>
      ${n ? resend : ""}`;
}

function files(i) {
  const report = i.report_url ? html`<a href="${i.report_url}">Report (JSON)</a>` : "";
  const errors = i.errors_csv_url
    ? html` · <a href="${i.errors_csv_url}">Rows with errors (CSV)</a>`
    : "";
  return html`<p>${report} ${errors}</p>`;
}

function undo(i) {
  const done = ["completed", "failed", "undone"].includes(i.status);
  if (!done || !(i.counts.devices_written || i.counts.users_written)) return "";
  return html`<h2>Undo</h2>
      <div id="undo-box" role="status" aria-live="polite">${
        i.status === "undone"
          ? ""
          : html`<p class="muted">Takes this import back: devices it created are removed,
            devices and users it replaced get their previous values back.
            Enrolled devices are never touched.</p>
            <p><button id="undo-check">Undo this import…</button></p>`
      }</div>`;
}

function errors(i) {
  if (!i.errors.length) return "";
  const some =
    i.errors_total > i.errors.length
      ? `; the first ${i.errors.length} below, every row in the CSV`
      : "";
  const row = (e) =>
    html`<tr><td>${e.row}</td><td>${e.column}</td><td>${e.value}</td><td>${e.message}</td></tr>`;
  return html`<h2>Errors</h2>
      <p>${i.errors_total} in all (by column: ${byColumn(i.error_totals)})${some}.</p>
      <div class="scroll"><table>${thead("Row", "Column", "Value", "Problem")}<tbody>
      ${i.errors.map(row)}</tbody></table></div>`;
}

export async function importDetail(id) {
  const i = await api("GET", `/imports/${id}`);
  const c = i.counts;
  render(
    html`<p><a href="#/imports">← Imports</a></p><h1>${i.file}</h1>
    <p><span class="badge ${i.status}">${i.status}</span>
      <progress max="1" value="${i.progress.fraction}" aria-label="Progress"></progress></p>
    <dl class="facts"><dt>Rows</dt><dd>${c.rows} (${c.valid_rows} valid)</dd>
      <dt>Devices written</dt><dd>${c.devices_written}</dd>
      <dt>Users written</dt><dd>${c.users_written}</dd>
      <dt>Invites queued</dt><dd>${c.invites_queued}</dd>
      <dt>Skipped</dt><dd>${i.skipped_total}</dd></dl>
    ${invites(i)}
    ${c.devices_written ? html`<h2>Devices of this import</h2>${EXPORT_BOX}` : ""}
    ${files(i)}
    ${undo(i)}
    ${errors(i)}
    `,
    i.file,
  );
  if (c.devices_written) bindExport({ import_id: id });
  bindUndo(id, i.status, () => importDetail(id));
  const again = document.getElementById("resend-all");
  if (!again) return;
  again.onclick = async () => {
    again.disabled = true;
    try {
      const out = await api("POST", `/imports/${encodeURIComponent(id)}/invites/resend`);
      await importDetail(id);
      const left = out.skipped
        ? `; ${out.skipped} went out less than a minute ago or are being sent: ` +
          "try again in a minute"
        : "";
      const more = out.more ? "; more remain: press Resend again" : "";
      say(`${out.resent} invites queued again${left}${more}.`);
    } catch (err) {
      again.disabled = false;
      if (err.status !== 401) say(`Not resent: ${err.message}`, "error");
    }
  };
}
