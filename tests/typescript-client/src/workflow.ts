// An integrator's short workflow through a client generated from EA CRM's
// /openapi.json (openapi-typescript types, openapi-fetch calls): sign in,
// work with an API key, create a lead with a contact, log a follow-up, page
// through the leads, and receive a signed webhook and verify it. Every call
// is type-checked against the generated document by `tsc` before it runs.
//
// Run by .ci/contract: EA_CRM_URL, EA_CRM_USERNAME and EA_CRM_PASSWORD name
// a running service whose webhooks may reach 127.0.0.1.

import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

import createClient from "openapi-fetch";

import type { components, paths } from "./api.js";

type Lead = components["schemas"]["LeadView"];

const base = required("EA_CRM_URL");
const api = `${base}/api/v1`;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`failed: ${what}`);
}

/** The body of an error answer, as the document's ErrorBody describes it. */
function explain(error: components["schemas"]["ErrorBody"] | undefined): string {
  return error ? `${error.error.code}: ${error.error.message}` : "no error body";
}

/** A webhook as the receiver gets it: headers and the raw body. */
interface Delivery {
  headers: IncomingMessage["headers"];
  raw: Buffer;
}

/** `X-EA-Signature` is the HMAC-SHA256 of "<timestamp>.<raw body>". */
function verify(secret: string, delivery: Delivery, toleranceSeconds = 300): boolean {
  const timestamp = String(delivery.headers["x-ea-timestamp"] ?? "");
  const signature = String(delivery.headers["x-ea-signature"] ?? "");
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected =
    "sha256=" +
    createHmac("sha256", secret).update(`${timestamp}.`).update(delivery.raw).digest("hex");
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function main(): Promise<void> {
  // Sign in once to mint an API key; everything after runs on the key.
  const anonymous = createClient<paths>({ baseUrl: api });
  const login = await anonymous.POST("/auth/login", {
    body: { username: required("EA_CRM_USERNAME"), password: required("EA_CRM_PASSWORD") },
  });
  check(login.data?.token, `sign in (${explain(login.error)})`);
  const session = createClient<paths>({
    baseUrl: api,
    headers: { Authorization: `Bearer ${login.data.token}` },
  });
  const minted = await session.POST("/api-keys", { body: { name: "typescript example" } });
  check(minted.data, `create an API key (${explain(minted.error)})`);
  check(minted.data.key.startsWith("eak_"), "the key is shown once, eak_…");
  const client = createClient<paths>({
    baseUrl: api,
    headers: { Authorization: `Bearer ${minted.data.key}` },
  });

  // A receiver for lead.created, registered before the lead is made.
  const deliveries: Delivery[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      deliveries.push({ headers: req.headers, raw: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const port = (receiver.address() as AddressInfo).port;
  const hook = await client.POST("/webhooks", {
    body: { url: `http://127.0.0.1:${port}/ea-crm`, topics: ["lead.created"] },
  });
  check(hook.data, `register a webhook (${explain(hook.error)})`);
  const secret = hook.data.secret;

  // A lead with a contact, then its first follow-up.
  const created = await client.POST("/leads", {
    body: {
      company_name: `Typed Client ${Date.now()} GmbH`,
      website: "https://typed-client.example",
      country: "DE",
      contacts: [{ name: "Tessa Script", email: "tessa@typed-client.example" }],
    },
  });
  check(created.data, `create a lead (${explain(created.error)})`);
  const lead: Lead = created.data.lead;
  check(created.data.contacts.length === 1, "the lead has its contact");
  check(created.data.contacts[0]?.name === "Tessa Script", "the contact's name");

  const followUp = await client.PUT("/leads/{id}/follow-ups/{tier}", {
    params: { path: { id: lead.id, tier: 1 } },
    body: { outcome: "done", notes: "Intro call, wants a demo" },
  });
  check(followUp.data, `log a follow-up (${explain(followUp.error)})`);
  check(
    followUp.data.tiers.some((t) => t.tier === 1 && t.outcome === "done"),
    "follow-up 1 is done",
  );

  // Every lead, two at a time, by cursor.
  const more = ["Second", "Third"].map((name) =>
    client.POST("/leads", { body: { company_name: `${name} Typed ${Date.now()} AG` } }),
  );
  for (const answer of await Promise.all(more)) {
    check(answer.data, `create another lead (${explain(answer.error)})`);
  }
  const seen: string[] = [];
  let after: string | undefined;
  for (let page = 0; page < 100; page++) {
    const listed = await client.GET("/leads", {
      params: { query: { limit: 2, sort: "created", order: "asc", ...(after ? { after } : {}) } },
    });
    check(listed.data, `list leads (${explain(listed.error)})`);
    check(listed.data.items.length <= 2, "a page holds at most the limit");
    seen.push(...listed.data.items.map((l) => l.id));
    if (!listed.data.next_cursor) break;
    after = listed.data.next_cursor;
  }
  check(seen.includes(lead.id), "paging finds the new lead");
  check(new Set(seen).size === seen.length, "no lead appears twice across pages");
  check(seen.length >= 3, "paging walked more than one page");

  // The webhook for the first lead, signed with the secret.
  for (let i = 0; i < 150; i++) {
    if (deliveries.some((d) => d.raw.includes(lead.id))) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const delivery = deliveries.find((d) => d.raw.includes(lead.id));
  check(delivery, "lead.created reached the receiver");
  check(delivery.headers["x-ea-event"] === "lead.created", "X-EA-Event names the topic");
  check(verify(secret, delivery), "the signature verifies with the secret");
  check(!verify(`${secret}x`, delivery), "a wrong secret does not verify");
  const event = JSON.parse(delivery.raw.toString("utf8")) as components["schemas"]["WebhookEvent"];
  check(event.topic === "lead.created", "the envelope's topic");
  check(typeof event.id === "string" && event.id.length > 0, "the envelope's id");
  receiver.close();

  console.log(
    `typescript client: signed in, key ${minted.data.api_key.id}, lead ${lead.id} with a contact and follow-up 1, ` +
      `${seen.length} leads over ${Math.ceil(seen.length / 2)} pages, webhook ${event.id} verified`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
