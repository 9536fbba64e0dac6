// A merchant's webhook endpoint, for cobranca's black-box tests. Every delivery is verified with the npm
// `standardwebhooks` library against the secrets the test registered for that endpoint, logged, and answered
// as the endpoint's behaviour says:
//   /ok/<name>     204 always
//   /flaky/<name>  500 to the first two attempts of each webhook-id, then 200
//   /busy/<name>   429 with Retry-After: 3 to the first attempt of each webhook-id, then 200
//   /gone/<name>   410 always
//   /down/<name>   500 always
// Control: POST /_secrets/<name> {"secrets": ["whsec_..."]}; GET /_log/<name> → the deliveries received.
// Prints {"port": N} on its first line of output.
import http from "node:http";
import { Webhook } from "standardwebhooks";

const secrets = new Map();
const logs = new Map();
const seen = new Map();

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const [, kind, name] = req.url.split("/");
    if (req.method === "POST" && kind === "_secrets") {
      secrets.set(name, JSON.parse(body).secrets);
      res.writeHead(204).end();
      return;
    }
    if (req.method === "GET" && kind === "_log") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(logs.get(name) ?? []));
      return;
    }
    const headers = {
      "webhook-id": req.headers["webhook-id"],
      "webhook-timestamp": req.headers["webhook-timestamp"],
      "webhook-signature": req.headers["webhook-signature"],
    };
    let verified = false;
    let error = "no secret registered";
    for (const secret of secrets.get(name) ?? []) {
      try {
        new Webhook(secret).verify(body, headers);
        verified = true;
        error = null;
        break;
      } catch (e) {
        error = String(e.message ?? e);
      }
    }
    const id = headers["webhook-id"];
    const attempt = (seen.get(id) ?? 0) + 1;
    seen.set(id, attempt);
    let type = null;
    try {
      type = JSON.parse(body).type;
    } catch {}
    const entry = { kind, id, attempt, verified, error, type, signatures: (headers["webhook-signature"] ?? "").split(" ").length, at_ms: Date.now(), body };
    logs.set(name, [...(logs.get(name) ?? []), entry]);
    const answer = {
      ok: () => res.writeHead(204).end(),
      flaky: () => (attempt <= 2 ? res.writeHead(500).end("try later") : res.writeHead(200).end("ok")),
      busy: () => (attempt === 1 ? res.writeHead(429, { "retry-after": "3" }).end("slow down") : res.writeHead(200).end("ok")),
      gone: () => res.writeHead(410).end("gone"),
      down: () => res.writeHead(500).end("down"),
    }[kind];
    (answer ?? (() => res.writeHead(404).end()))();
  });
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
