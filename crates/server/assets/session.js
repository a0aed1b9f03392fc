// Every console page: "Copy Token" asks the server for a token of the signed-in
// person (GET /api/token/user, with the session cookie) and copies it; a button
// with data-copy="<field id>" copies that field (a new key's secret).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const copy of document.querySelectorAll("button[data-copy]")) {
    copy.addEventListener("click", async () => {
      const source = document.getElementById(copy.dataset.copy);
      const said = document.querySelector(`[data-copied-for="${copy.dataset.copy}"]`);
      if (!source || !said) return;
      try {
        await navigator.clipboard.writeText(source.value);
        said.textContent = "Copied.";
      } catch {
        source.select();
        said.textContent = "Select the text above and copy it.";
      }
    });
  }
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
