// Admin page: plain ES module, no dependencies, no network fetches except
// config.json, the admin API, Cognito and the presigned S3 URLs it hands out.

const main = document.getElementById("main");
const statusBox = document.getElementById("status");
const nav = document.getElementById("nav");
let config;

// ---- HTML with every interpolation escaped (row data comes from spreadsheets) ----
class Raw { constructor(s) { this.s = s; } }
const raw = (s) => new Raw(s);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    const part = Array.isArray(v) ? v.map((x) => (x instanceof Raw ? x.s : esc(x))).join("") : v instanceof Raw ? v.s : esc(v);
    out += part + strings[i + 1];
  });
  return raw(out);
}
function render(view, title) {
  main.innerHTML = view.s;
  document.title = `${title} · Pre-approved enrollment`;
  for (const a of nav.querySelectorAll("a")) {
    a.toggleAttribute("aria-current", location.hash.startsWith(a.getAttribute("href")));
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
}
function say(message, kind = "ok") {
  statusBox.innerHTML = message ? html`<p class="${kind}">${message}</p>`.s : "";
}
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const label = (s) => ({ pre_approved: "Pre-approved", enrolled: "Enrolled", expired: "Expired" })[s] ?? s;

// ---- Sign-in: Cognito (USER_PASSWORD_AUTH locally, hosted UI with PKCE in AWS) ----
const session = {
  get token() { return sessionStorage.getItem("idToken"); },
  set token(t) { t ? sessionStorage.setItem("idToken", t) : sessionStorage.removeItem("idToken"); },
};

async function cognito(target, body) {
  const r = await fetch(config.cognitoEndpoint, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": `AWSCognitoIdentityProviderService.${target}` },
    body: JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.message || data.__type || `sign-in failed (${r.status})`);
  return data;
}

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function hostedSignIn() {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  sessionStorage.setItem("pkce", verifier);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const q = new URLSearchParams({
    response_type: "code", client_id: config.clientId, redirect_uri: config.redirectUri,
    scope: "openid email profile", code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(`${config.hostedUiUrl}/oauth2/authorize?${q}`);
}

async function finishHostedSignIn(code) {
  const body = new URLSearchParams({
    grant_type: "authorization_code", client_id: config.clientId, code,
    redirect_uri: config.redirectUri, code_verifier: sessionStorage.getItem("pkce") || "",
  });
  const r = await fetch(`${config.hostedUiUrl}/oauth2/token`, { method: "POST", body });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || "sign-in failed");
  session.token = data.id_token;
  history.replaceState(null, "", location.pathname + "#/overview");
}

function showLogin(message) {
  nav.hidden = true;
  if (config.authFlow === "hosted") {
    render(html`<section class="login card"><h1>Sign in</h1>
      <p>${message || "Sign in with your administrator account."}</p>
      <button class="primary" id="hosted">Sign in</button></section>`, "Sign in");
    document.getElementById("hosted").onclick = hostedSignIn;
    return;
  }
  render(html`<section class="login card"><h1>Sign in</h1>
    <form id="login">
      <label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" required>
      <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
      <p><button class="primary" type="submit">Sign in</button></p>
      <p class="error" id="login-error" role="alert">${message || ""}</p>
    </form></section>`, "Sign in");
  document.getElementById("username").focus();
  document.getElementById("login").onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      const out = await cognito("InitiateAuth", {
        AuthFlow: "USER_PASSWORD_AUTH", ClientId: config.clientId,
        AuthParameters: { USERNAME: f.get("username"), PASSWORD: f.get("password") },
      });
      if (!out.AuthenticationResult) throw new Error(`${out.ChallengeName || "another step"} is required; finish it in the Cognito console`);
      session.token = out.AuthenticationResult.IdToken;
      location.hash = "#/overview";
      route();
    } catch (err) {
      document.getElementById("login-error").textContent = `Sign-in failed: ${err.message}`;
    }
  };
}

// ---- The admin API ----
class ApiError extends Error {
  constructor(status, body) { super(body.message || `request failed (${status})`); this.status = status; this.body = body; }
}
// Each route aborts the requests of the one before, so a slow answer for a view
// the admin already left never draws over the current one.
let routeRequests = new AbortController();

async function api(method, path, body) {
  const r = await fetch(`${config.apiUrl}/v1${path}`, {
    method,
    signal: routeRequests.signal,
    headers: { authorization: `Bearer ${session.token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const type = r.headers.get("content-type") || "";
  const data = type.includes("json") ? await r.json() : await r.text();
  if (r.status === 401) {
    session.token = null;
    showLogin(data.message || "Your session has ended; sign in again.");
    throw new ApiError(401, data);
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// ---- Overview: devices by status and platform (SVG) ----
function chart(counts) {
  const platforms = [...new Set(counts.map((c) => c.platform))].sort();
  const get = (p, s) => counts.find((c) => c.platform === p && c.status === s)?.count ?? 0;
  const max = Math.max(1, ...platforms.map((p) => get(p, "pre_approved") + get(p, "enrolled") + get(p, "expired")));
  const barH = 26, gap = 12, left = 80, width = 520, h = platforms.length * (barH + gap) + 10;
  const bars = platforms.map((p, i) => {
    const y = i * (barH + gap) + 5, pre = get(p, "pre_approved"), enr = get(p, "enrolled"), exp = get(p, "expired");
    const wPre = (pre / max) * (width - left - 60), wEnr = (enr / max) * (width - left - 60), wExp = (exp / max) * (width - left - 60);
    return html`<text x="${left - 8}" y="${y + 17}" text-anchor="end">${p}</text>
      <rect class="bar-pre" x="${left}" y="${y}" width="${wPre}" height="${barH}"><title>${p}: ${pre} pre-approved</title></rect>
      <rect class="bar-enr" x="${left + wPre}" y="${y}" width="${wEnr}" height="${barH}"><title>${p}: ${enr} enrolled</title></rect>
      <rect class="bar-exp" x="${left + wPre + wEnr}" y="${y}" width="${wExp}" height="${barH}"><title>${p}: ${exp} expired</title></rect>
      <text x="${left + wPre + wEnr + wExp + 6}" y="${y + 17}">${pre + enr + exp}</text>`;
  });
  const total = (s) => counts.filter((c) => c.status === s).reduce((a, c) => a + c.count, 0);
  return html`<svg class="chart" role="img" aria-labelledby="chart-title chart-desc" viewBox="0 0 ${width} ${Math.max(h, 40)}" width="100%">
      <title id="chart-title">Devices by platform and enrollment status</title>
      <desc id="chart-desc">${total("pre_approved")} pre-approved, ${total("enrolled")} enrolled and ${total("expired")} expired devices.</desc>
      ${platforms.length ? bars : html`<text x="10" y="25">No devices yet.</text>`}
    </svg>
    <p class="legend"><span><span class="swatch pre"></span>Pre-approved (${total("pre_approved")})</span>
      <span><span class="swatch enr"></span>Enrolled (${total("enrolled")})</span>
      <span><span class="swatch exp"></span><a href="#/devices?status=expired">Expired</a> (<span id="expired-total">${total("expired")}</span>)</span></p>`;
}

async function overview() {
  const [{ counts }, settings] = await Promise.all([api("GET", "/overview"), api("GET", "/settings")]);
  render(html`<h1>Overview</h1>
    <p>Enrollment restriction: <strong>${settings.pre_approved_only ? "Pre-approved Devices Only" : "open to any supported device"}</strong>
      (<a href="#/settings">change</a>).</p>
    ${chart(counts)}
    <p><a class="button primary" href="#/upload">Pre-approve devices</a> <a class="button" href="#/devices?status=pre_approved">Pre-approved devices</a></p>`, "Overview");
}

// ---- Devices ----
const INVITE_STATES = ["queued", "sending", "sent", "delivered", "bounced", "complained", "failed", "unconfirmed"];
const inviteBadge = (state) => (state ? html`<span class="badge invite-${state}">${state}</span>` : html`<span class="muted">none</span>`);

function deviceRow(d) {
  return html`<tr><td><a href="#/devices/${encodeURIComponent(d.serial_number)}">${d.serial_number}</a></td>
    <td><span class="badge ${d.status}">${label(d.status)}</span></td><td>${inviteBadge(d.invite_state)}</td><td>${d.platform}</td><td>${d.device_name || ""}</td>
    <td>${d.email}</td><td>${(d.groups || []).join(", ")}</td></tr>`;
}

// Devices per page of the list (the API's page).
const PAGE_SIZE = 50;

// ---- Exports ----
const EXPORT_BOX = html`<div class="export" id="export-box"><button id="export" type="button">Export CSV</button>
  <span id="export-state" role="status" aria-live="polite"></span></div>`;

/** Starts an export of `filter` and follows it in #export-box: a progress bar, then the download link. */
function bindExport(filter) {
  const button = document.getElementById("export"), state = document.getElementById("export-state");
  button.onclick = async () => {
    button.disabled = true;
    try {
      let e = await api("POST", "/exports", filter);
      for (;;) {
        const of = e.total == null ? "" : ` of ${e.total.toLocaleString()}`;
        if (e.status === "ready") {
          state.innerHTML = html`<a id="export-download" class="button" href="${e.download_url}" download>Download ${e.rows.toLocaleString()} device${e.rows === 1 ? "" : "s"} (CSV)</a>
            <span class="muted">The link works for 15 minutes; export again for a new one.</span>`.s;
          break;
        }
        if (e.status === "failed") {
          state.innerHTML = html`<span class="error" id="export-error">Export failed: ${e.error}</span>`.s;
          break;
        }
        // Without a known total the bar is indeterminate (no value).
        state.innerHTML = html`<progress id="export-progress" aria-label="Export progress" max="${e.total || 1}" ${raw(e.total ? `value="${Math.min(e.rows, e.total)}"` : "")}></progress>
          <span>${e.status === "queued" ? "Waiting for the export to start…" : `Exporting… ${e.rows.toLocaleString()}${of} devices`}</span>`.s;
        await new Promise((r) => setTimeout(r, 1000));
        e = await api("GET", `/exports/${encodeURIComponent(e.export_id)}`);
      }
    } catch (err) {
      if (err.status !== 401) say(`Not exported: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
  };
}

async function devices(params) {
  const status = params.get("status") || "all", q = params.get("q") || "", invite = params.get("invite") || "";
  render(html`<h1>Devices</h1>
    <form class="toolbar" id="filter" role="search">
      <div><label for="status-filter">Filter by: Enrollment Status</label>
        <select id="status-filter" name="status">
          ${[["all", "All"], ["pre_approved", "Pre-approved"], ["enrolled", "Enrolled"], ["expired", "Expired"]].map(([v, t]) => html`<option value="${v}" ${raw(v === status ? "selected" : "")}>${t}</option>`)}
        </select></div>
      <div><label for="invite-filter">Invite</label>
        <select id="invite-filter" name="invite">
          ${[["", "Any"], ...INVITE_STATES.map((v) => [v, v])].map(([v, t]) => html`<option value="${v}" ${raw(v === invite ? "selected" : "")}>${t}</option>`)}
        </select></div>
      <div><label for="q">Search serial number or email</label><input id="q" name="q" type="search" value="${q}" ${raw(invite ? "disabled title=\"Clear the invite filter to search\"" : "")}></div>
      <div><button type="submit">Apply</button></div>
    </form>
    ${EXPORT_BOX}
    <div class="scroll"><table><thead><tr><th>Serial number</th><th>Status</th><th>Invite</th><th>Platform</th><th>Device name</th><th>User</th><th>Groups</th></tr></thead>
      <tbody id="device-rows"></tbody></table></div>
    <p id="more-wrap"></p>`, "Devices");
  const form = document.getElementById("filter");
  form.status.onchange = () => form.requestSubmit();
  form.invite.onchange = () => form.requestSubmit();
  form.onsubmit = (e) => {
    e.preventDefault();
    // The list filters by invite state or searches, not both (one index each).
    const chosen = form.invite.value;
    const qs = { status: form.status.value, ...(chosen ? { invite: chosen } : { q: form.q.value.trim() }) };
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
    body.innerHTML = page.items.map((d) => deviceRow(d).s).join("")
      || html`<tr><td colspan="7" class="muted">No devices match.</td></tr>`.s;
    const from = trail.length * PAGE_SIZE + 1, to = from + page.items.length - 1;
    const of = page.total == null ? "" : ` of ${page.total.toLocaleString()}`;
    const nav = document.getElementById("more-wrap");
    nav.innerHTML = html`<span id="device-range">${page.items.length ? `Devices ${from.toLocaleString()}–${to.toLocaleString()}${of}` : ""}</span>
      <button id="prev" ${raw(trail.length ? "" : "disabled")}>Previous</button>
      <button id="next" ${raw(page.cursor ? "" : "disabled")}>Next</button>`.s;
    document.getElementById("prev").onclick = () => load(trail.pop());
    document.getElementById("next").onclick = () => { trail.push(cursor); load(page.cursor); };
  };
  await load();
}

async function device(serial) {
  const v = await api("GET", `/devices/${encodeURIComponent(serial)}`);
  const d = v, u = v.user;
  render(html`<p><a href="#/devices">← Devices</a></p>
    <h1>${d.device_name || d.serial_number}</h1>
    ${v.banner ? html`<div class="banner" role="note">${v.banner}</div>` : ""}
    <dl class="facts">
      <dt>Serial number</dt><dd>${d.serial_number}</dd>
      <dt>Enrollment status</dt><dd><span class="badge ${d.status}">${label(d.status)}</span></dd>
      <dt>Platform</dt><dd>${d.platform}</dd>
      <dt>Ownership</dt><dd>${d.ownership || "unknown"}</dd>
      <dt>Device groups</dt><dd>${(d.groups || []).join(", ") || "none"}</dd>
      <dt>User</dt><dd>${u ? `${u.name} <${u.email}>` : d.email || "none"}</dd>
      ${d.domain ? html`<dt>Domain</dt><dd>${d.domain}</dd>` : ""}
      <dt>Enrollment password</dt><dd>${d.has_enrollment_password ? "set (stored as a keyed hash)" : "none"}</dd>
      ${d.status !== "enrolled" ? html`<dt>Pre-approval expires</dt><dd id="expires">${d.expires_at ? when(d.expires_at) : "never"}</dd>` : ""}
      ${d.enrollment ? html`<dt>Enrolled</dt><dd>${when(d.enrollment.enrolled_at)} ${d.enrollment.method ? `via ${d.enrollment.method}` : ""}</dd>` : ""}
      ${d.failed_attempts ? html`<dt>Wrong passwords</dt><dd id="failed">${d.failed_attempts}${d.locked_until ? html` · <strong class="warn">locked until ${when(d.locked_until)}</strong>` : ""}</dd>` : ""}
    </dl>
    <h2>Enrollment invite</h2>
    ${v.invite ? html`<dl class="facts" id="invite">
      <dt>State</dt><dd>${inviteBadge(v.invite.state)}${v.invite.reason ? html` <span class="muted">(${v.invite.reason})</span>` : ""}</dd>
      <dt>Sent by</dt><dd>${v.invite.channel === "sms" ? "SMS" : "email"}</dd>
      <dt>Attempt</dt><dd>${v.invite.attempt}, queued ${when(new Date(v.invite.queued_at * 1000).toISOString())}</dd></dl>
      <p class="muted">${INVITE_HELP[v.invite.state] || ""}</p>` : html`<p class="muted">No invite was sent for this device (imported with Invite = none).</p>`}
    <h2>Location and hardware</h2>
    <p class="muted">${v.details_note || "Reported by the device since it enrolled."}</p>
    <h2>Administrator actions</h2>
    <p class="actions">
      ${v.invite && d.status === "pre_approved" ? html`<button id="resend">Send the invite again</button>` : ""}
      ${d.failed_attempts ? html`<button data-action="unlock">Unlock</button>` : ""}
      ${d.status === "enrolled" ? html`<button data-action="reset">Reset enrollment</button>` : html`<button data-action="remove" class="danger">Remove pre-approval</button>`}
    </p>
    ${d.status !== "enrolled" ? html`<form id="renew-form" class="toolbar">
      <div><label for="renew-date">${d.status === "expired" ? "Renew until" : "Change the expiry to"}</label>
        <input id="renew-date" name="date" type="date" min="${new Date().toISOString().slice(0, 10)}"></div>
      <div><label class="inline"><input type="checkbox" name="never" id="renew-never"> Never expires</label></div>
      <div><button type="submit" id="renew">Renew pre-approval</button></div>
      <p class="muted">No date: the settings' default expiry (or none). A date holds to the end of that day (UTC).</p></form>` : ""}
    <div id="confirm-box"></div>
    <h3>Audit trail</h3>
    ${v.audit.length ? html`<table id="audit"><thead><tr><th>When</th><th>Who</th><th>What</th></tr></thead><tbody>
      ${v.audit.map((e) => html`<tr><td>${when(e.at)}</td><td>${e.by}</td><td>${actionLabel[e.action]}${e.action === "renew" ? ` until ${e.expires ? when(e.expires) : "never"}` : ""}</td></tr>`)}</tbody></table>` : html`<p class="muted">No administrator has changed this device.</p>`}`, d.serial_number);
  main.querySelectorAll("[data-action]").forEach((b) => (b.onclick = () => confirmAction(d.serial_number, b.dataset.action)));
  const renew = document.getElementById("renew-form");
  if (renew) renew.onsubmit = async (e) => {
    e.preventDefault();
    const body = renew.never.checked ? { expires: null } : renew.date.value ? { expires: renew.date.value } : {};
    try {
      const out = await api("POST", `/devices/${encodeURIComponent(d.serial_number)}/renew`, body);
      await device(d.serial_number);
      say(`${d.serial_number} is pre-approved ${out.expires_at ? `until ${when(out.expires_at)}` : "with no expiry"}.`);
    } catch (err) {
      if (err.status !== 401) say(`Not renewed: ${err.message}`, "error");
    }
  };
  const resend = document.getElementById("resend");
  if (resend) resend.onclick = async () => {
    resend.disabled = true;
    try {
      const out = await api("POST", `/devices/${encodeURIComponent(d.serial_number)}/invite`);
      await device(d.serial_number);
      say(`A new invite is queued for ${d.serial_number} (attempt ${out.attempt}).`);
    } catch (err) {
      resend.disabled = false;
      // 429: the API says how long to wait (at most one invite a minute per device).
      if (err.status !== 401) say(`Not sent: ${err.message}`, err.status === 429 ? "warn" : "error");
    }
  };
}

const INVITE_HELP = {
  queued: "Waiting for its turn within the account's sending rate.",
  sending: "Being handed to the provider right now.",
  sent: "Accepted by the provider; delivery not yet confirmed.",
  delivered: "The recipient's mail server accepted it.",
  bounced: "The address does not take mail: correct the user's email and import the row again, or send again.",
  complained: "The recipient marked the invite as spam.",
  failed: "The provider refused it for good (the reason is its code).",
  unconfirmed: "The sender stopped before the provider answered: it may or may not have gone out. Send it again if the user has none.",
};

const actionLabel = { remove: "removed the pre-approval", reset: "reset the enrollment", unlock: "unlocked", renew: "renewed the pre-approval" };
const actionText = {
  remove: ["DELETE", "", "Remove the pre-approval of %s? The device will be refused while Pre-approved Devices Only is on, until it is imported again.", "Yes, remove"],
  reset: ["POST", "/reset", "Reset the enrollment of %s? It becomes pre-approved again (without an enrollment password) and may enroll once more.", "Yes, reset"],
  unlock: ["POST", "/unlock", "Unlock %s? Its count of wrong passwords starts again from zero.", "Yes, unlock"],
};

// Every change to a device asks first, in the page (no browser dialog).
function confirmAction(serial, action) {
  const [method, suffix, question, yes] = actionText[action];
  const box = document.getElementById("confirm-box");
  box.innerHTML = html`<div class="card" role="alertdialog" aria-labelledby="confirm-q"><p id="confirm-q">${question.replace("%s", serial)}</p>
    <p><button id="confirm-yes" class="primary">${yes}</button> <button id="confirm-no">Cancel</button></p></div>`.s;
  document.getElementById("confirm-no").onclick = () => { box.innerHTML = ""; };
  document.getElementById("confirm-yes").onclick = async () => {
    try {
      await api(method, `/devices/${encodeURIComponent(serial)}${suffix}`);
      const done = `${serial}: ${actionLabel[action]}.`;
      if (action === "remove") {
        flash = [done];
        location.hash = "#/devices";
      } else {
        await device(serial);
        say(done);
      }
    } catch (err) {
      if (err.status !== 401) say(`Not done: ${err.message}`, "error");
    }
  };
  document.getElementById("confirm-yes").focus();
}

// ---- Settings ----
async function settings() {
  const [s, hist] = await Promise.all([api("GET", "/settings"), api("GET", "/settings/history")]);
  const opt = (v, cur, t) => html`<option value="${v}" ${raw(v === cur ? "selected" : "")}>${t}</option>`;
  render(html`<h1>Settings</h1>
    <form id="settings">
      <fieldset><legend>Enrollment Restrictions</legend>
        <label class="inline"><input type="checkbox" name="pre_approved_only" id="pre-approved-only" ${raw(s.pre_approved_only ? "checked" : "")}> Pre-approved Devices Only</label>
        <p class="muted">When checked, only devices imported as pre-approved (exact serial number, same platform, and their enrollment password if they have one) can enroll.</p>
      </fieldset>
      <fieldset><legend>Defaults for uploads</legend>
        <label for="default_invite">Send enrollment requests by</label>
        <select id="default_invite" name="default_invite">${opt("email", s.default_invite, "Email")}${opt("sms", s.default_invite, "SMS")}${opt("none", s.default_invite, "Do not send")}</select>
        <label for="default_existing_users">Users who already exist</label>
        <select id="default_existing_users" name="default_existing_users">${opt("skip", s.default_existing_users, "Skip them")}${opt("replace", s.default_existing_users, "Replace them")}</select>
        <label for="default_on_error">Rows with errors</label>
        <select id="default_on_error" name="default_on_error">${opt("reject-file", s.default_on_error, "Reject the whole file")}${opt("skip-invalid-rows", s.default_on_error, "Import the valid rows")}</select>
        <label for="invite_sender">Invite sender address</label><input id="invite_sender" name="invite_sender" type="email" value="${s.invite_sender || ""}" placeholder="deployment default">
        <label for="enrollment_url">Enrollment URL in invites</label><input id="enrollment_url" name="enrollment_url" type="url" value="${s.enrollment_url || ""}" placeholder="deployment default">
        <label for="default_expiry_days">Pre-approvals expire after (days)</label><input id="default_expiry_days" name="default_expiry_days" type="number" min="1" max="3650" step="1" value="${s.default_expiry_days ?? ""}" placeholder="never">
        <p class="muted">For rows without their own Expires date, unless the upload says otherwise. Empty: pre-approvals do not expire. Enrolled devices never expire.</p>
      </fieldset>
      <p><button class="primary" type="submit">Save</button></p>
    </form>
    <h2>Changes</h2>
    <div class="scroll"><table><thead><tr><th>When</th><th>Who</th><th>Change</th></tr></thead><tbody>
      ${hist.items.map((h) => html`<tr><td>${when(h.at)}</td><td>${h.by}</td><td>${h.changes.map((c) => `${c.field}: ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`).join("; ")}</td></tr>`)}
    </tbody></table></div>`, "Settings");
  document.getElementById("settings").onsubmit = async (e) => {
    e.preventDefault();
    const f = e.target;
    say("Saving…");
    try {
      await api("PUT", "/settings", {
        pre_approved_only: f.pre_approved_only.checked, default_invite: f.default_invite.value,
        default_existing_users: f.default_existing_users.value, default_on_error: f.default_on_error.value,
        invite_sender: f.invite_sender.value.trim(), enrollment_url: f.enrollment_url.value.trim(),
        default_expiry_days: f.default_expiry_days.value ? Number(f.default_expiry_days.value) : null,
      });
      await settings();
      say("Settings saved.");
    } catch (err) {
      if (err.status !== 401) say(`Not saved: ${err.message}`, "error");
    }
  };
}

// ---- Guided upload (the seeds' three steps) ----
const FIELDS = [["", "(ignore)"], ["name", "Name"], ["email", "Email"], ["ownership", "Ownership"], ["serial_number", "Serial Number"],
  ["platform", "Platform"], ["sam_account_name", "SAMAccountName"], ["mobile", "Mobile"], ["device_name", "Device Name"],
  ["password", "Password"], ["device_group", "Device Group"], ["expires", "Expires"]];
const wizard = { key: null, fileName: null, mapping: {}, excluded: new Set(), invalid: new Set(), page: 1, preview: null, defaults: null };

function steps(n) {
  const names = ["Choose the file", "Check the rows", "Send enrollment requests"];
  return html`<ol class="steps">${names.map((t, i) => html`<li ${raw(i + 1 === n ? 'aria-current="step"' : "")}>${i + 1}. ${t}</li>`)}</ol>`;
}

async function upload() {
  Object.assign(wizard, { key: null, fileName: null, mapping: {}, excluded: new Set(), invalid: new Set(), page: 1, preview: null });
  render(html`<h1>Pre-approve devices</h1>${steps(1)}
    <form id="pick" class="card">
      <label for="file">Device list (CSV exported from a spreadsheet)</label>
      <input id="file" name="file" type="file" accept=".csv,text/csv" required>
      <p class="muted">Columns: Name, Email, Ownership, Serial Number, Platform (mandatory); SAMAccountName, Mobile, Device Name, Password, Device Group (optional). Values are case-sensitive.</p>
      <p><button class="primary" type="submit">Next</button> <button type="button" id="sample">Download sample CSV</button></p>
    </form>`, "Pre-approve devices");
  document.getElementById("sample").onclick = downloadSample;
  document.getElementById("pick").onsubmit = async (e) => {
    e.preventDefault();
    const file = e.target.file.files[0];
    if (!file) return;
    try {
      say("Uploading…");
      const slot = await api("POST", "/uploads", {});
      const put = await fetch(slot.url, { method: "PUT", headers: slot.headers, body: file });
      if (!put.ok) throw new Error(`the upload failed (${put.status})`);
      wizard.key = slot.key;
      wizard.fileName = file.name;
      say("");
      await previewStep();
    } catch (err) {
      if (err.status !== 401) say(`Upload failed: ${err.message}`, "error");
    }
  };
}

async function downloadSample() {
  const text = await api("GET", "/sample.csv");
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  a.download = "pre-approved-devices-sample.csv";
  document.body.append(a);
  a.click();
  a.remove();
}

function mappingForm(headers, mapping) {
  const current = (h) => (h in wizard.mapping ? wizard.mapping[h] ?? "" : Object.entries(mapping || {}).find(([, t]) => t === h)?.[0] ?? "");
  return html`<fieldset><legend>Columns</legend><div class="scroll"><table><thead><tr><th>Column in the file</th><th>Field</th></tr></thead><tbody>
    ${headers.filter((h) => h).map((h, i) => html`<tr><td><label for="map-${i}">${h}</label></td><td><select id="map-${i}" data-header="${h}">
      ${FIELDS.map(([v, t]) => html`<option value="${v}" ${raw(v === current(h) ? "selected" : "")}>${t}</option>`)}</select></td></tr>`)}
    </tbody></table></div><button type="button" id="remap">Apply mapping</button></fieldset>`;
}

function bindMapping() {
  document.getElementById("remap").onclick = async () => {
    for (const sel of main.querySelectorAll("select[data-header]")) wizard.mapping[sel.dataset.header] = sel.value || null;
    wizard.page = 1;
    await previewStep();
  };
}

async function previewStep() {
  let p;
  try {
    p = await api("POST", "/imports/preview", { key: wizard.key, mapping: wizard.mapping, page: wizard.page, page_size: 100 });
  } catch (err) {
    if (err.status === 422) {
      render(html`<h1>Pre-approve devices</h1>${steps(2)}
        <p class="error" role="alert">${err.message}</p><p>Tell which column holds each field:</p>
        ${mappingForm(err.body.headers || [], {})}`, "Check the rows");
      bindMapping();
      return;
    }
    if (err.status !== 401) say(`Preview failed: ${err.message}`, "error");
    return;
  }
  wizard.preview = p;
  // The preview lists a sample of the errors: rows in error still checked are
  // all of them less the ones unchecked that are known to be in error.
  for (const e of p.errors) wizard.invalid.add(e.row);
  for (const r of p.rows) if (!r.valid) wizard.invalid.add(r.row);
  const checkedBad = () => (p.rows_total - p.valid_rows) - [...wizard.excluded].filter((n) => wizard.invalid.has(n)).length;
  const row = (r) => {
    const off = wizard.excluded.has(r.row);
    const c = r.cells;
    return html`<tr class="${r.valid ? "" : "invalid"} ${off ? "excluded" : ""}" data-row="${r.row}">
      <td><input type="checkbox" aria-label="Import row ${r.row}" data-row="${r.row}" ${raw(off ? "" : "checked")}></td>
      <td>${r.row}</td><td>${c.name}</td><td>${c.email}${r.existing_user ? html` <span class="muted">(exists)</span>` : ""}</td>
      <td>${c.serial_number}${r.existing_device ? html` <span class="badge ${r.existing_device}">${label(r.existing_device)}</span>` : ""}</td>
      <td>${c.platform}</td><td>${c.ownership}</td><td>${c.device_name || ""}</td>
      <td>${r.valid ? html`<span class="ok">OK</span>` : ""}${r.errors.map((e) => html`<span class="issue">${e.column}: ${e.message}</span>`)}</td></tr>`;
  };
  render(html`<h1>Pre-approve devices</h1>${steps(2)}
    <p>${wizard.fileName}: ${p.rows_total} rows, ${p.valid_rows} valid, ${p.errors_total} errors${p.errors_total ? ` (by column: ${byColumn(p.error_totals)})` : ""}.
      Read as <strong>${p.dialect.encoding}</strong>, separated by <strong>${p.dialect.delimiter}</strong>.
      ${p.columns.ignored.length ? `Ignored columns: ${p.columns.ignored.join(", ")}.` : ""}</p>
    ${p.duplicate_emails.length ? html`<p class="warn">${p.duplicate_emails.length} email(s) appear on several rows: the user's details come from the last of them, and every row still gets its own enrollment request (${p.duplicate_emails.map((g) => `${g.email}: rows ${g.rows.join(", ")}`).join("; ")}).</p>` : ""}
    <details><summary>Column mapping</summary>${mappingForm(p.columns.headers, p.columns.mapping)}</details>
    <p>Uncheck the rows that should not be imported.</p>
    <div class="scroll"><table id="rows"><thead><tr><th>Import</th><th>Row</th><th>Name</th><th>Email</th><th>Serial number</th><th>Platform</th><th>Ownership</th><th>Device name</th><th>Check</th></tr></thead>
      <tbody>${p.rows.map(row)}</tbody></table></div>
    ${p.pages > 1 ? html`<p>Page ${p.page} of ${p.pages} <button id="prev" ${raw(p.page <= 1 ? "disabled" : "")}>Previous</button> <button id="next" ${raw(p.page >= p.pages ? "disabled" : "")}>Next page</button></p>` : ""}
    <p id="bad-left" class="warn"></p>
    <p><button type="button" id="back">Back</button> <button class="primary" type="button" id="to-send">Next</button></p>`, "Check the rows");
  bindMapping();
  const badLeft = () => {
    const n = checkedBad();
    document.getElementById("bad-left").textContent = n ? `${n} row(s) with errors are still checked: uncheck them, or choose to import only the valid rows in the next step.` : "";
  };
  badLeft();
  document.getElementById("rows").onchange = (e) => {
    const n = Number(e.target.dataset.row);
    if (!n) return;
    e.target.checked ? wizard.excluded.delete(n) : wizard.excluded.add(n);
    e.target.closest("tr").classList.toggle("excluded", !e.target.checked);
    badLeft();
  };
  document.getElementById("back").onclick = upload;
  if (p.pages > 1) {
    document.getElementById("prev").onclick = () => { wizard.page -= 1; previewStep(); };
    document.getElementById("next").onclick = () => { wizard.page += 1; previewStep(); };
  }
  document.getElementById("to-send").onclick = () => sendStep(checkedBad());
}

async function sendStep(badChecked) {
  const s = wizard.defaults || (wizard.defaults = await api("GET", "/settings"));
  const p = wizard.preview;
  const kept = p.rows_total - wizard.excluded.size;
  const existing = p.rows.filter((r) => !wizard.excluded.has(r.row) && (r.existing_user || r.existing_device)).length;
  const radio = (name, value, cur, text) => html`<label class="inline"><input type="radio" name="${name}" value="${value}" ${raw(value === cur ? "checked" : "")}> ${text}</label>`;
  render(html`<h1>Pre-approve devices</h1>${steps(3)}
    <form id="send" class="card">
      <p>${kept} row(s) will be imported${existing ? `; ${existing} of the rows shown belong to users or devices that already exist` : ""}.</p>
      <fieldset><legend>Users who already exist</legend>
        ${radio("existing_users", "skip", s.default_existing_users, "Skip them")}${radio("existing_users", "replace", s.default_existing_users, "Replace them")}</fieldset>
      <fieldset><legend>Send enrollment request via</legend>
        ${radio("invite", "email", s.default_invite, "Email")}${radio("invite", "sms", s.default_invite, "SMS")}${radio("invite", "none", s.default_invite, "Do not send")}</fieldset>
      <fieldset><legend>Rows with errors</legend>
        ${radio("on_error", "reject-file", badChecked ? s.default_on_error : "reject-file", "Reject the whole file")}${radio("on_error", "skip-invalid-rows", badChecked ? s.default_on_error : "", "Import only the valid rows")}</fieldset>
      <label for="domain">Domain (optional)</label><input id="domain" name="domain" type="text">
      <label for="expires_in_days">Pre-approvals expire after (days; rows with their own Expires date keep it)</label>
      <input id="expires_in_days" name="expires_in_days" type="number" min="0" max="3650" step="1" value="${s.default_expiry_days ?? ""}" placeholder="never">
      <p class="muted">Empty or 0: they do not expire.</p>
      <p><button type="button" id="back">Back</button> <button class="primary" type="submit">Send</button></p>
    </form>
    <section id="progress-box" hidden><h2>Import</h2><progress id="progress" max="1" value="0" aria-label="Import progress"></progress>
      <p id="progress-text" aria-live="polite"></p></section>`, "Send enrollment requests");
  document.getElementById("back").onclick = previewStep;
  document.getElementById("send").onsubmit = async (e) => {
    e.preventDefault();
    const f = e.target;
    const body = {
      key: wizard.key, mapping: wizard.mapping, exclude_rows: [...wizard.excluded].sort((a, b) => a - b),
      existing_users: f.existing_users.value, invite: f.invite.value, on_error: f.on_error.value,
      domain: f.domain.value.trim() || undefined, file_name: wizard.fileName,
      expires_in_days: f.expires_in_days.value ? Number(f.expires_in_days.value) : 0,
    };
    try {
      f.querySelector("[type=submit]").disabled = true;
      const started = await api("POST", "/imports", body);
      await follow(started.import_id);
    } catch (err) {
      f.querySelector("[type=submit]").disabled = false;
      if (err.status !== 401) say(`Not sent: ${err.message}`, "error");
    }
  };
}

async function follow(id) {
  document.getElementById("progress-box").hidden = false;
  const bar = document.getElementById("progress"), text = document.getElementById("progress-text");
  for (;;) {
    let st = null;
    try { st = await api("GET", `/imports/${id}`); } catch (err) { if (err.status !== 404) throw err; }
    if (st) {
      bar.value = st.progress.fraction;
      text.textContent = `${label(st.status)}: ${st.progress.rows_validated} validated, ${st.progress.rows_written} written, ${st.progress.rows_invited} invited.`;
      if (["completed", "rejected", "failed"].includes(st.status)) {
        text.innerHTML = html`Import <strong id="final-status">${st.status}</strong>: ${st.counts.devices_written} devices, ${st.counts.users_written} users, ${st.counts.invites_queued} invites queued. <a href="#/imports/${id}">Details</a>`.s;
        return;
      }
    } else {
      text.textContent = "Queued…";
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---- Imports ----
async function imports() {
  const page = await api("GET", "/imports");
  render(html`<h1>Imports</h1><div class="scroll"><table><thead><tr><th>File</th><th>Status</th><th>Rows</th><th>Devices</th><th>Users</th><th>Invites</th><th>Started</th></tr></thead><tbody>
    ${page.items.map((i) => html`<tr><td><a href="#/imports/${i.import_id}">${i.file}</a></td><td><span class="badge ${i.status}">${i.status}</span></td>
      <td>${i.counts.rows}</td><td>${i.counts.devices_written}</td><td>${i.counts.users_written}</td><td>${i.counts.invites_queued}</td><td>${when(i.created_at)}</td></tr>`)}
    </tbody></table></div>${page.items.length ? "" : html`<p class="muted">No imports yet.</p>`}`, "Imports");
}

/** "Mobile 12, Platform 3": where the errors are, for a file with too many to list. */
function byColumn(totals) {
  return Object.entries(totals.by_column).map(([c, n]) => `${c || "file"} ${n}`).join(", ");
}

async function importDetail(id) {
  const i = await api("GET", `/imports/${id}`);
  render(html`<p><a href="#/imports">← Imports</a></p><h1>${i.file}</h1>
    <p><span class="badge ${i.status}">${i.status}</span> <progress max="1" value="${i.progress.fraction}" aria-label="Progress"></progress></p>
    <dl class="facts"><dt>Rows</dt><dd>${i.counts.rows} (${i.counts.valid_rows} valid)</dd><dt>Devices written</dt><dd>${i.counts.devices_written}</dd>
      <dt>Users written</dt><dd>${i.counts.users_written}</dd><dt>Invites queued</dt><dd>${i.counts.invites_queued}</dd>
      <dt>Skipped</dt><dd>${i.skipped_total}</dd></dl>
    ${i.counts.invites_queued ? html`<h2>Invites</h2>
      <table id="invite-tally"><thead><tr>${INVITE_STATES.filter((s) => s !== "sending").map((s) => html`<th>${s}</th>`)}</tr></thead>
      <tbody><tr>${INVITE_STATES.filter((s) => s !== "sending").map((s) => html`<td data-state="${s}">${i.invites[s] ?? 0}</td>`)}</tr></tbody></table>
      ${resendable(i.invites) ? html`<p><button id="resend-all">Resend ${resendable(i.invites)} bounced, failed or unconfirmed</button></p>` : ""}` : ""}
    ${i.counts.devices_written ? html`<h2>Devices of this import</h2>${EXPORT_BOX}` : ""}
    <p>${i.report_url ? html`<a href="${i.report_url}">Report (JSON)</a>` : ""} ${i.errors_csv_url ? html` · <a href="${i.errors_csv_url}">Rows with errors (CSV)</a>` : ""}</p>
    ${["completed", "failed", "undone"].includes(i.status) && (i.counts.devices_written || i.counts.users_written) ? html`<h2>Undo</h2>
      <div id="undo-box" role="status" aria-live="polite">${i.status === "undone" ? "" : html`<p class="muted">Takes this import back: devices it created are removed, devices and users it replaced get their previous values back. Enrolled devices are never touched.</p>
      <p><button id="undo-check">Undo this import…</button></p>`}</div>` : ""}
    ${i.errors.length ? html`<h2>Errors</h2>
      <p>${i.errors_total} in all (by column: ${byColumn(i.error_totals)})${i.errors_total > i.errors.length ? `; the first ${i.errors.length} below, every row in the CSV` : ""}.</p><div class="scroll"><table><thead><tr><th>Row</th><th>Column</th><th>Value</th><th>Problem</th></tr></thead><tbody>
      ${i.errors.map((e) => html`<tr><td>${e.row}</td><td>${e.column}</td><td>${e.value}</td><td>${e.message}</td></tr>`)}</tbody></table></div>` : ""}
    `, i.file);
  if (i.counts.devices_written) bindExport({ import_id: id });
  bindUndo(id, i.status);
  const again = document.getElementById("resend-all");
  if (again) again.onclick = async () => {
    again.disabled = true;
    try {
      const out = await api("POST", `/imports/${encodeURIComponent(id)}/invites/resend`);
      await importDetail(id);
      const left = out.skipped ? `; ${out.skipped} went out less than a minute ago or are being sent: try again in a minute` : "";
      say(`${out.resent} invites queued again${left}${out.more ? "; more remain: press Resend again" : ""}.`);
    } catch (err) {
      again.disabled = false;
      if (err.status !== 401) say(`Not resent: ${err.message}`, "error");
    }
  };
}

const UNDO_COUNTS = [["devices_removed", "devices removed"], ["devices_restored", "devices restored to their previous values"],
  ["users_removed", "users removed"], ["users_restored", "users restored"], ["devices_left_enrolled", "devices left alone: enrolled since"],
  ["devices_left_changed", "devices left alone: changed since"], ["users_left", "users left alone"]];
const undoCounts = (c) => html`<ul id="undo-counts">${UNDO_COUNTS.map(([k, t]) => html`<li data-count="${k}">${c[k].toLocaleString()} ${t}</li>`)}</ul>`;

// The undo runs in its own function: ask, then follow its state until done.
async function followUndo(id) {
  for (;;) {
    const u = await api("GET", `/imports/${encodeURIComponent(id)}/undo`);
    if (u.status === "done" || u.status === "failed") return u;
    const box = document.getElementById("undo-box");
    if (!box) return u;
    box.innerHTML = html`<p>${u.dry_run ? "Counting what an undo would do…" : "Undoing…"} ${u.phase}</p>${undoCounts(u.counts)}`.s;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function bindUndo(id, status) {
  const box = document.getElementById("undo-box");
  if (!box) return;
  const show = (u) => {
    if (u.status === "failed") {
      box.innerHTML = html`<p class="error">The undo stopped: ${u.error}</p><p><button id="undo-check">Try again…</button></p>`.s;
      bind();
    } else if (!u.dry_run) {
      box.innerHTML = html`<p id="undo-done">Undone by ${u.requested_by} at ${when(u.finished_at || u.requested_at)}:</p>${undoCounts(u.counts)}`.s;
    } else {
      box.innerHTML = html`<div class="card" role="alertdialog" aria-labelledby="undo-q"><p id="undo-q">Undo this import? It would:</p>${undoCounts(u.counts)}
        <p><button id="undo-yes" class="danger">Yes, undo the import</button> <button id="undo-no">Cancel</button></p></div>`.s;
      document.getElementById("undo-no").onclick = () => importDetail(id);
      document.getElementById("undo-yes").onclick = async () => {
        try {
          await api("POST", `/imports/${encodeURIComponent(id)}/undo`, { dry_run: false });
          const done = await followUndo(id);
          await importDetail(id);
          if (done.status === "done") say(`Import undone: ${done.counts.devices_removed} devices removed, ${done.counts.devices_restored} restored.`);
        } catch (err) {
          if (err.status !== 401) say(`Not undone: ${err.message}`, "error");
        }
      };
      document.getElementById("undo-yes").focus();
    }
  };
  const bind = () => {
    const check = document.getElementById("undo-check");
    if (check) check.onclick = async () => {
      check.disabled = true;
      try {
        await api("POST", `/imports/${encodeURIComponent(id)}/undo`, { dry_run: true });
        show(await followUndo(id));
      } catch (err) {
        check.disabled = false;
        if (err.status !== 401) say(`Not counted: ${err.message}`, "error");
      }
    };
  };
  bind();
  if (status === "undone") api("GET", `/imports/${encodeURIComponent(id)}/undo`).then(show).catch(() => {});
}

const resendable = (t) => (t.bounced || 0) + (t.failed || 0) + (t.unconfirmed || 0);

// ---- Blocked attempts ----
async function blocked() {
  const page = await api("GET", "/admission-denials");
  render(html`<h1>Blocked attempts</h1>
    <p class="muted">Devices refused at enrollment in the last 30 days. Approve one to pre-approve its serial number for a user and send the invite.</p>
    <div class="scroll"><table><thead><tr><th>Last attempt</th><th>Serial number</th><th>Platform</th><th>Method</th><th>Reason</th><th>Attempts</th><th>From</th><th></th></tr></thead><tbody>
    ${page.items.map((d) => html`<tr><td>${when(d.at)}</td><td>${d.serial_number}</td><td>${d.platform}</td><td>${d.enrollment_method || ""}</td><td>${d.reason.replace(/_/g, " ")}</td>
      <td class="num" title="${d.first_at ? `first at ${when(d.first_at)}` : ""}">${d.attempts}</td><td>${d.source_ip || ""}</td>
      <td>${d.approved_at ? html`<span class="ok">approved by ${d.approved_by}</span>` : d.platform === "windows" ? html`<span class="muted">not supported</span>` : html`<button data-approve="${d.id}" data-serial="${d.serial_number}">Approve</button>`}</td></tr>`)}
    </tbody></table></div>${page.items.length ? "" : html`<p class="muted">No blocked attempts.</p>`}
    <div id="approve-box"></div>`, "Blocked attempts");
  main.querySelectorAll("[data-approve]").forEach((b) => (b.onclick = () => approveForm(b.dataset.approve, b.dataset.serial)));
}

function approveForm(id, serial) {
  const box = document.getElementById("approve-box");
  box.innerHTML = html`<form id="approve" class="card"><h2>Approve ${serial}</h2>
    <label for="a-name">User's name</label><input id="a-name" name="name" type="text" required>
    <label for="a-email">User's email</label><input id="a-email" name="email" type="email" required>
    <label for="a-ownership">Ownership</label><select id="a-ownership" name="ownership"><option value="corporate">corporate</option><option value="personal">personal</option></select>
    <label for="a-invite">Send enrollment request via</label><select id="a-invite" name="invite"><option value="email">Email</option><option value="sms">SMS</option><option value="none">Do not send</option></select>
    <label for="a-mobile">Mobile (for SMS, international form)</label><input id="a-mobile" name="mobile" type="text">
    <p><button class="primary" type="submit">Pre-approve and invite</button></p></form>`.s;
  document.getElementById("a-name").focus();
  document.getElementById("approve").onsubmit = async (e) => {
    e.preventDefault();
    const f = e.target;
    try {
      const out = await api("POST", `/admission-denials/${encodeURIComponent(id)}/approve`, {
        name: f.name.value, email: f.email.value, ownership: f.ownership.value, invite: f.invite.value, mobile: f.mobile.value || undefined,
      });
      await blocked();
      const invite = out.invite_state ? ` and its invite is ${out.invite_state} (see the device's page for delivery)` : "";
      say(`${out.serial_number} is pre-approved${invite}.`);
    } catch (err) {
      if (err.status !== 401) say(`Not approved: ${err.message}`, "error");
    }
  };
}

// ---- Routing ----
// A message for the next view (a route change clears the status line).
let flash = null;

async function route() {
  routeRequests.abort();
  routeRequests = new AbortController();
  if (!session.token) return showLogin();
  nav.hidden = false;
  say(...(flash || [""]));
  flash = null;
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    switch (parts[0]) {
      case "devices": return parts[1] ? await device(parts[1]) : await devices(params);
      case "upload": return await upload();
      case "imports": return parts[1] ? await importDetail(parts[1]) : await imports();
      case "blocked": return await blocked();
      case "settings": return await settings();
      default: return await overview();
    }
  } catch (err) {
    if (err.status === 401 || err.name === "AbortError") return;
    render(html`<h1>Something went wrong</h1><p class="error">${err.message}</p>`, "Error");
  } finally {
    main.focus();
  }
}

async function start() {
  config = await (await fetch("config.json", { cache: "no-store" })).json();
  document.getElementById("sign-out").onclick = () => {
    session.token = null;
    history.replaceState(null, "", location.pathname); // no hashchange: the message stays
    showLogin("Signed out.");
  };
  const code = new URLSearchParams(location.search).get("code");
  if (code && config.authFlow === "hosted") {
    try { await finishHostedSignIn(code); } catch (err) { return showLogin(err.message); }
  }
  window.addEventListener("hashchange", route);
  await route();
}

start();
