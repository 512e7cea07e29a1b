// The device list: filters, the CSV export of what it shows, and paging.
import { api } from "../api.js";
import { bindExport, EXPORT_BOX } from "../export.js";
import { INVITE_STATES, inviteBadge, label } from "../format.js";
import { html, option, raw, thead } from "../html.js";
import { render } from "../ui.js";

// Devices per page of the list (the API's page).
const PAGE_SIZE = 50;

const SOURCES = [
  ["", "Any"],
  ["csv", "CSV import"],
  ["ade", "Apple ADE"],
  ["enrollment", "Open enrollment"],
];

const sourceLabel = (d) =>
  d.source === "ade"
    ? html`<span class="badge source-ade">Apple ADE</span>`
    : d.source === "csv"
      ? d.ade
        ? "CSV + ADE"
        : "CSV"
      : html`<span class="muted">enrolled openly</span>`;

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
    <td>${inviteBadge(d.invite_state)}</td><td>${sourceLabel(d)}</td><td>${d.platform}</td>
    <td>${d.device_name || d.ade?.model || ""}</td>
    <td>${d.email}</td><td>${(d.groups || []).join(", ")}</td></tr>`;
}

export async function devices(params) {
  const status = params.get("status") || "all";
  const q = params.get("q") || "";
  const invite = params.get("invite") || "";
  const source = params.get("source") || "";
  const account = params.get("account") || "";
  const invites = [["", "Any"], ...INVITE_STATES.map((v) => [v, v])];
  // The accounts name the ADE filter's choices. They are read beside the list, not before the
  // form is drawn: a form drawn late would replace one the admin has started to fill in.
  const accountChoices = (accounts) => {
    const choices = [["", "Any"], ...accounts.map((a) => [a.id, a.name])];
    if (account && !accounts.some((a) => a.id === account)) choices.push([account, account]);
    return choices;
  };
  // One index per list: a source or account filter, an invite filter, or a search.
  const byOrigin = Boolean(source || account);
  const searchOff = invite
    ? 'disabled title="Clear the invite filter to search"'
    : byOrigin
      ? 'disabled title="Clear the source and account filters to search"'
      : "";
  const inviteOff = byOrigin ? 'disabled title="Clear the source and account filters"' : "";
  render(
    html`<h1>Devices</h1>
    <form class="toolbar" id="filter" role="search">
      <div><label for="status-filter">Filter by: Enrollment Status</label>
        <select id="status-filter" name="status">
          ${STATUSES.map(([v, t]) => option(v, status, t))}
        </select></div>
      <div><label for="invite-filter">Invite</label>
        <select id="invite-filter" name="invite" ${raw(inviteOff)}>
          ${invites.map(([v, t]) => option(v, invite, t))}
        </select></div>
      <div><label for="source-filter">Source</label>
        <select id="source-filter" name="source">
          ${SOURCES.map(([v, t]) => option(v, source, t))}
        </select></div>
      <div><label for="account-filter">ADE account</label>
        <select id="account-filter" name="account">
          ${accountChoices([]).map(([v, t]) => option(v, account, t))}
        </select></div>
      <div><label for="q">Search serial number or email</label>
        <input id="q" name="q" type="search" value="${q}" ${raw(searchOff)}></div>
      <div><button type="submit">Apply</button></div>
    </form>
    ${EXPORT_BOX}
    <div class="scroll"><table>
      ${thead("Serial number", "Status", "Invite", "Source", "Platform", "Device name", "User", "Groups")}
      <tbody id="device-rows"></tbody></table></div>
    <p id="more-wrap"></p>`,
    "Devices",
  );
  const form = document.getElementById("filter");
  api("GET", "/ade/accounts").then(
    (r) => {
      if (!form.isConnected) return;
      const chosen = form.account.value;
      form.account.innerHTML = accountChoices(r.items)
        .map(([v, t]) => option(v, chosen, t).s)
        .join("");
    },
    () => {}, // the list works without the accounts' names
  );
  form.status.onchange = () => form.requestSubmit();
  form.invite.onchange = () => form.requestSubmit();
  form.source.onchange = () => form.requestSubmit();
  form.account.onchange = () => form.requestSubmit();
  form.onsubmit = (e) => {
    e.preventDefault();
    // The list filters by source/account, by invite state, or searches (one index each).
    const origin = {
      ...(form.source.value ? { source: form.source.value } : {}),
      ...(form.account.value ? { account: form.account.value } : {}),
    };
    const chosen = form.invite.disabled ? "" : form.invite.value;
    const rest = chosen ? { invite: chosen } : { q: form.q.disabled ? "" : form.q.value.trim() };
    const qs = { status: form.status.value, ...(Object.keys(origin).length ? origin : rest) };
    location.hash = `#/devices?${new URLSearchParams(qs)}`;
  };
  // The export takes the list's status, serial prefix, source and account (not an owner or
  // invite filter).
  const prefix = q && !q.includes("@") && !invite && !byOrigin ? { serial_prefix: q } : {};
  const origin = { ...(source ? { source } : {}), ...(account ? { account } : {}) };
  bindExport({ ...(status !== "all" ? { status } : {}), ...prefix, ...origin });
  // Pages, not an ever longer table: one page of rows in the DOM whatever the
  // number of devices. The cursors of the pages before this one allow "Previous".
  const trail = [];
  const load = async (cursor) => {
    const filter = byOrigin
      ? { ...(source ? { source } : {}), ...(account ? { account } : {}) }
      : invite
        ? { invite }
        : q
          ? { q }
          : {};
    const qs = new URLSearchParams({ status, ...filter, ...(cursor ? { cursor } : {}) });
    const page = await api("GET", `/devices?${qs}`);
    const body = document.getElementById("device-rows");
    // A source or account page keeps the wanted statuses of what it read: it may be short,
    // even empty, with more after it.
    const none = page.cursor ? "None on this page; there are more." : "No devices match.";
    body.innerHTML =
      page.items.map((d) => deviceRow(d).s).join("") ||
      html`<tr><td colspan="8" class="muted">${none}</td></tr>`.s;
    const from = trail.length * PAGE_SIZE + 1;
    const to = from + page.items.length - 1;
    const of = page.total == null ? "" : ` of ${page.total.toLocaleString()}`;
    const range = !page.items.length
      ? ""
      : byOrigin
        ? `${page.items.length.toLocaleString()} device${page.items.length === 1 ? "" : "s"} on this page`
        : `Devices ${from.toLocaleString()}–${to.toLocaleString()}${of}`;
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
