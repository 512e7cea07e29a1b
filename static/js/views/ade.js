// Admin > Apple ADE: the accounts (one MDM server in Apple Business Manager
// each) and one account's page: its state, the certificate for ABM, the
// server token ABM gives back, "Sync now", the last sync's report, its
// settings and its deletion.
import { api } from "../api.js";
import { when } from "../format.js";
import { html, raw, thead } from "../html.js";
import { state } from "../state.js";
import { render, say } from "../ui.js";

const HEALTH = {
  awaiting_token: "Waiting for its server token",
  ok: "Connected",
  token_expired: "Server token expired",
  token_rejected: "Server token refused by Apple",
  terms_not_accepted: "Terms not accepted in ABM",
  access_denied: "Access denied by Apple",
  apple_unavailable: "Apple unavailable",
};

const path = (id, suffix = "") => `/ade/accounts/${encodeURIComponent(id)}${suffix}`;

const healthBadge = (a) =>
  html`<span class="badge health-${a.health}">${HEALTH[a.health] || a.health}</span>`;

const plural = (n, one) => `${n.toLocaleString()} ${one}${n === 1 ? "" : "s"}`;

// The token's banner: 30 days before its expiry, and red once it has expired.
function tokenBanner(a) {
  const t = a.token;
  if (!t) return "";
  if (t.expired) {
    return html`<div class="alert bad" role="alert" id="token-banner">
      The server token of ${a.name} expired on ${when(t.access_token_expiry)}: no device is synced
      until you download a new token in Apple Business Manager and upload it here.</div>`;
  }
  if (t.renew_soon) {
    return html`<div class="alert warn" role="note" id="token-banner">
      The server token of ${a.name} expires in ${plural(t.expires_in_days, "day")}
      (${when(t.access_token_expiry)}): download a new token in Apple Business Manager
      and upload it here. The account keeps its settings and devices.</div>`;
  }
  return "";
}

function lastSync(r) {
  if (!r) return html`<span class="muted">not yet</span>`;
  const counts = `${plural(r.pre_approved, "pre-approved device")}, ${r.removed} removed${
    r.unsupported ? `, ${r.unsupported} unsupported` : ""
  }`;
  return html`${when(r.finished_at)} · ${counts}${r.complete ? "" : " (goes on)"}`;
}

function accountRow(a) {
  const t = a.token;
  const expiry = t
    ? html`<span class="${t.expired ? "error" : t.renew_soon ? "warn" : ""}">${when(
        t.access_token_expiry,
      )}</span>`
    : html`<span class="muted">no token</span>`;
  return html`<tr><td><a href="#/ade/${encodeURIComponent(a.id)}">${a.name}</a></td>
    <td>${healthBadge(a)}</td><td>${expiry}</td><td>${lastSync(a.last_sync)}</td>
    <td>${a.preapprove ? "yes" : "no"}</td></tr>`;
}

const CREATE_FORM = html`<form id="create-account" class="card">
  <h2>Add an ADE account</h2>
  <label for="ade-name">Name</label>
  <input id="ade-name" name="name" type="text" maxlength="100" required
    placeholder="e.g. the MDM server's name in ABM">
  <label class="inline"><input type="checkbox" name="preapprove" id="ade-preapprove" checked>
    Add as Pre-approved Device</label>
  <p class="muted">Devices Apple assigns to this MDM server become pre-approved (corporate,
    no user, no password). Unchecked, they are listed but not pre-approved.</p>
  <label for="ade-domain">Domain</label>
  <input id="ade-domain" name="domain" type="text" maxlength="255" placeholder="none">
  <label for="ade-groups">Device groups</label>
  <input id="ade-groups" name="groups" type="text" placeholder="e.g. Sales; Field">
  <p><button class="primary" type="submit">Create account</button></p>
</form>`;

export async function adeAccounts() {
  const { items } = await api("GET", "/ade/accounts");
  render(
    html`<h1>Apple ADE</h1>
    <p class="muted">Devices your organisation buys through Apple Business Manager (or Apple
      School Manager) are pre-approved by themselves: create an account here, upload its
      certificate in ABM (Preferences &gt; Your MDM Servers), then upload the server token ABM
      gives back. The accounts sync with Apple every few minutes.</p>
    ${items.map(tokenBanner)}
    ${
      items.length
        ? html`<div class="scroll"><table id="ade-accounts">
          ${thead("Account", "State", "Token expires", "Last sync", "Pre-approves")}
          <tbody>${items.map(accountRow)}</tbody></table></div>`
        : html`<p class="muted" id="ade-accounts">No ADE account yet.</p>`
    }
    ${CREATE_FORM}`,
    "Apple ADE",
  );
  document.getElementById("create-account").onsubmit = async (e) => {
    e.preventDefault();
    const f = e.target;
    say("Creating the account and its key pair…");
    try {
      const a = await api("POST", "/ade/accounts", {
        name: f.name.value,
        preapprove: f.preapprove.checked,
        domain: f.domain.value.trim() || null,
        groups: f.groups.value,
      });
      state.flash = [
        `${a.name} is created: download its certificate and upload it in Apple Business Manager.`,
      ];
      location.hash = `#/ade/${encodeURIComponent(a.id)}`;
    } catch (err) {
      if (err.status !== 401) say(`Not created: ${err.message}`, "error");
    }
  };
}

function tokenFacts(t) {
  if (!t) {
    return html`<p class="muted" id="token-facts">No server token uploaded yet.</p>`;
  }
  const left = t.expired
    ? html`<strong class="error">expired</strong>`
    : html`${plural(t.expires_in_days, "day")} left`;
  return html`<dl class="facts" id="token-facts">
    <dt>MDM server</dt><dd>${t.server_name || "unknown"}</dd>
    <dt>Organisation</dt><dd>${t.org_name || "unknown"}</dd>
    <dt>Expires</dt><dd>${when(t.access_token_expiry)} (${left})</dd>
    <dt>Consumer key</dt><dd>${t.consumer_key}</dd>
    <dt>Uploaded</dt><dd>${when(t.uploaded_at)} by ${t.uploaded_by}</dd></dl>`;
}

const COUNTS = [
  ["listed", "Listed by Apple"],
  ["pre_approved", "Pre-approved (or linked beside a CSV pre-approval)"],
  ["not_pre_approved", "Not pre-approved (Add as Pre-approved Device is off)"],
  ["removed", "Removed (no longer assigned, never enrolled)"],
  ["kept", "Kept (enrolled, or pre-approved by a CSV import)"],
  ["unsupported", "Unsupported (Vision, Watch or unknown)"],
  ["invalid", "Not a serial number"],
];

function report(r) {
  if (!r) return html`<p class="muted" id="sync-report">No sync has run yet.</p>`;
  const kind = r.kind === "fetch" ? "Full fetch" : "Changes since the last sync";
  const row = ([k, label]) => html`<tr><td>${label}</td><td class="num">${r[k]}</td></tr>`;
  const device = (d) => html`<tr><td>${d.serial}</td><td>${d.family}</td></tr>`;
  const more =
    r.unsupported > r.unsupported_devices.length
      ? html`<p class="muted">The first ${r.unsupported_devices.length} of ${r.unsupported}.</p>`
      : "";
  return html`<div id="sync-report">
    <p>${kind}, ${when(r.started_at)} to ${when(r.finished_at)}:
      ${plural(r.pages, "page")}, ${plural(r.requests, "request")} to Apple${
        r.complete ? "." : html`; <strong class="warn">not finished, the next run goes on</strong>.`
      }</p>
    <table>${thead("Devices", "Count")}<tbody>${COUNTS.map(row)}</tbody></table>
    ${
      r.unsupported_devices.length
        ? html`<h3>Unsupported devices</h3>
          <table id="unsupported">${thead("Serial number", "Family")}
          <tbody>${r.unsupported_devices.map(device)}</tbody></table>${more}`
        : ""
    }</div>`;
}

function settingsForm(a) {
  return html`<form id="account-settings">
    <label for="set-name">Name</label>
    <input id="set-name" name="name" type="text" maxlength="100" value="${a.name}" required>
    <label class="inline"><input type="checkbox" name="preapprove" id="set-preapprove"
      ${raw(a.preapprove ? "checked" : "")}> Add as Pre-approved Device</label>
    <label for="set-domain">Domain</label>
    <input id="set-domain" name="domain" type="text" maxlength="255" value="${a.domain || ""}"
      placeholder="none">
    <label for="set-groups">Device groups</label>
    <input id="set-groups" name="groups" type="text" value="${a.groups.join("; ")}">
    <p class="muted">New devices get these; the devices already pre-approved keep theirs.
      Turning Add as Pre-approved Device on fetches every device again.</p>
    <p><button type="submit">Save settings</button></p></form>`;
}

export async function adeAccount(id) {
  const a = await api("GET", path(id));
  const message = a.message ? html` <span class="muted">(Apple: ${a.message})</span>` : "";
  const can = a.token && !a.token.expired;
  render(
    html`<p><a href="#/ade">← Apple ADE</a></p>
    <h1>${a.name}</h1>
    ${tokenBanner(a)}
    <p id="health">${healthBadge(a)} ${a.health === "ok" ? "" : a.advice}${message}</p>
    <dl class="facts">
      <dt>Add as Pre-approved Device</dt><dd>${a.preapprove ? "yes" : "no"}</dd>
      <dt>Ownership</dt><dd>${a.ownership}</dd>
      <dt>Domain</dt><dd>${a.domain || "none"}</dd>
      <dt>Device groups</dt><dd>${a.groups.join(", ") || "none"}</dd>
      <dt>Last successful sync</dt><dd>${a.last_success_at ? when(a.last_success_at) : "never"}</dd>
      <dt>Devices</dt>
      <dd><a id="account-devices" href="#/devices?account=${encodeURIComponent(a.id)}"
        >Devices of this account</a></dd></dl>
    <h2>1. Certificate</h2>
    <p>Upload it in Apple Business Manager under Preferences &gt; Your MDM Servers (add a server,
      or edit one and upload a new public key), then download the server token.</p>
    <p><button id="certificate" type="button">Download certificate</button></p>
    <h2>2. Server token</h2>
    ${tokenFacts(a.token)}
    <form id="token-form" class="toolbar">
      <div><label for="token-file">Server token (.p7m from Apple Business Manager)</label>
        <input id="token-file" name="file" type="file" accept=".p7m" required></div>
      <div><button class="primary" type="submit">Upload token</button></div></form>
    <h2>Sync</h2>
    <form id="sync-form" class="toolbar">
      <div><label class="inline"><input type="checkbox" name="full" id="sync-full">
        Fetch every device (removes the ones ABM no longer assigns)</label></div>
      <div><button type="submit" id="sync-now" ${raw(can ? "" : "disabled")}>Sync now</button></div>
    </form>
    <h3>Last sync</h3>
    ${report(a.last_sync)}
    <h2>Settings</h2>
    ${settingsForm(a)}
    <h2>Delete</h2>
    <p><button id="delete-account" class="danger" type="button">Delete this account</button></p>
    <div id="confirm-box"></div>`,
    a.name,
  );
  document.getElementById("certificate").onclick = () => downloadCertificate(a);
  document.getElementById("token-form").onsubmit = (e) => {
    e.preventDefault();
    const file = e.target.file.files[0];
    if (file) uploadToken(a, file);
  };
  document.getElementById("sync-form").onsubmit = async (e) => {
    e.preventDefault();
    const full = e.target.full.checked;
    try {
      await api("POST", path(a.id, "/sync"), { full });
      say(
        `A ${full ? "full " : ""}sync of ${a.name} is queued; its report appears here when it is done.`,
      );
    } catch (err) {
      if (err.status !== 401) say(`Not queued: ${err.message}`, "error");
    }
  };
  document.getElementById("account-settings").onsubmit = async (e) => {
    e.preventDefault();
    const f = e.target;
    try {
      await api("PUT", path(a.id), {
        name: f.name.value,
        preapprove: f.preapprove.checked,
        domain: f.domain.value.trim() || null,
        groups: f.groups.value,
      });
      await adeAccount(a.id);
      say("Settings saved.");
    } catch (err) {
      if (err.status !== 401) say(`Not saved: ${err.message}`, "error");
    }
  };
  document.getElementById("delete-account").onclick = () => confirmDelete(a);
}

async function downloadCertificate(a) {
  try {
    const pem = await api("GET", path(a.id, "/certificate"));
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([pem], { type: "application/x-pem-file" }));
    const stem = a.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "");
    link.download = `${stem || "ade-account"}-mdm-server.pem`;
    document.body.append(link);
    link.click();
    link.remove();
  } catch (err) {
    if (err.status !== 401) say(`No certificate: ${err.message}`, "error");
  }
}

async function uploadToken(a, file) {
  say("Checking the token with Apple…");
  try {
    const typed = file.type ? file : new Blob([file], { type: "application/pkcs7-mime" });
    const out = await api("PUT", path(a.id, "/token"), typed);
    await adeAccount(a.id);
    const what = out.renewed
      ? "renewed: the account keeps its settings and devices"
      : out.new_server
        ? "of another MDM server: its devices are fetched afresh"
        : "uploaded";
    const sync = out.sync_queued ? " A sync is queued." : " The next scheduled sync picks it up.";
    say(`Server token ${what}.${sync}`);
  } catch (err) {
    if (err.status !== 401) say(`Token not uploaded: ${err.message}`, "error");
  }
}

function confirmDelete(a) {
  const box = document.getElementById("confirm-box");
  box.innerHTML = html`<div class="card" role="alertdialog" aria-labelledby="confirm-q">
    <p id="confirm-q">Delete ${a.name}? Its key and token are deleted; the devices it
      pre-approved that have not enrolled are removed (enrolled devices and CSV pre-approvals
      stay). Remove the MDM server in Apple Business Manager too.</p>
    <p><button id="confirm-yes" class="primary">Yes, delete</button>
      <button id="confirm-no">Cancel</button></p></div>`.s;
  document.getElementById("confirm-no").onclick = () => {
    box.innerHTML = "";
  };
  document.getElementById("confirm-yes").onclick = async () => {
    try {
      await api("DELETE", path(a.id));
      state.flash = [`${a.name} is deleted; its devices are being removed.`];
      location.hash = "#/ade";
    } catch (err) {
      if (err.status !== 401) say(`Not deleted: ${err.message}`, "error");
    }
  };
  document.getElementById("confirm-yes").focus();
}
