// Settings: the enrollment restriction, the upload defaults, and their history.
import { api } from "../api.js";
import { when } from "../format.js";
import { html, option, raw, thead } from "../html.js";
import { render, say } from "../ui.js";

function changes(items) {
  const change = (c) => `${c.field}: ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`;
  const row = (h) =>
    html`<tr><td>${when(h.at)}</td><td>${h.by}</td>
      <td>${h.changes.map(change).join("; ")}</td></tr>`;
  return html`<div class="scroll"><table>${thead("When", "Who", "Change")}<tbody>
      ${items.map(row)}
    </tbody></table></div>`;
}

export async function settings() {
  const [s, hist] = await Promise.all([api("GET", "/settings"), api("GET", "/settings/history")]);
  render(
    html`<h1>Settings</h1>
    <form id="settings">
      <fieldset><legend>Enrollment Restrictions</legend>
        <label class="inline"><input type="checkbox" name="pre_approved_only" id="pre-approved-only"
          ${raw(s.pre_approved_only ? "checked" : "")}> Pre-approved Devices Only</label>
        <p class="muted">When checked, only devices imported as pre-approved (exact serial number,
          same platform, and their enrollment password if they have one) can enroll.</p>
      </fieldset>
      <fieldset><legend>Defaults for uploads</legend>
        <label for="default_invite">Send enrollment requests by</label>
        <select id="default_invite" name="default_invite">
          ${option("email", s.default_invite, "Email")}
          ${option("sms", s.default_invite, "SMS")}
          ${option("none", s.default_invite, "Do not send")}</select>
        <label for="default_existing_users">Users who already exist</label>
        <select id="default_existing_users" name="default_existing_users">
          ${option("skip", s.default_existing_users, "Skip them")}
          ${option("replace", s.default_existing_users, "Replace them")}</select>
        <label for="default_on_error">Rows with errors</label>
        <select id="default_on_error" name="default_on_error">
          ${option("reject-file", s.default_on_error, "Reject the whole file")}
          ${option("skip-invalid-rows", s.default_on_error, "Import the valid rows")}</select>
        <label for="invite_sender">Invite sender address</label>
        <input id="invite_sender" name="invite_sender" type="email" value="${s.invite_sender || ""}"
          placeholder="deployment default">
        <label for="enrollment_url">Enrollment URL in invites</label>
        <input id="enrollment_url" name="enrollment_url" type="url"
          value="${s.enrollment_url || ""}" placeholder="deployment default">
        <label for="default_expiry_days">Pre-approvals expire after (days)</label>
        <input id="default_expiry_days" name="default_expiry_days" type="number" min="1" max="3650"
          step="1" value="${s.default_expiry_days ?? ""}" placeholder="never">
        <p class="muted">For rows without their own Expires date, unless the upload says otherwise.
          Empty: pre-approvals do not expire. Enrolled devices never expire.</p>
      </fieldset>
      <p><button class="primary" type="submit">Save</button></p>
    </form>
    <h2>Changes</h2>
    ${changes(hist.items)}`,
    "Settings",
  );
  document.getElementById("settings").onsubmit = async (e) => {
    e.preventDefault();
    const f = e.target;
    say("Saving…");
    try {
      await api("PUT", "/settings", {
        pre_approved_only: f.pre_approved_only.checked,
        default_invite: f.default_invite.value,
        default_existing_users: f.default_existing_users.value,
        default_on_error: f.default_on_error.value,
        invite_sender: f.invite_sender.value.trim(),
        enrollment_url: f.enrollment_url.value.trim(),
        default_expiry_days: f.default_expiry_days.value
          ? Number(f.default_expiry_days.value)
          : null,
      });
      await settings();
      say("Settings saved.");
    } catch (err) {
      if (err.status !== 401) say(`Not saved: ${err.message}`, "error");
    }
  };
}
