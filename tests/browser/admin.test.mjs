// The admin page in real headless Chromium (Debian's, from apt) against the
// local stack: run by `make browser` through `infra/stack.py run`, which
// exports ADMIN_URL, ADMISSION_URL and the admin login. Screenshots of each
// step go to tests/browser/artifacts/ (git-ignored).

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { test } from "node:test";
import { chromium } from "playwright-core";

const env = process.env;
for (const name of [
  "ADMIN_URL",
  "ADMISSION_URL",
  "ENROLLMENTS_URL",
  "ADMIN_USERNAME",
  "ADMIN_PASSWORD",
  "ADE_SIMULATOR_URL",
  "LAMBDA_INVOKE_URL",
]) {
  if (!env[name])
    throw new Error(`${name} is not set: run with \`make browser\`, which starts the local stack`);
}
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });
const CHROMIUM = env.CHROMIUM || "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let shots = 0;
const shot = (page, name) =>
  page.screenshot({
    path: `${ARTIFACTS}${String(++shots).padStart(2, "0")}-${name}.png`,
    fullPage: true,
  });

async function admit(body) {
  const r = await fetch(env.ADMISSION_URL, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200);
  return r.json();
}

/** An admission request as API Gateway hands it over from `sourceIp` (the function URL's is always the host's). */
async function admitFrom(sourceIp, body) {
  const path = "/v1/admission";
  const event = {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: { "content-type": "application/json", host: "localhost" },
    requestContext: {
      accountId: "123456789012",
      apiId: "local",
      domainName: "localhost",
      domainPrefix: "admission",
      http: { method: "POST", path, protocol: "HTTP/1.1", sourceIp, userAgent: "browser-tests" },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: "01/Jan/2026:00:00:00 +0000",
      timeEpoch: 0,
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
  const r = await fetch(`${env.LAMBDA_INVOKE_URL}/2015-03-31/functions/admission/invocations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(event),
  });
  assert.equal(r.status, 200);
  const answer = await r.json();
  assert.equal(answer.statusCode, 200, JSON.stringify(answer));
  return JSON.parse(answer.body);
}

async function setRestriction(page, on) {
  await page.getByRole("link", { name: "Settings" }).click();
  const box = page.getByLabel("Pre-approved Devices Only");
  await box.waitFor();
  await box.setChecked(on);
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Settings saved.").waitFor();
  assert.equal(await page.getByLabel("Pre-approved Devices Only").isChecked(), on);
}

async function signIn(page) {
  await page.goto(env.ADMIN_URL);
  await page.getByLabel("Username").fill(env.ADMIN_USERNAME);
  await page.getByLabel("Password").fill(env.ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
}

/** Runs a scenario in a fresh page (with a fresh id for its data); script and CSP errors fail it. */
async function inBrowser(scenario) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  const problems = [];
  try {
    const page = await browser.newPage();
    watch(page, problems);
    await scenario(page, randomUUID().slice(0, 8));
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
}

function watch(page, problems) {
  page.setDefaultTimeout(20_000);
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // Failed fetches (a 404 while an import is queued, a 429 the page explains) are expected; script and CSP errors are not.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource"))
      problems.push(m.text());
  });
}

test(
  "an admin signs in, restricts enrollment, pre-approves a file and approves a blocked device",
  { timeout: 180_000 },
  () =>
    inBrowser(async (page, u) => {
      await signIn(page);
      await page.getByRole("img", { name: "Devices by platform and enrollment status" }).waitFor();
      await shot(page, "signed-in-overview");

      // The "Pre-approved Devices Only" switch, and the admission endpoint honouring it.
      await setRestriction(page, true);
      await shot(page, "restriction-on");
      assert.equal(
        (await admit({ serial_number: `${u}-NEW`, platform: "ios" })).reason,
        "not_allowed",
      );
      await setRestriction(page, false);
      assert.equal(
        (await admit({ serial_number: `${u}-NEW`, platform: "ios" })).reason,
        "open_enrollment",
      );
      await setRestriction(page, true);

      // The guided upload: a file with one bad row; see the error, uncheck it, send.
      const csv = [
        "Name,Email,Ownership,Serial Number,Platform,Device Group,Password",
        `Ann Lee,${u}-ann@example.com,corporate,${u}-D1,ios,Sales,Enroll-7421`,
        `Bob Roe,${u}-bob@example.com,Corporate,${u}-D2,android,,`,
        `Cy Poe,${u}-cy@example.com,personal,${u}-D3,macos,,`,
      ].join("\r\n");
      await page.getByRole("link", { name: "Pre-approve", exact: true }).click();
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Download sample CSV" }).click(),
      ]);
      assert.equal(download.suggestedFilename(), "pre-approved-devices-sample.csv");
      const sample = await new Response(await download.createReadStream()).text();
      assert.match(sample, /^Name,Email,Ownership,Serial Number,Platform,/);
      assert.equal(sample.trim().split(/\r?\n/).length, 3, "header and two example rows");
      await page.getByLabel("Device list (CSV exported from a spreadsheet)").setInputFiles({
        name: `${u}-devices.csv`,
        mimeType: "text/csv",
        buffer: Buffer.from(csv),
      });
      await page.getByRole("button", { name: "Next" }).click();
      const badRow = page.locator("tr.invalid", { hasText: `${u}-D2` });
      await badRow.getByText("did you mean 'corporate'").waitFor();
      await page.getByText("1 row(s) with errors are still checked").waitFor();
      await shot(page, "preview-with-error");
      await page.getByLabel("Import row 3").uncheck();
      await page.getByText("1 row(s) with errors are still checked").waitFor({ state: "hidden" });
      await page.getByRole("button", { name: "Next" }).click();
      await page.getByLabel("Skip them").check();
      await page.getByLabel("Do not send").check();
      await shot(page, "send-options");
      await page.getByRole("button", { name: "Send" }).click();
      await page.locator("#final-status", { hasText: "completed" }).waitFor({ timeout: 90_000 });
      assert.equal(await page.locator("#progress").evaluate((p) => p.value), 1);
      await shot(page, "import-completed");

      // Filter the device list to pre-approved, find the device, open it: the banner.
      await page.getByRole("link", { name: "Devices" }).click();
      await page.getByLabel("Filter by: Enrollment Status").selectOption("pre_approved");
      await page.getByLabel("Search serial number or email").fill(`${u}-`);
      await page.getByRole("button", { name: "Apply" }).click();
      await page.getByRole("link", { name: `${u}-D1` }).waitFor();
      assert.equal(
        await page.getByRole("link", { name: `${u}-D2` }).count(),
        0,
        "the unchecked row was not imported",
      );
      await shot(page, "devices-pre-approved");

      // Export what the list shows (pre-approved, this serial prefix): D1 and D3, in the import's columns.
      await page.getByRole("button", { name: "Export CSV" }).click();
      const exported = page.getByRole("link", { name: "Download 2 devices (CSV)" });
      await exported.waitFor({ timeout: 60_000 });
      const file = await (await fetch(await exported.getAttribute("href"))).text();
      const lines = file
        .replace(/^\uFEFF/, "")
        .trim()
        .split("\r\n");
      assert.equal(
        lines[0],
        "Name,Email,Ownership,Serial Number,Platform,SAMAccountName,Mobile,Device Name,Device Group,Expires",
      );
      assert.equal(lines.length, 3, file);
      assert.ok(lines[1].includes(`,${u}-D1,ios,`) && lines[2].includes(`,${u}-D3,macos,`), file);
      await shot(page, "devices-exported");
      await page.getByRole("link", { name: `${u}-D1` }).click();
      await page.getByRole("note").filter({ hasText: "Pre-approved Device" }).waitFor();
      await page.getByText("appear only after the device enrolls").waitFor();
      await shot(page, "device-banner");

      // Five wrong passwords lock it; the admin unlocks it (confirmed, audited).
      const d1 = { serial_number: `${u}-D1`, platform: "ios" };
      for (let i = 0; i < 5; i++)
        assert.equal((await admit({ ...d1, password: "guess" })).reason, "not_allowed");
      assert.equal(
        (await admit({ ...d1, password: "Enroll-7421" })).reason,
        "not_allowed",
        "locked",
      );
      await page.reload();
      await page.getByText("locked until").waitFor();
      await page.getByRole("button", { name: "Unlock" }).click();
      await page.getByRole("alertdialog").getByText(`Unlock ${u}-D1?`).waitFor();
      await shot(page, "device-unlock-confirm");
      await page.getByRole("button", { name: "Yes, unlock" }).click();
      await page.getByText(`${u}-D1: unlocked.`).waitFor();
      await page.locator("#audit").getByText("unlocked").waitFor();
      const allowed = await admit({ ...d1, password: "Enroll-7421" });
      assert.equal(allowed.reason, "pre_approved");

      // It enrolls; the admin resets it so it may enroll again, then removes its pre-approval.
      const done = await fetch(env.ENROLLMENTS_URL, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...d1, enrollment_token: allowed.enrollment_token }),
      });
      assert.equal(done.status, 200);
      await page.reload();
      await page.getByRole("button", { name: "Reset enrollment" }).click();
      await page.getByRole("button", { name: "Yes, reset" }).click();
      await page.getByText(`${u}-D1: reset the enrollment.`).waitFor();
      await page.getByRole("note").filter({ hasText: "Pre-approved Device" }).waitFor();
      await page.getByRole("button", { name: "Remove pre-approval" }).click();
      await page.getByRole("button", { name: "Cancel" }).click();
      await page.getByRole("alertdialog").waitFor({ state: "hidden" });
      await page.getByRole("button", { name: "Remove pre-approval" }).click();
      await page.getByRole("button", { name: "Yes, remove" }).click();
      await page.getByText(`${u}-D1: removed the pre-approval.`).waitFor();
      await shot(page, "device-removed");
      assert.equal((await admit({ ...d1, password: "Enroll-7421" })).reason, "not_allowed");

      // A blocked attempt, approved from the page; admission then allows it.
      const blocked = {
        serial_number: `${u}-BLOCKED`,
        platform: "android",
        enrollment_method: "zero_touch",
        os_version: "14",
      };
      assert.equal((await admit(blocked)).reason, "not_allowed");
      await page.getByRole("link", { name: "Blocked attempts" }).click();
      const row = page.locator("tr", { hasText: `${u}-BLOCKED` });
      await row.getByRole("button", { name: "Approve" }).click();
      await page.getByLabel("User's name").fill("Dee Blocked");
      await page.getByLabel("User's email").fill(`${u}-dee@example.com`);
      await page.getByLabel("Send enrollment request via").selectOption("none");
      await page.getByRole("button", { name: "Pre-approve and invite" }).click();
      await page.getByText(`${u}-BLOCKED is pre-approved`).waitFor();
      await row.getByText("approved by").waitFor();
      assert.equal((await row.locator("td.num").textContent()).trim(), "1", "the attempt counter");
      await shot(page, "blocked-approved");
      const after = await admit(blocked);
      assert.equal(after.decision, "allow");
      assert.equal(after.reason, "pre_approved");

      await setRestriction(page, false);
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByText("Signed out.").waitFor();
      await page.getByLabel("Username").waitFor();
    }),
);

test(
  "the page shows where each invite stands, filters by it and resends at most once a minute",
  { timeout: 180_000 },
  () =>
    inBrowser(async (page, u) => {
      // The emulator's SES refuses Bob's address for good, as the SES sandbox refuses an unverified one.
      const refused = await fetch(`${env.AWS_ENDPOINT_URL}/moto-api/static/ses/account`, {
        method: "POST",
        body: JSON.stringify({ reject: [`${u}-bob@example.com`] }),
      });
      assert.equal(refused.status, 200);
      await signIn(page);

      const csv = [
        "Name,Email,Ownership,Serial Number,Platform",
        `Ann Lee,${u}-ann@example.com,corporate,${u}-D1,ios`,
        `Bob Roe,${u}-bob@example.com,corporate,${u}-D2,ios`,
      ].join("\r\n");
      await page.getByRole("link", { name: "Pre-approve", exact: true }).click();
      await page.getByLabel("Device list (CSV exported from a spreadsheet)").setInputFiles({
        name: `${u}-invites.csv`,
        mimeType: "text/csv",
        buffer: Buffer.from(csv),
      });
      await page.getByRole("button", { name: "Next" }).click();
      await page.locator("tr", { hasText: `${u}-D2` }).waitFor();
      await page.getByRole("button", { name: "Next" }).click();
      await page.locator("input[name=invite][value=email]").check();
      await page.getByRole("button", { name: "Send" }).click();
      await page.locator("#final-status", { hasText: "completed" }).waitFor({ timeout: 90_000 });
      await page.getByText("2 invites queued").waitFor();

      // The import's page counts invites by state once the sender has been through them.
      await page.getByRole("link", { name: "Details" }).click();
      const tally = page.locator("#invite-tally");
      for (let i = 0; ; i++) {
        await tally.waitFor();
        const [sent, failed] = await Promise.all(
          ["sent", "failed"].map((s) => tally.locator(`td[data-state=${s}]`).textContent()),
        );
        if (sent === "1" && failed === "1") break;
        assert.ok(i < 60, `invites still sent ${sent}, failed ${failed}`);
        await new Promise((r) => setTimeout(r, 1000));
        await page.reload();
      }
      await page.getByRole("button", { name: "Resend 1 bounced, failed or unconfirmed" }).waitFor();
      await shot(page, "import-invite-states");

      // The device list filtered to failed invites shows Bob's device, not Ann's.
      await page.getByRole("link", { name: "Devices" }).click();
      await page.getByLabel("Invite").selectOption("failed");
      await page.getByRole("link", { name: `${u}-D2` }).waitFor();
      assert.equal(await page.getByRole("link", { name: `${u}-D1` }).count(), 0);
      assert.equal(
        await page
          .locator("tr", { hasText: `${u}-D2` })
          .locator(".badge.invite-failed")
          .textContent(),
        "failed",
      );
      await shot(page, "devices-invite-failed");

      // Its page: the state with the provider's code, and a resend refused within the minute.
      await page.getByRole("link", { name: `${u}-D2` }).click();
      await page.locator("#invite").getByText("failed").waitFor();
      await page.locator("#invite").getByText("(MessageRejected)").waitFor();
      await page.getByRole("button", { name: "Send the invite again" }).click();
      await page.getByText("less than a minute ago").waitFor();
      await shot(page, "device-invite-resend-too-soon");
    }),
);

// Issue 29: a device list from another tool, in one round. Jamf Pro's Inventory Preload template has
// neither Ownership nor Platform: Ownership is filled for the whole file, and each row's platform is
// proposed from its Device Type, checked in the preview and confirmed by sending.
test(
  "a Jamf Pro preload file imports with Ownership for every row and platforms confirmed from Device Type",
  { timeout: 180_000 },
  () =>
    inBrowser(async (page, u) => {
      await signIn(page);
      const csv = [
        "Serial Number,Device Type,Username,Full Name,Email Address,Phone Number,Position," +
          "Department,Building,Room,PO Number,Vendor,Asset Tag",
        `${u}-C1,Computer,jdoe,Jane Doe,${u}-jane@example.com,,Engineer,R&D,HQ,3.14,PO-1,Apple,A-1`,
        `${u}-M1,Mobile Device,rroe,Richard Roe,${u}-rick@example.com,,Sales,Sales,HQ,2.01,PO-2,Apple,A-2`,
        `${u}-T1,Apple TV,,Lobby Display,${u}-av@example.com,,,Facilities,HQ,Lobby,PO-3,Apple,A-3`,
      ].join("\r\n");
      await page.getByRole("link", { name: "Pre-approve", exact: true }).click();
      await page.getByLabel("Device list (CSV exported from a spreadsheet)").setInputFiles({
        name: `${u}-jamf-preload.csv`,
        mimeType: "text/csv",
        buffer: Buffer.from(csv),
      });
      await page.getByRole("button", { name: "Next" }).click();

      // One report: what is missing, and where the platforms could come from; nothing guessed yet.
      await page
        .getByRole("alert")
        .getByText("missing mandatory column(s): Ownership, Platform", { exact: false })
        .waitFor();
      await page.locator("#proposal-hint", { hasText: "‘Device Type’" }).waitFor();
      await shot(page, "jamf-missing-columns");
      await page.getByLabel("Ownership", { exact: true }).selectOption("corporate");
      await page
        .getByLabel("Platform", { exact: true })
        .selectOption({ label: "proposed from ‘Device Type’, row by row" });
      await page.getByRole("button", { name: "Apply mapping" }).click();

      // The preview: the format, each value's proposal over the file, and each row's.
      await page.getByText("Recognised as a Jamf Pro Inventory Preload file.").waitFor();
      const totals = page.getByRole("region", { name: "Platform proposals" });
      for (const [value, platform] of [
        ["Computer", "macos"],
        ["Mobile Device", "ios"],
        ["Apple TV", "tvos"],
      ]) {
        const cells = totals.locator("tr", { hasText: value }).locator("td");
        assert.deepEqual(await cells.allTextContents(), [value, platform, "1"]);
      }
      for (const [serial, platform, from] of [
        [`${u}-C1`, "macos", "Computer"],
        [`${u}-M1`, "ios", "Mobile Device"],
        [`${u}-T1`, "tvos", "Apple TV"],
      ]) {
        const row = page.locator("#rows tr", { hasText: serial });
        assert.equal(
          (await row.locator("td").nth(5).textContent()).replace(/\s+/g, " ").trim(),
          `${platform} (‘${from}’)`,
        );
        assert.equal(await row.locator("td").nth(6).textContent(), "corporate");
      }
      assert.equal(await page.locator("#rows tr.invalid").count(), 0);
      await shot(page, "jamf-platform-proposals");

      // Sending confirms them.
      await page.getByRole("button", { name: "Next" }).click();
      await page.locator("#platform-confirmed", { hasText: "‘Device Type’" }).waitFor();
      await page.getByLabel("Do not send").check();
      await page.getByRole("button", { name: "Send" }).click();
      await page.locator("#final-status", { hasText: "completed" }).waitFor({ timeout: 90_000 });
      await page.getByText("3 devices, 3 users").waitFor();
      await shot(page, "jamf-imported");

      // The devices, each with its own row's platform.
      await page.getByRole("link", { name: "Devices" }).click();
      await page.getByLabel("Filter by: Enrollment Status").selectOption("pre_approved");
      await page.getByLabel("Search serial number or email").fill(`${u}-`);
      await page.getByRole("button", { name: "Apply" }).click();
      await page.getByRole("link", { name: `${u}-T1` }).waitFor();
      // The column by its heading: the list gains columns (Source came with ADE).
      const headings = await page.locator("table:has(#device-rows) th").allTextContents();
      const platformColumn = headings.findIndex((h) => h.trim() === "Platform");
      assert.notEqual(platformColumn, -1, headings.join(", "));
      for (const [serial, platform] of [
        [`${u}-C1`, "macos"],
        [`${u}-M1`, "ios"],
        [`${u}-T1`, "tvos"],
      ]) {
        const row = page.locator("tr", { has: page.getByRole("link", { name: serial }) });
        assert.equal(await row.locator("td").nth(platformColumn).textContent(), platform, serial);
      }
      await shot(page, "jamf-devices");
    }),
);

// The table at scale (seeded by `infra/seed.py` before these tests, SEED_DEVICES devices): the overview
// is one read of the device totals, so it renders as fast as with ten; the list pages with a stable cursor.
test(
  "a lapsed pre-approval is listed as expired and renewed from the device page",
  { timeout: 180_000 },
  () =>
    inBrowser(async (page, u) => {
      await signIn(page);
      await setRestriction(page, true);
      // Lapses 20 s from now: an ISO 8601 time with its offset, as the Expires column takes it.
      const soon = new Date(Date.now() + 20_000).toISOString().replace(/\.\d+Z$/, "Z");
      const csv = [
        "Name,Email,Ownership,Serial Number,Platform,Expires",
        `Eve Lo,${u}-eve@example.com,corporate,${u}-X1,ios,${soon}`,
      ].join("\r\n");
      await page.getByRole("link", { name: "Pre-approve", exact: true }).click();
      await page.getByLabel("Device list (CSV exported from a spreadsheet)").setInputFiles({
        name: `${u}-expiring.csv`,
        mimeType: "text/csv",
        buffer: Buffer.from(csv),
      });
      await page.getByRole("button", { name: "Next" }).click();
      await page.locator("tr", { hasText: `${u}-X1` }).waitFor();
      await page.getByRole("button", { name: "Next" }).click();
      await page.getByLabel("Do not send").check();
      await page.getByRole("button", { name: "Send" }).click();
      await page.locator("#final-status", { hasText: "completed" }).waitFor({ timeout: 90_000 });

      await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(soon) - Date.now() + 1000)));
      assert.equal(
        (await admit({ serial_number: `${u}-X1`, platform: "ios" })).decision,
        "deny",
        "lapsed: refused at once",
      );
      // The sweep, as its schedule runs it.
      const swept = await fetch(
        `${env.LAMBDA_INVOKE_URL}/2015-03-31/functions/device-expiry/invocations`,
        { method: "POST", body: "{}" },
      );
      assert.equal(swept.status, 200);
      await page.getByRole("link", { name: "Devices", exact: true }).click();
      await page.getByLabel("Filter by: Enrollment Status").selectOption("expired");
      await page.getByLabel("Search serial number or email").fill(`${u}-`);
      await page.getByRole("button", { name: "Apply" }).click();
      await page.getByRole("link", { name: `${u}-X1` }).click();
      await page.locator(".facts .badge.expired", { hasText: "Expired" }).waitFor();
      assert.notEqual(await page.locator("#expires").textContent(), "never");
      assert.equal(await page.locator(".banner").count(), 0, "no banner on an expired device");
      await shot(page, "device-expired");

      await page.getByLabel("Renew until").fill("2099-12-31");
      await page.getByRole("button", { name: "Renew pre-approval" }).click();
      await page.getByText(`${u}-X1 is pre-approved until`).waitFor();
      await page.locator(".facts .badge.pre_approved").waitFor();
      await page.locator(".banner", { hasText: "Pre-approved Device" }).waitFor();
      assert.match(await page.locator("#audit").textContent(), /renewed the pre-approval until/);
      assert.equal((await admit({ serial_number: `${u}-X1`, platform: "ios" })).decision, "allow");
      await shot(page, "device-renewed");
    }),
);

test(
  "an import is undone from its page after a dry run and a confirmation",
  { timeout: 180_000 },
  () =>
    inBrowser(async (page, u) => {
      await signIn(page);
      const csv = [
        "Name,Email,Ownership,Serial Number,Platform",
        `Uma Ray,${u}-uma@example.com,corporate,${u}-U1,ios`,
        `Vic Sol,${u}-vic@example.com,personal,${u}-U2,android`,
      ].join("\r\n");
      await page.getByRole("link", { name: "Pre-approve", exact: true }).click();
      await page
        .getByLabel("Device list (CSV exported from a spreadsheet)")
        .setInputFiles({ name: `${u}-undo.csv`, mimeType: "text/csv", buffer: Buffer.from(csv) });
      await page.getByRole("button", { name: "Next" }).click();
      await page.locator("tr", { hasText: `${u}-U2` }).waitFor();
      await page.getByRole("button", { name: "Next" }).click();
      await page.getByLabel("Do not send").check();
      await page.getByRole("button", { name: "Send" }).click();
      await page.locator("#final-status", { hasText: "completed" }).waitFor({ timeout: 90_000 });
      await page.getByRole("link", { name: "Details" }).click();
      await page.getByRole("button", { name: "Undo this import…" }).click();
      // The dry run's answer, then the confirmation.
      await page.getByText("Undo this import? It would:").waitFor({ timeout: 60_000 });
      assert.equal(
        await page.locator('[data-count="devices_removed"]').textContent(),
        "2 devices removed",
      );
      assert.equal(
        await page.locator('[data-count="users_removed"]').textContent(),
        "2 users removed",
      );
      await shot(page, "undo-confirm");
      await page.getByRole("button", { name: "Yes, undo the import" }).click();
      await page.locator("#undo-done").waitFor({ timeout: 60_000 });
      await page.locator(".badge.undone").first().waitFor();
      assert.match(await page.locator("#undo-counts").textContent(), /2 devices removed/);
      assert.equal(
        (await admit({ serial_number: `${u}-U1`, platform: "ios" })).pre_approved,
        false,
        "no longer pre-approved",
      );
      await shot(page, "import-undone");
    }),
);

/** ABM's "Add MDM server" with this certificate and "Download Token", played by the ADE simulator. */
async function abmServer(certificatePem) {
  const r = await fetch(`${env.ADE_SIMULATOR_URL}/control/servers?server_name=Browser%20Lab`, {
    method: "POST",
    body: certificatePem,
  });
  assert.equal(r.status, 201, await r.clone().text());
  const consumerKey = r.headers.get("location").split("/").pop();
  return { p7m: Buffer.from(await r.arrayBuffer()), consumerKey };
}

/** ABM assigns (or changes, or removes) devices of the server. */
async function abmDevices(consumerKey, entries) {
  const r = await fetch(`${env.ADE_SIMULATOR_URL}/control/servers/${consumerKey}/devices`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(entries),
  });
  assert.ok(r.ok, await r.text());
}

test(
  "an admin connects an ADE account and a device from Apple Business Manager is pre-approved",
  { timeout: 180_000 },
  () =>
    inBrowser(async (page, u) => {
      await signIn(page);
      await page.getByRole("link", { name: "Apple ADE", exact: true }).click();
      await page.getByRole("heading", { name: "Apple ADE" }).waitFor();
      await page.getByLabel("Name").fill(`ABM ${u}`);
      assert.equal(await page.getByLabel("Add as Pre-approved Device").isChecked(), true);
      await page.getByLabel("Device groups").fill("ade-fleet");
      await shot(page, "ade-create");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByRole("heading", { name: `ABM ${u}` }).waitFor();
      await page.locator("#health").getByText("Waiting for its server token").waitFor();

      // The certificate goes to ABM, which gives the server token back.
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Download certificate" }).click(),
      ]);
      assert.equal(download.suggestedFilename(), `abm-${u}-mdm-server.pem`);
      const pem = await new Response(await download.createReadStream()).text();
      assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
      const { p7m, consumerKey } = await abmServer(pem);
      await page.getByLabel("Server token (.p7m from Apple Business Manager)").setInputFiles({
        name: "Browser_Lab_Token_smime.p7m",
        mimeType: "application/pkcs7-mime",
        buffer: p7m,
      });
      await page.getByRole("button", { name: "Upload token" }).click();
      await page.getByText("Server token uploaded.").waitFor();
      await page.locator("#health").getByText("Connected").waitFor();
      await page.locator("#token-facts").getByText("Browser Lab").waitFor();
      assert.equal(await page.locator("#token-banner").count(), 0, "a year left: no banner");
      await shot(page, "ade-token-uploaded");

      // ABM assigns an iPad to the server; the admin syncs now.
      const serial = `${u}-ADE1`;
      await abmDevices(consumerKey, [
        { serial_number: serial, device_family: "iPad", model: "iPad Air", op: "added" },
      ]);
      await page.getByRole("button", { name: "Sync now" }).click();
      await page.getByText(`A sync of ABM ${u} is queued`).waitFor();

      // The sync runs behind its queue: the account's device list shows it pre-approved.
      await page.getByRole("link", { name: "Devices of this account" }).click();
      const link = page.getByRole("link", { name: serial });
      for (let i = 0; i < 60 && !(await link.count()); i++) {
        await page.waitForTimeout(1000);
        await page.reload();
        await page.locator("#device-rows").waitFor();
      }
      const row = page.locator("tr", { hasText: serial });
      await row.locator(".badge.pre_approved").waitFor();
      await row.getByText("Apple ADE").waitFor();
      await shot(page, "ade-device-pre-approved");
      const answer = await admit({ serial_number: serial, platform: "ios" });
      assert.equal(answer.decision, "allow");
      assert.equal(answer.pre_approved, true);
      await link.click();
      await page.locator("#source").getByText("Apple ADE").waitFor();
      await page.getByText("iPad Air", { exact: true }).waitFor();
      await page.locator(".banner", { hasText: "Pre-approved Device" }).waitFor();

      // The account's page: its last sync's report.
      await page.locator("#ade-account").click();
      await page.locator("#sync-report").waitFor();
      await shot(page, "ade-account-synced");

      // ABM's "Download Token" again, 20 days left: renewed in place, with the banner.
      const renewal = await fetch(
        `${env.ADE_SIMULATOR_URL}/control/servers/${consumerKey}/token?expires_in_days=20`,
        { method: "POST" },
      );
      assert.equal(renewal.status, 200);
      await page.getByLabel("Server token (.p7m from Apple Business Manager)").setInputFiles({
        name: "Browser_Lab_Token_2_smime.p7m",
        mimeType: "application/pkcs7-mime",
        buffer: Buffer.from(await renewal.arrayBuffer()),
      });
      await page.getByRole("button", { name: "Upload token" }).click();
      await page.getByText("Server token renewed").waitFor();
      await page.locator("#token-banner", { hasText: /expires in (19|20) days/ }).waitFor();
      await page.getByRole("link", { name: "Apple ADE", exact: true }).click();
      await page.locator("#token-banner", { hasText: `ABM ${u}` }).waitFor();
      await shot(page, "ade-token-banner");

      // Deleted, with the device it pre-approved.
      await page.getByRole("link", { name: `ABM ${u}` }).click();
      await page.getByRole("button", { name: "Delete this account" }).click();
      await page.getByRole("button", { name: "Yes, delete" }).click();
      await page.getByText(`ABM ${u} is deleted`).waitFor();
      for (
        let i = 0;
        i < 30 && (await admit({ serial_number: serial, platform: "ios" })).pre_approved;
        i++
      )
        await page.waitForTimeout(1000);
      assert.equal((await admit({ serial_number: serial, platform: "ios" })).pre_approved, false);
    }),
);

test(
  "a flood of made-up serials from one address is one grouped row naming the devices that tried again",
  { timeout: 120_000 },
  () =>
    inBrowser(async (page, u) => {
      // An address of this scenario's own: the others' attempts come from the function URL's.
      const from = `2001:db8::${u.slice(0, 4)}`;
      const windows = (serial) => ({ serial_number: `${u}-${serial}`, platform: "windows" });
      for (let i = 0; i < 5; i++) await admitFrom(from, windows(`F${i}`));
      // Six devices that come back: five get rows of their own, the sixth is named on the grouped row.
      for (let i = 0; i < 6; i++) {
        await admitFrom(from, windows(`R${i}`));
        await admitFrom(from, windows(`R${i}`));
      }
      await signIn(page);
      await page.getByRole("link", { name: "Blocked attempts" }).click();
      const grouped = page.locator("tr", { hasText: `serials from ${from}` });
      await grouped.getByText(`Tried again (likely real devices): ${u}-R5`).waitFor();
      await grouped.getByText("grouped by source").waitFor();
      assert.equal(await grouped.getByRole("button", { name: "Approve" }).count(), 0);
      // Its sample shows serials counted only there: not the first four, which have rows.
      const text = await grouped.textContent();
      for (let i = 0; i < 4; i++) assert.ok(!text.includes(`${u}-F${i}`), text);
      for (let i = 0; i < 5; i++)
        await page.getByRole("cell", { name: `${u}-R${i}`, exact: true }).waitFor();
      await shot(page, "blocked-grouped");
    }),
);

test(
  "with a large table the overview renders in under 2 s and the device list pages",
  { timeout: 180_000 },
  () =>
    inBrowser(async (page) => {
      const seeded = Number(env.SEED_DEVICES || 0);
      assert.ok(
        seeded >= 100_000,
        `run with SEED_DEVICES >= 100000 (make browser seeds them); got ${seeded}`,
      );
      await signIn(page);
      await page.getByRole("link", { name: "Devices", exact: true }).click();
      await page
        .locator("#device-range")
        .filter({ hasText: /^Devices 1–50 of / })
        .waitFor();
      const started = Date.now();
      await page.getByRole("link", { name: "Overview", exact: true }).click();
      await page.getByText(/^Pre-approved \(\d{6,}\)$/).waitFor();
      const overviewMs = Date.now() - started;
      const shown = Number(
        (await page.getByText(/^Pre-approved \(\d+\)$/).textContent()).match(/\d+/)[0],
      );
      assert.ok(shown >= seeded, `the overview counts every seeded device: ${shown}`);
      console.log(
        `overview with ${shown.toLocaleString()} pre-approved devices rendered in ${overviewMs} ms`,
      );
      assert.ok(overviewMs < 2000, `overview took ${overviewMs} ms`);
      await shot(page, "overview-at-scale");

      await page.getByRole("link", { name: "Devices", exact: true }).click();
      const range = page.locator("#device-range");
      await range.filter({ hasText: /^Devices 1–50 of [\d,]{7,}$/ }).waitFor();
      const first = await page.locator("#device-rows a").first().textContent();
      let t = Date.now();
      await page.getByRole("button", { name: "Next" }).click();
      await range.filter({ hasText: /^Devices 51–100 of / }).waitFor();
      const nextMs = Date.now() - t;
      t = Date.now();
      await page.getByRole("button", { name: "Previous" }).click();
      await range.filter({ hasText: /^Devices 1–50 of / }).waitFor();
      const previousMs = Date.now() - t;
      assert.equal(
        await page.locator("#device-rows a").first().textContent(),
        first,
        "Previous returns to the same page",
      );
      assert.equal(
        await page.locator("#device-rows tr").count(),
        50,
        "one page of rows in the DOM",
      );
      console.log(`device list: next page ${nextMs} ms, previous page ${previousMs} ms`);
      await shot(page, "devices-at-scale");
    }),
);
