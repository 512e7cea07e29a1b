// The admin page's entry point: reads config.json, then routes on the URL's
// hash (#/devices, #/imports/ID, ...), one view module per section.
// No dependencies, no build step: the browser loads these ES modules as they
// are. Nothing is fetched but config.json, the admin API, Cognito and the
// presigned S3 URLs the API hands out.
import { finishHostedSignIn, session, showLogin } from "./auth.js";
import { html } from "./html.js";
import { state } from "./state.js";
import { main, nav, render, say } from "./ui.js";
import { adeAccount, adeAccounts } from "./views/ade.js";
import { blocked } from "./views/blocked.js";
import { device } from "./views/device.js";
import { devices } from "./views/devices.js";
import { importDetail, imports } from "./views/imports.js";
import { overview } from "./views/overview.js";
import { settings } from "./views/settings.js";
import { upload } from "./views/upload.js";

function show(parts, params) {
  switch (parts[0]) {
    case "devices":
      return parts[1] ? device(parts[1]) : devices(params);
    case "upload":
      return upload();
    case "imports":
      return parts[1] ? importDetail(parts[1]) : imports();
    case "blocked":
      return blocked();
    case "settings":
      return settings();
    case "ade":
      return parts[1] ? adeAccount(parts[1]) : adeAccounts();
    default:
      return overview();
  }
}

async function route() {
  state.requests.abort();
  state.requests = new AbortController();
  if (!session.token) return showLogin();
  nav.hidden = false;
  say(...(state.flash || [""]));
  state.flash = null;
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    await show(parts, params);
  } catch (err) {
    if (err.status === 401 || err.name === "AbortError") return;
    render(html`<h1>Something went wrong</h1><p class="error">${err.message}</p>`, "Error");
  } finally {
    main.focus();
  }
}

async function start() {
  state.config = await (await fetch("config.json", { cache: "no-store" })).json();
  document.getElementById("sign-out").onclick = () => {
    session.token = null;
    // No hashchange, so no route: the message stays.
    history.replaceState(null, "", location.pathname);
    showLogin("Signed out.");
  };
  const code = new URLSearchParams(location.search).get("code");
  if (code && state.config.authFlow === "hosted") {
    try {
      await finishHostedSignIn(code);
    } catch (err) {
      return showLogin(err.message);
    }
  }
  window.addEventListener("hashchange", route);
  await route();
}

start();
