// One device's page: its facts, its invite, the administrator's actions
// (each confirmed in the page) and their audit trail.
import { api } from "../api.js";
import { inviteBadge, label, when } from "../format.js";
import { html, thead } from "../html.js";
import { state } from "../state.js";
import { main, render, say } from "../ui.js";

const INVITE_HELP = {
  queued: "Waiting for its turn within the account's sending rate.",
  sending: "Being handed to the provider right now.",
  sent: "Accepted by the provider; delivery not yet confirmed.",
  delivered: "The recipient's mail server accepted it.",
  bounced:
    "The address does not take mail: " +
    "correct the user's email and import the row again, or send again.",
  complained: "The recipient marked the invite as spam.",
  failed: "The provider refused it for good (the reason is its code).",
  unconfirmed:
    "The provider's answer never came (a timeout, or the sender stopped): it may have gone out. " +
    "Send it again if the user has none.",
  cancelled:
    "Not sent: before it went, the device enrolled, its pre-approval lapsed, or it was " +
    "removed or given another invite (the reason says which). Renewed since? Send it again.",
};

const ACTION_DONE = {
  remove: "removed the pre-approval",
  reset: "reset the enrollment",
  unlock: "unlocked",
  renew: "renewed the pre-approval",
};

// [method, path suffix, question (%s: the serial number), the button that confirms]
const ACTIONS = {
  remove: [
    "DELETE",
    "",
    "Remove the pre-approval of %s? The device will be refused " +
      "while Pre-approved Devices Only is on, until it is imported again.",
    "Yes, remove",
  ],
  reset: [
    "POST",
    "/reset",
    "Reset the enrollment of %s? It becomes pre-approved again " +
      "(without an enrollment password) and may enroll once more.",
    "Yes, reset",
  ],
  unlock: [
    "POST",
    "/unlock",
    "Unlock %s? Its count of wrong passwords starts again from zero.",
    "Yes, unlock",
  ],
};

const SOURCE = {
  csv: "CSV import (or an approved attempt)",
  ade: "Apple ADE (Apple Business Manager)",
  enrollment: "none: it enrolled while enrollment was open",
};

// What Apple Business Manager says of the device, and the account that lists it.
function adeFacts(a) {
  const fact = (label, v) => (v ? html`<dt>${label}</dt><dd>${v}</dd>` : "");
  return html`<dt>ADE account</dt>
    <dd><a id="ade-account" href="#/ade/${encodeURIComponent(a.account)}">${a.account}</a></dd>
    ${fact("Model", a.model)}${fact("Description", a.description)}${fact("Color", a.color)}
    ${fact("Asset tag", a.asset_tag)}${fact("Assigned in ABM", a.device_assigned_date)}`;
}

const path = (serial, suffix = "") => `/devices/${encodeURIComponent(serial)}${suffix}`;

function facts(d, u) {
  const locked = d.locked_until
    ? html` · <strong class="warn">locked until ${when(d.locked_until)}</strong>`
    : "";
  return html`<dl class="facts">
      <dt>Serial number</dt><dd>${d.serial_number}</dd>
      <dt>Enrollment status</dt><dd><span class="badge ${d.status}">${label(d.status)}</span></dd>
      <dt>Platform</dt><dd>${d.platform}</dd>
      <dt>Source</dt><dd id="source">${SOURCE[d.source] || d.source}</dd>
      ${d.ade ? adeFacts(d.ade) : ""}
      <dt>Ownership</dt><dd>${d.ownership || "unknown"}</dd>
      <dt>Device groups</dt><dd>${(d.groups || []).join(", ") || "none"}</dd>
      <dt>User</dt><dd>${u ? `${u.name} <${u.email}>` : d.email || "none"}</dd>
      ${d.domain ? html`<dt>Domain</dt><dd>${d.domain}</dd>` : ""}
      <dt>Enrollment password</dt>
      <dd>${d.has_enrollment_password ? "set (stored as a keyed hash)" : "none"}</dd>
      ${
        d.status !== "enrolled"
          ? html`<dt>Pre-approval expires</dt>
            <dd id="expires">${d.expires_at ? when(d.expires_at) : "never"}</dd>`
          : ""
      }
      ${
        d.enrollment
          ? html`<dt>Enrolled</dt><dd>${when(d.enrollment.enrolled_at)} ${
              d.enrollment.method ? `via ${d.enrollment.method}` : ""
            }</dd>`
          : ""
      }
      ${
        d.failed_attempts
          ? html`<dt>Wrong passwords</dt><dd id="failed">${d.failed_attempts}${locked}</dd>`
          : ""
      }
    </dl>`;
}

function invite(i) {
  if (!i) {
    return html`<p class="muted">No invite was sent for this device
      (imported with Invite = none).</p>`;
  }
  const queued = when(new Date(i.queued_at * 1000).toISOString());
  const reason = i.reason ? html` <span class="muted">(${i.reason})</span>` : "";
  return html`<dl class="facts" id="invite">
      <dt>State</dt>
      <dd>${inviteBadge(i.state)}${reason}</dd>
      <dt>Sent by</dt><dd>${i.channel === "sms" ? "SMS" : "email"}</dd>
      <dt>Attempt</dt><dd>${i.attempt}, queued ${queued}</dd></dl>
    <p class="muted">${INVITE_HELP[i.state] || ""}</p>`;
}

function actions(v) {
  const resend = v.invite && v.status === "pre_approved";
  return html`<p class="actions">
      ${resend ? html`<button id="resend">Send the invite again</button>` : ""}
      ${v.failed_attempts ? html`<button data-action="unlock">Unlock</button>` : ""}
      ${
        v.status === "enrolled"
          ? html`<button data-action="reset">Reset enrollment</button>`
          : html`<button data-action="remove" class="danger">Remove pre-approval</button>`
      }
    </p>`;
}

function renewForm(d) {
  if (d.status === "enrolled") return "";
  const today = new Date().toISOString().slice(0, 10);
  const what = d.status === "expired" ? "Renew until" : "Change the expiry to";
  return html`<form id="renew-form" class="toolbar">
      <div><label for="renew-date">${what}</label>
        <input id="renew-date" name="date" type="date" min="${today}"></div>
      <div><label class="inline"><input type="checkbox" name="never" id="renew-never">
        Never expires</label></div>
      <div><button type="submit" id="renew">Renew pre-approval</button></div>
      <p class="muted">No date: the settings' default expiry (or none).
        A date holds to the end of that day (UTC).</p></form>`;
}

function audit(entries) {
  if (!entries.length) return html`<p class="muted">No administrator has changed this device.</p>`;
  const what = (e) =>
    e.action === "renew" ? ` until ${e.expires ? when(e.expires) : "never"}` : "";
  const row = (e) =>
    html`<tr><td>${when(e.at)}</td><td>${e.by}</td>
      <td>${ACTION_DONE[e.action]}${what(e)}</td></tr>`;
  return html`<table id="audit">${thead("When", "Who", "What")}
    <tbody>${entries.map(row)}</tbody></table>`;
}

export async function device(serial) {
  const v = await api("GET", path(serial));
  const d = v;
  render(
    html`<p><a href="#/devices">← Devices</a></p>
    <h1>${d.device_name || d.serial_number}</h1>
    ${v.banner ? html`<div class="banner" role="note">${v.banner}</div>` : ""}
    ${facts(d, v.user)}
    <h2>Enrollment invite</h2>
    ${invite(v.invite)}
    <h2>Location and hardware</h2>
    <p class="muted">${v.details_note || "Reported by the device since it enrolled."}</p>
    <h2>Administrator actions</h2>
    ${actions(v)}
    ${renewForm(d)}
    <div id="confirm-box"></div>
    <h3>Audit trail</h3>
    ${audit(v.audit)}`,
    d.serial_number,
  );
  // The ADE account by its name; its id stays if the account is gone.
  if (d.ade) {
    api("GET", `/ade/accounts/${encodeURIComponent(d.ade.account)}`).then(
      (a) => {
        const link = document.getElementById("ade-account");
        if (link) link.textContent = a.name;
      },
      () => {},
    );
  }
  for (const b of main.querySelectorAll("[data-action]")) {
    b.onclick = () => confirmAction(d.serial_number, b.dataset.action);
  }
  const renew = document.getElementById("renew-form");
  if (renew) {
    renew.onsubmit = async (e) => {
      e.preventDefault();
      const body = renew.never.checked
        ? { expires: null }
        : renew.date.value
          ? { expires: renew.date.value }
          : {};
      try {
        const out = await api("POST", path(d.serial_number, "/renew"), body);
        await device(d.serial_number);
        const until = out.expires_at ? `until ${when(out.expires_at)}` : "with no expiry";
        say(`${d.serial_number} is pre-approved ${until}.`);
      } catch (err) {
        if (err.status !== 401) say(`Not renewed: ${err.message}`, "error");
      }
    };
  }
  const resend = document.getElementById("resend");
  if (resend) {
    resend.onclick = async () => {
      resend.disabled = true;
      try {
        const out = await api("POST", path(d.serial_number, "/invite"));
        await device(d.serial_number);
        say(`A new invite is queued for ${d.serial_number} (attempt ${out.attempt}).`);
      } catch (err) {
        resend.disabled = false;
        // 429: the API says how long to wait (at most one invite a minute per device).
        if (err.status !== 401) {
          say(`Not sent: ${err.message}`, err.status === 429 ? "warn" : "error");
        }
      }
    };
  }
}

// Every change to a device asks first, in the page (no browser dialog).
function confirmAction(serial, action) {
  const [method, suffix, question, yes] = ACTIONS[action];
  const box = document.getElementById("confirm-box");
  box.innerHTML = html`<div class="card" role="alertdialog" aria-labelledby="confirm-q">
    <p id="confirm-q">${question.replace("%s", serial)}</p>
    <p><button id="confirm-yes" class="primary">${yes}</button>
      <button id="confirm-no">Cancel</button></p></div>`.s;
  document.getElementById("confirm-no").onclick = () => {
    box.innerHTML = "";
  };
  document.getElementById("confirm-yes").onclick = async () => {
    try {
      await api(method, path(serial, suffix));
      const done = `${serial}: ${ACTION_DONE[action]}.`;
      if (action === "remove") {
        state.flash = [done];
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
