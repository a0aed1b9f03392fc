// Every console page: "Copy Token" asks the server for a token of the signed-in
// person (GET /api/token/user, with the session cookie) and copies it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("copy-token");
  const field = document.getElementById("token");
  const status = document.getElementById("token-status");
  const box = document.getElementById("token-box");
  if (!button || !field || !status || !box) return;
  button.addEventListener("click", async () => {
    status.textContent = "";
    box.hidden = false;
    const response = await fetch("/api/token/user", { credentials: "same-origin" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      status.textContent = body.message || `The server answered ${response.status}`;
      return;
    }
    field.value = body.token;
    const until = new Date(body.expiresAt).toLocaleString();
    try {
      await navigator.clipboard.writeText(body.token);
      status.textContent = `Copied. It works until ${until}, or until you sign out.`;
    } catch {
      field.select();
      status.textContent = `Select and copy the token above. It works until ${until}, or until you sign out.`;
    }
  });
});
