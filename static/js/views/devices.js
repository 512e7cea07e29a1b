// The device list: filters, the CSV export of what it shows, and paging.
import { api } from "../api.js";
import { bindExport, EXPORT_BOX } from "../export.js";
import { INVITE_STATES, inviteBadge, label } from "../format.js";
import { html, option, raw, thead } from "../html.js";
import { render } from "../ui.js";

// Devices per page of the list (the API's page).
const PAGE_SIZE = 50;

const STATUSES = [
  ["all", "All"],
  ["pre_approved", "Pre-approved"],
  ["enrolled", "Enrolled"],
  ["expired", "Expired"],
];

function deviceRow(d) {
  return html`<tr><td><a href="#/devices/${encodeURIComponent(d.serial_number)}"
      >${d.serial_number}</a></td>
    <td><span class="badge ${d.status}">${label(d.status)}</span></td>
    <td>${inviteBadge(d.invite_state)}</td><td>${d.platform}</td><td>${d.device_name || ""}</td>
    <td>${d.email}</td><td>${(d.groups || []).join(", ")}</td></tr>`;
}

export async function devices(params) {
  const status = params.get("status") || "all";
  const q = params.get("q") || "";
  const invite = params.get("invite") || "";
  const invites = [["", "Any"], ...INVITE_STATES.map((v) => [v, v])];
  const searchOff = invite ? 'disabled title="Clear the invite filter to search"' : "";
  render(
    html`<h1>Devices</h1>
    <form class="toolbar" id="filter" role="search">
      <div><label for="status-filter">Filter by: Enrollment Status</label>
        <select id="status-filter" name="status">
          ${STATUSES.map(([v, t]) => option(v, status, t))}
        </select></div>
      <div><label for="invite-filter">Invite</label>
        <select id="invite-filter" name="invite">
          ${invites.map(([v, t]) => option(v, invite, t))}
        </select></div>
      <div><label for="q">Search serial number or email</label>
        <input id="q" name="q" type="search" value="${q}" ${raw(searchOff)}></div>
      <div><button type="submit">Apply</button></div>
    </form>
    ${EXPORT_BOX}
    <div class="scroll"><table>
      ${thead("Serial number", "Status", "Invite", "Platform", "Device name", "User", "Groups")}
      <tbody id="device-rows"></tbody></table></div>
    <p id="more-wrap"></p>`,
    "Devices",
  );
  const form = document.getElementById("filter");
  form.status.onchange = () => form.requestSubmit();
  form.invite.onchange = () => form.requestSubmit();
  form.onsubmit = (e) => {
    e.preventDefault();
    // The list filters by invite state or searches, not both (one index each).
    const chosen = form.invite.value;
    const qs = {
      status: form.status.value,
      ...(chosen ? { invite: chosen } : { q: form.q.value.trim() }),
    };
    location.hash = `#/devices?${new URLSearchParams(qs)}`;
  };
  // The export takes the list's status and serial prefix (not an owner or invite filter).
  const prefix = q && !q.includes("@") && !invite ? { serial_prefix: q } : {};
  bindExport({ ...(status !== "all" ? { status } : {}), ...prefix });
  // Pages, not an ever longer table: one page of rows in the DOM whatever the
  // number of devices. The cursors of the pages before this one allow "Previous".
  const trail = [];
  const load = async (cursor) => {
    const filter = invite ? { invite } : q ? { q } : {};
    const qs = new URLSearchParams({ status, ...filter, ...(cursor ? { cursor } : {}) });
    const page = await api("GET", `/devices?${qs}`);
    const body = document.getElementById("device-rows");
    body.innerHTML =
      page.items.map((d) => deviceRow(d).s).join("") ||
      html`<tr><td colspan="7" class="muted">No devices match.</td></tr>`.s;
    const from = trail.length * PAGE_SIZE + 1;
    const to = from + page.items.length - 1;
    const of = page.total == null ? "" : ` of ${page.total.toLocaleString()}`;
    const range = page.items.length
      ? `Devices ${from.toLocaleString()}–${to.toLocaleString()}${of}`
      : "";
    document.getElementById("more-wrap").innerHTML = html`<span id="device-range">${range}</span>
      <button id="prev" ${raw(trail.length ? "" : "disabled")}>Previous</button>
      <button id="next" ${raw(page.cursor ? "" : "disabled")}>Next</button>`.s;
    document.getElementById("prev").onclick = () => load(trail.pop());
    document.getElementById("next").onclick = () => {
      trail.push(cursor);
      load(page.cursor);
    };
  };
  await load();
}
