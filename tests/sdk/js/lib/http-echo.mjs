// A tiny HTTP server on 127.0.0.1 for the server's HTTP tasks to call.
//
// Every request is recorded. The answer is JSON:
//   {"method", "path", "query", "headers", "received": <parsed JSON body or text>}
// `/status/<code>` answers with that status code instead of 200.

import { createServer } from "node:http";

export async function startEchoServer() {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let received = text;
      if (text.length > 0) {
        try {
          received = JSON.parse(text);
        } catch {
          // keep the text
        }
      } else {
        received = null;
      }
      const url = new URL(req.url, "http://127.0.0.1");
      const record = {
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        received,
      };
      requests.push(record);
      const match = /^\/status\/(\d{3})$/.exec(url.pathname);
      const status = match ? Number(match[1]) : 200;
      const body = JSON.stringify({
        method: record.method,
        path: record.path,
        query: record.query,
        contentType: req.headers["content-type"] ?? null,
        received,
      });
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
