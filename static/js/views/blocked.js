// Blocked attempts: devices refused at enrollment, each approvable from here.
import { api } from "../api.js";
import { when } from "../format.js";
import { html, thead } from "../html.js";
import { main, render, say } from "../ui.js";

const COLUMNS = [
  "Last attempt",
  "Serial number",
  "Platform",
  "Method",
  "Reason",
  "Attempts",
  "From",
  "",
];

function approval(d) {
  if (d.grouped) return html`<span class="muted">grouped by source</span>`;
  if (d.approved_at) return html`<span class="ok">approved by ${d.approved_by}</span>`;
  if (d.platform === "windows") return html`<span class="muted">not supported</span>`;
  return html`<button data-approve="${d.id}" data-serial="${d.serial_number}">Approve</button>`;
}

// A grouped row: the attempts of many serials from one address in one hour.
function serials(d) {
  if (!d.grouped) return d.serial_number;
  const more = d.serials > d.sample.length ? ", …" : "";
  const back = (d.returned || []).length
    ? html`<br>Tried again (likely real devices): ${d.returned.join(", ")}`
    : "";
  return html`<strong>${d.serials} serials from ${d.source_ip || "an unknown address"}</strong>
      <span class="muted">(${d.sample.join(", ")}${more})</span>${back}`;
}

function row(d) {
  const first = d.first_at ? `first at ${when(d.first_at)}` : "";
  return html`<tr><td>${when(d.at)}</td><td>${serials(d)}</td><td>${d.platform}</td>
      <td>${d.enrollment_method || ""}</td><td>${d.reason.replace(/_/g, " ")}</td>
      <td class="num" title="${first}">${d.attempts}</td><td>${d.source_ip || ""}</td>
      <td>${approval(d)}</td></tr>`;
}

const NONE = html`<p class="muted">No blocked attempts.</p>`;

export async function blocked() {
  const page = await api("GET", "/admission-denials");
  render(
    html`<h1>Blocked attempts</h1>
    <p class="muted">Devices refused at enrollment in the last 30 days. Approve one to
      pre-approve its serial number for a user and send the invite. An address that tries many
      serials within an hour is one grouped row; a device among them that tries again gets a
      row of its own, or, past a few, is named on the grouped row.</p>
    <div class="scroll"><table>
    ${thead(...COLUMNS)}
    <tbody>
    ${page.items.map(row)}
    </tbody></table></div>${page.items.length ? "" : NONE}
    <div id="approve-box"></div>`,
    "Blocked attempts",
  );
  for (const b of main.querySelectorAll("[data-approve]")) {
    b.onclick = () => approveForm(b.dataset.approve, b.dataset.serial);
  }
}

function approveForm(id, serial) {
  const box = document.getElementById("approve-box");
  box.innerHTML = html`<form id="approve" class="card"><h2>Approve ${serial}</h2>
    <label for="a-name">User's name</label><input id="a-name" name="name" type="text" required>
    <label for="a-email">User's email</label><input id="a-email" name="email" type="email" required>
    <label for="a-ownership">Ownership</label><select id="a-ownership" name="ownership">
      <option value="corporate">corporate</option>
      <option value="personal">personal</option></select>
    <label for="a-invite">Send enrollment request via</label><select id="a-invite" name="invite">
      <option value="email">Email</option><option value="sms">SMS</option>
      <option value="none">Do not send</option></select>
    <label for="a-mobile">Mobile (for SMS, international form)</label>
    <input id="a-mobile" name="mobile" type="text">
    <p><button class="primary" type="submit">Pre-approve and invite</button></p></form>`.s;
  document.getElementById("a-name").focus();
  document.getElementById("approve").onsubmit = async (e) => {
    e.preventDefault();
    const f = e.target;
    try {
      const out = await api("POST", `/admission-denials/${encodeURIComponent(id)}/approve`, {
        name: f.name.value,
        email: f.email.value,
        ownership: f.ownership.value,
        invite: f.invite.value,
        mobile: f.mobile.value || undefined,
      });
      await blocked();
      const invite = out.invite_state
        ? ` and its invite is ${out.invite_state} (see the device's page for delivery)`
        : "";
      say(`${out.serial_number} is pre-approved${invite}.`);
    } catch (err) {
      if (err.status !== 401) say(`Not approved: ${err.message}`, "error");
    }
  };
}
