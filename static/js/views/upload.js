// The guided upload, in the seeds' three steps: choose the file, check its
// rows (and the column mapping), send the enrollment requests.
import { api } from "../api.js";
import { byColumn, label } from "../format.js";
import { html, option, raw, thead } from "../html.js";
import { main, pause, render, say } from "../ui.js";

// The columns a whole file may take one value for, and the values (exact, as a cell's).
const FILLABLE = [
  ["Ownership", ["personal", "corporate"]],
  ["Platform", ["android", "ios", "macos", "tvos", "linux"]],
];
// A fill select's value for "each row's proposal from this column".
const FROM = "from:";

const FIELDS = [
  ["", "(ignore)"],
  ["name", "Name"],
  ["email", "Email"],
  ["ownership", "Ownership"],
  ["serial_number", "Serial Number"],
  ["platform", "Platform"],
  ["sam_account_name", "SAMAccountName"],
  ["mobile", "Mobile"],
  ["device_name", "Device Name"],
  ["password", "Password"],
  ["device_group", "Device Group"],
  ["expires", "Expires"],
];

// One file's choices, kept across the steps and the preview's pages. The
// upload defaults (the settings) are read once and kept for the next files.
const fresh = () => ({
  key: null,
  fileName: null,
  mapping: {},
  // What fills a column the file lacks: one value for every row (Ownership,
  // Platform), or for Platform {from: column}, each row's proposal from it.
  columnDefaults: {},
  excluded: new Set(),
  invalid: new Set(),
  page: 1,
  preview: null,
});
const wizard = { ...fresh(), defaults: null };

function steps(n) {
  const names = ["Choose the file", "Check the rows", "Send enrollment requests"];
  return html`<ol class="steps">${names.map(
    (t, i) => html`<li ${raw(i + 1 === n ? 'aria-current="step"' : "")}>${i + 1}. ${t}</li>`,
  )}</ol>`;
}

export async function upload() {
  Object.assign(wizard, fresh());
  render(
    html`<h1>Pre-approve devices</h1>${steps(1)}
    <form id="pick" class="card">
      <label for="file">Device list (CSV exported from a spreadsheet)</label>
      <input id="file" name="file" type="file" accept=".csv,text/csv" required>
      <p class="muted">Columns: Name, Email, Ownership, Serial Number, Platform (mandatory);
        SAMAccountName, Mobile, Device Name, Password, Device Group (optional).
        Values are case-sensitive.</p>
      <p><button class="primary" type="submit">Next</button>
        <button type="button" id="sample">Download sample CSV</button></p>
    </form>`,
    "Pre-approve devices",
  );
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

// A fill's select value: the value itself, or FROM and the column it is proposed from.
const fillValue = (fill) => (fill?.from ? FROM + fill.from : (fill ?? ""));

// Columns whose cells say each row's platform (Jamf's Device Type, a model, an OS):
// offered for Platform as proposals the admin sees in the preview before sending.
function proposalHint(sources) {
  if (!sources.length) return "";
  const names = sources.map((c) => `‘${c}’`).join(" or ");
  return html`<p class="warn" id="proposal-hint">The file's ${names} column can propose each
    row's platform: choose “proposed from” for Platform below, then check the proposals
    row by row before sending.</p>`;
}

// The admin's own choice for a header first, else the mapping the API guessed.
function mappingForm(headers, guessed, sources = []) {
  const current = (h) =>
    h in wizard.mapping
      ? (wizard.mapping[h] ?? "")
      : (Object.entries(guessed || {}).find(([, t]) => t === h)?.[0] ?? "");
  const row = (h, i) => html`<tr><td><label for="map-${i}">${h}</label></td>
    <td><select id="map-${i}" data-header="${h}">
      ${FIELDS.map(([v, t]) => option(v, current(h), t))}</select></td></tr>`;
  const fill = ([field, values]) => {
    const chosen = fillValue(wizard.columnDefaults[field]);
    const proposals =
      field === "Platform"
        ? sources.map((c) => option(FROM + c, chosen, `proposed from ‘${c}’, row by row`))
        : [];
    return html`<label class="inline" for="fill-${field}">${field}
    <select id="fill-${field}" data-fill="${field}" aria-label="${field}">
      ${option("", chosen, "from the file")}${proposals}
      ${values.map((v) => option(v, chosen, v))}</select></label>`;
  };
  return html`<fieldset><legend>Columns</legend><div class="scroll"><table>
    ${thead("Column in the file", "Field")}<tbody>
    ${headers.filter((h) => h).map(row)}
    </tbody></table></div>
    <p>A file without one of these columns can give every row the same value:
      ${FILLABLE.map(fill)}</p>
    <button type="button" id="remap">Apply mapping</button></fieldset>`;
}

function bindMapping() {
  document.getElementById("remap").onclick = async () => {
    for (const sel of main.querySelectorAll("select[data-header]")) {
      wizard.mapping[sel.dataset.header] = sel.value || null;
    }
    wizard.columnDefaults = {};
    for (const sel of main.querySelectorAll("select[data-fill]")) {
      const v = sel.value;
      if (!v) continue;
      wizard.columnDefaults[sel.dataset.fill] = v.startsWith(FROM)
        ? { from: v.slice(FROM.length) }
        : v;
    }
    wizard.page = 1;
    await previewStep();
  };
}

const PREVIEW_COLUMNS = [
  "Import",
  "Row",
  "Name",
  "Email",
  "Serial number",
  "Platform",
  "Ownership",
  "Device name",
  "Check",
];

function previewRow(r) {
  const off = wizard.excluded.has(r.row);
  const c = r.cells;
  const exists = r.existing_user ? html` <span class="muted">(exists)</span>` : "";
  const known = r.existing_device
    ? html` <span class="badge ${r.existing_device}">${label(r.existing_device)}</span>`
    : "";
  const check = [
    r.valid ? html`<span class="ok">OK</span>` : "",
    ...r.errors.map((e) => html`<span class="issue">${e.column}: ${e.message}</span>`),
  ];
  return html`<tr class="${r.valid ? "" : "invalid"} ${off ? "excluded" : ""}" data-row="${r.row}">
      <td><input type="checkbox" aria-label="Import row ${r.row}" data-row="${r.row}"
        ${raw(off ? "" : "checked")}></td>
      <td>${r.row}</td><td>${c.name}</td><td>${c.email}${exists}</td>
      <td>${c.serial_number}${known}</td>
      <td>${platformCell(r)}</td><td>${c.ownership}</td><td>${c.device_name || ""}</td>
      <td>${check}</td></tr>`;
}

// The row's platform; a proposal shows the cell it came from, or that there is none.
function platformCell(r) {
  const p = r.proposal;
  if (!p) return r.cells.platform;
  const from = html` <span class="muted">(‘${p.value}’)</span>`;
  return p.platform ? html`${p.platform}${from}` : html`<span class="issue">none</span>${from}`;
}

// What each value of the column Platform is taken from proposes, over the whole file.
function proposals(p) {
  const t = p.platform_proposals;
  if (!t) return "";
  const row = (v) => html`<tr><td>${v.value || "(empty)"}</td>
    <td>${v.platform ?? html`<span class="issue">no proposal</span>`}</td>
    <td class="num">${v.rows}</td></tr>`;
  const other = t.other_rows
    ? html`<tr><td class="muted">other values</td><td></td><td class="num">${t.other_rows}</td></tr>`
    : "";
  const none = t.without
    ? html`<p class="warn">${t.without} row(s) have no proposal: each is listed with its error;
        correct the cell or uncheck the row.</p>`
    : "";
  return html`<section id="proposals" aria-label="Platform proposals">
    <h2>Platforms proposed from ‘${t.column}’</h2>
    <table>${thead(`${t.column}`, "Platform", "Rows")}<tbody>${t.values.map(row)}${other}</tbody>
    </table>${none}
    <p class="muted">Sending the file confirms these platforms; to change them, choose
      another Platform in the column mapping.</p></section>`;
}

function previewSummary(p) {
  const where = p.errors_total ? ` (by column: ${byColumn(p.error_totals)})` : "";
  const ignored = p.columns.ignored;
  const format = p.columns.format ? `Recognised as a ${p.columns.format} file. ` : "";
  const notes = p.columns.notes.map((n) => html`<li>${n}</li>`);
  return html`<p>${wizard.fileName}: ${p.rows_total} rows, ${p.valid_rows} valid,
      ${p.errors_total} errors${where}.
      ${format}Read as <strong>${p.dialect.encoding}</strong>,
      separated by <strong>${p.dialect.delimiter}</strong>.
      ${ignored.length ? `Ignored columns: ${ignored.join(", ")}.` : ""}</p>
    ${notes.length ? html`<ul class="warn">${notes}</ul>` : ""}`;
}

function duplicates(p) {
  const groups = p.duplicate_emails;
  if (!groups.length) return "";
  const rows = groups.map((g) => `${g.email}: rows ${g.rows.join(", ")}`).join("; ");
  return html`<p class="warn">${groups.length} email(s) appear on several rows:
    the user's details come from the last of them,
    and every row still gets its own enrollment request (${rows}).</p>`;
}

function previewPager(p) {
  if (p.pages <= 1) return "";
  return html`<p>Page ${p.page} of ${p.pages}
    <button id="prev" ${raw(p.page <= 1 ? "disabled" : "")}>Previous</button>
    <button id="next" ${raw(p.page >= p.pages ? "disabled" : "")}>Next page</button></p>`;
}

async function previewStep() {
  let p;
  try {
    p = await api("POST", "/imports/preview", {
      key: wizard.key,
      mapping: wizard.mapping,
      column_defaults: wizard.columnDefaults,
      page: wizard.page,
      page_size: 100,
    });
  } catch (err) {
    if (err.status === 422) {
      render(
        html`<h1>Pre-approve devices</h1>${steps(2)}
        <p class="error" role="alert">${err.message}</p>
        ${proposalHint(err.body.platform_sources || [])}
        <p>Tell which column holds each field:</p>
        ${mappingForm(err.body.headers || [], err.body.mapping, err.body.platform_sources || [])}`,
        "Check the rows",
      );
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
  const uncheckedBad = () => [...wizard.excluded].filter((n) => wizard.invalid.has(n)).length;
  const checkedBad = () => p.rows_total - p.valid_rows - uncheckedBad();
  render(
    html`<h1>Pre-approve devices</h1>${steps(2)}
    ${previewSummary(p)}
    ${duplicates(p)}
    ${proposals(p)}
    <details><summary>Column mapping</summary>
      ${mappingForm(p.columns.headers, p.columns.mapping, p.columns.platform_sources)}</details>
    <p>Uncheck the rows that should not be imported.</p>
    <div class="scroll"><table id="rows">
      ${thead(...PREVIEW_COLUMNS)}
      <tbody>${p.rows.map(previewRow)}</tbody></table></div>
    ${previewPager(p)}
    <p id="bad-left" class="warn"></p>
    <p><button type="button" id="back">Back</button>
      <button class="primary" type="button" id="to-send">Next</button></p>`,
    "Check the rows",
  );
  bindMapping();
  const badLeft = () => {
    const n = checkedBad();
    document.getElementById("bad-left").textContent = n
      ? `${n} row(s) with errors are still checked: uncheck them, ` +
        "or choose to import only the valid rows in the next step."
      : "";
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
    document.getElementById("prev").onclick = () => {
      wizard.page -= 1;
      previewStep();
    };
    document.getElementById("next").onclick = () => {
      wizard.page += 1;
      previewStep();
    };
  }
  document.getElementById("to-send").onclick = () => sendStep(checkedBad());
}

const radio = (name, value, current, text) =>
  html`<label class="inline"><input type="radio" name="${name}" value="${value}"
    ${raw(value === current ? "checked" : "")}> ${text}</label>`;

async function sendStep(badChecked) {
  wizard.defaults ||= await api("GET", "/settings");
  const s = wizard.defaults;
  const p = wizard.preview;
  const kept = p.rows_total - wizard.excluded.size;
  const existing = p.rows.filter(
    (r) => !wizard.excluded.has(r.row) && (r.existing_user || r.existing_device),
  ).length;
  const also = existing
    ? `; ${existing} of the rows shown belong to users or devices that already exist`
    : "";
  // The default for rows with errors applies only when some are still checked.
  const onError = badChecked ? s.default_on_error : "reject-file";
  const from = p.columns.proposed_from.platform;
  const confirmed = from
    ? html`<p id="platform-confirmed">Platform: each row's proposal from ‘${from}’,
        as previewed.</p>`
    : "";
  render(
    html`<h1>Pre-approve devices</h1>${steps(3)}
    <form id="send" class="card">
      <p>${kept} row(s) will be imported${also}.</p>${confirmed}
      <fieldset><legend>Users who already exist</legend>
        ${[
          radio("existing_users", "skip", s.default_existing_users, "Skip them"),
          radio("existing_users", "replace", s.default_existing_users, "Replace them"),
        ]}</fieldset>
      <fieldset><legend>Send enrollment request via</legend>
        ${[
          radio("invite", "email", s.default_invite, "Email"),
          radio("invite", "sms", s.default_invite, "SMS"),
          radio("invite", "none", s.default_invite, "Do not send"),
        ]}</fieldset>
      <fieldset><legend>Rows with errors</legend>
        ${[
          radio("on_error", "reject-file", onError, "Reject the whole file"),
          radio("on_error", "skip-invalid-rows", onError, "Import only the valid rows"),
        ]}</fieldset>
      <label for="domain">Domain (optional)</label><input id="domain" name="domain" type="text">
      <label for="expires_in_days">Pre-approvals expire after
        (days; rows with their own Expires date keep it)</label>
      <input id="expires_in_days" name="expires_in_days" type="number" min="0" max="3650" step="1"
        value="${s.default_expiry_days ?? ""}" placeholder="never">
      <p class="muted">Empty or 0: they do not expire.</p>
      <p><button type="button" id="back">Back</button>
        <button class="primary" type="submit">Send</button></p>
    </form>
    <section id="progress-box" hidden><h2>Import</h2>
      <progress id="progress" max="1" value="0" aria-label="Import progress"></progress>
      <p id="progress-text" aria-live="polite"></p></section>`,
    "Send enrollment requests",
  );
  document.getElementById("back").onclick = previewStep;
  document.getElementById("send").onsubmit = async (e) => {
    e.preventDefault();
    const f = e.target;
    const body = {
      key: wizard.key,
      mapping: wizard.mapping,
      column_defaults: wizard.columnDefaults,
      exclude_rows: [...wizard.excluded].sort((a, b) => a - b),
      existing_users: f.existing_users.value,
      invite: f.invite.value,
      on_error: f.on_error.value,
      domain: f.domain.value.trim() || undefined,
      file_name: wizard.fileName,
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
  const bar = document.getElementById("progress");
  const text = document.getElementById("progress-text");
  for (;;) {
    let st = null;
    try {
      st = await api("GET", `/imports/${id}`);
    } catch (err) {
      // The import is queued before it has a record to read.
      if (err.status !== 404) throw err;
    }
    if (st) {
      const g = st.progress;
      bar.value = g.fraction;
      const done = `${g.rows_validated} validated, ${g.rows_written} written`;
      text.textContent = `${label(st.status)}: ${done}, ${g.rows_invited} invited.`;
      if (["completed", "rejected", "failed"].includes(st.status)) {
        const n = st.counts;
        text.innerHTML = html`Import <strong id="final-status">${st.status}</strong>:
          ${n.devices_written} devices, ${n.users_written} users,
          ${n.invites_queued} invites queued. <a href="#/imports/${id}">Details</a>`.s;
        return;
      }
    } else {
      text.textContent = "Queued…";
    }
    await pause();
  }
}
