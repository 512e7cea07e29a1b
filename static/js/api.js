// The admin API: JSON over fetch with the admin's ID token.
import { session, showLogin } from "./auth.js";
import { state } from "./state.js";

class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `request failed (${status})`);
    this.status = status;
    this.body = body;
  }
}

// A Blob or File body (an ADE server token) is sent as it is, in its own type.
export async function api(method, path, body) {
  const file = body instanceof Blob;
  const sent = file ? body.type || "application/octet-stream" : "application/json";
  const r = await fetch(`${state.config.apiUrl}/v1${path}`, {
    method,
    signal: state.requests.signal,
    headers: {
      authorization: `Bearer ${session.token}`,
      ...(body ? { "content-type": sent } : {}),
    },
    body: file ? body : body ? JSON.stringify(body) : undefined,
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
