// Overview: the enrollment restriction and devices by platform and status.
import { api } from "../api.js";
import { html } from "../html.js";
import { render } from "../ui.js";

const BAR = 26;
const GAP = 12;
const LEFT = 80;
const WIDTH = 520;

// One stacked bar per platform: pre-approved, enrolled, expired (SVG, no library).
function chart(counts) {
  const platforms = [...new Set(counts.map((c) => c.platform))].sort();
  const get = (p, s) => counts.find((c) => c.platform === p && c.status === s)?.count ?? 0;
  const sum = (p) => get(p, "pre_approved") + get(p, "enrolled") + get(p, "expired");
  const max = Math.max(1, ...platforms.map(sum));
  const scale = (n) => (n / max) * (WIDTH - LEFT - 60);
  const h = platforms.length * (BAR + GAP) + 10;
  const bars = platforms.map((p, i) => {
    const y = i * (BAR + GAP) + 5;
    const pre = get(p, "pre_approved");
    const enr = get(p, "enrolled");
    const exp = get(p, "expired");
    const [wPre, wEnr, wExp] = [scale(pre), scale(enr), scale(exp)];
    return html`<text x="${LEFT - 8}" y="${y + 17}" text-anchor="end">${p}</text>
      <rect class="bar-pre" x="${LEFT}" y="${y}" width="${wPre}" height="${BAR}">
        <title>${p}: ${pre} pre-approved</title></rect>
      <rect class="bar-enr" x="${LEFT + wPre}" y="${y}" width="${wEnr}" height="${BAR}">
        <title>${p}: ${enr} enrolled</title></rect>
      <rect class="bar-exp" x="${LEFT + wPre + wEnr}" y="${y}" width="${wExp}" height="${BAR}">
        <title>${p}: ${exp} expired</title></rect>
      <text x="${LEFT + wPre + wEnr + wExp + 6}" y="${y + 17}">${pre + enr + exp}</text>`;
  });
  const total = (s) => counts.filter((c) => c.status === s).reduce((a, c) => a + c.count, 0);
  const [pre, enr, exp] = [total("pre_approved"), total("enrolled"), total("expired")];
  return html`<svg class="chart" role="img" aria-labelledby="chart-title chart-desc"
      viewBox="0 0 ${WIDTH} ${Math.max(h, 40)}" width="100%">
      <title id="chart-title">Devices by platform and enrollment status</title>
      <desc id="chart-desc">${pre} pre-approved, ${enr} enrolled and ${exp} expired devices.</desc>
      ${platforms.length ? bars : html`<text x="10" y="25">No devices yet.</text>`}
    </svg>
    <p class="legend"><span><span class="swatch pre"></span>Pre-approved (${pre})</span>
      <span><span class="swatch enr"></span>Enrolled (${enr})</span>
      <span><span class="swatch exp"></span><a href="#/devices?status=expired">Expired</a>
        (<span id="expired-total">${exp}</span>)</span></p>`;
}

export async function overview() {
  const [{ counts }, settings] = await Promise.all([
    api("GET", "/overview"),
    api("GET", "/settings"),
  ]);
  const restriction = settings.pre_approved_only
    ? "Pre-approved Devices Only"
    : "open to any supported device";
  render(
    html`<h1>Overview</h1>
    <p>Enrollment restriction: <strong>${restriction}</strong>
      (<a href="#/settings">change</a>).</p>
    ${chart(counts)}
    <p><a class="button primary" href="#/upload">Pre-approve devices</a>
      <a class="button" href="#/devices?status=pre_approved">Pre-approved devices</a></p>`,
    "Overview",
  );
}
