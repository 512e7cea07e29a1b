// Sign-in with Cognito: USER_PASSWORD_AUTH against the local emulator, the
// hosted UI with PKCE in AWS (config.authFlow says which).
import { html } from "./html.js";
import { state } from "./state.js";
import { nav, render } from "./ui.js";

// sessionStorage: the token survives a reload but not the tab.
export const session = {
  get token() {
    return sessionStorage.getItem("idToken");
  },
  set token(t) {
    t ? sessionStorage.setItem("idToken", t) : sessionStorage.removeItem("idToken");
  },
};

async function cognito(target, body) {
  const r = await fetch(state.config.cognitoEndpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": `AWSCognitoIdentityProviderService.${target}`,
    },
    body: JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.message || data.__type || `sign-in failed (${r.status})`);
  return data;
}

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

async function hostedSignIn() {
  const { config } = state;
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  sessionStorage.setItem("pkce", verifier);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const q = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: "openid email profile",
    code_challenge: b64url(digest),
    code_challenge_method: "S256",
  });
  location.assign(`${config.hostedUiUrl}/oauth2/authorize?${q}`);
}

/** The hosted UI's redirect back with ?code=: trade it for the tokens. */
export async function finishHostedSignIn(code) {
  const { config } = state;
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    client_id: config.clientId,
    code,
    redirect_uri: config.redirectUri,
    code_verifier: sessionStorage.getItem("pkce") || "",
  });
  const r = await fetch(`${config.hostedUiUrl}/oauth2/token`, { method: "POST", body });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || "sign-in failed");
  session.token = data.id_token;
  history.replaceState(null, "", `${location.pathname}#/overview`);
}

export function showLogin(message) {
  nav.hidden = true;
  if (state.config.authFlow === "hosted") {
    render(
      html`<section class="login card"><h1>Sign in</h1>
        <p>${message || "Sign in with your administrator account."}</p>
        <button class="primary" id="hosted">Sign in</button></section>`,
      "Sign in",
    );
    document.getElementById("hosted").onclick = hostedSignIn;
    return;
  }
  render(
    html`<section class="login card"><h1>Sign in</h1>
      <form id="login">
        <label for="username">Username</label>
        <input id="username" name="username" type="text" autocomplete="username" required>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password"
          required>
        <p><button class="primary" type="submit">Sign in</button></p>
        <p class="error" id="login-error" role="alert">${message || ""}</p>
      </form></section>`,
    "Sign in",
  );
  document.getElementById("username").focus();
  document.getElementById("login").onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      const out = await cognito("InitiateAuth", {
        AuthFlow: "USER_PASSWORD_AUTH",
        ClientId: state.config.clientId,
        AuthParameters: { USERNAME: f.get("username"), PASSWORD: f.get("password") },
      });
      if (!out.AuthenticationResult) {
        const step = out.ChallengeName || "another step";
        throw new Error(`${step} is required; finish it in the Cognito console`);
      }
      session.token = out.AuthenticationResult.IdToken;
      location.hash = "#/overview";
      // The router listens for hashchange (this module cannot import it: the
      // views it loads import this one through the API client). Dispatched
      // here too, so the view shows even when the hash was #/overview already.
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (err) {
      document.getElementById("login-error").textContent = `Sign-in failed: ${err.message}`;
    }
  };
}
