// Conformance: a maintained third-party Cloud API client (whatsapp-api-js, its own code
// throughout) against the simulator over HTTP. Its requests go to the simulator through the
// client's fetch hook; its webhook receiver (the client's node:http middleware) answers the
// verification handshake and checks every signature. If the simulator drifts from what a real
// client sends and expects, this fails.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OnMessageArgs, OnStatusArgs } from "whatsapp-api-js/emitters";
import {
  ActionButtons,
  ActionCTA,
  ActionCallPermission,
  ActionCatalog,
  ActionContactRequest,
  ActionList,
  ActionLocation,
  ActionFlow,
  ActionProduct,
  ActionProductList,
  Address,
  Audio,
  Birthday,
  Body,
  BodyComponent,
  BodyParameter,
  Button,
  CatalogProduct,
  Contacts,
  Currency,
  DateTime,
  Document,
  Email,
  Footer,
  Header,
  HeaderComponent,
  HeaderParameter,
  Image,
  Interactive,
  Language,
  ListSection,
  Location,
  Name,
  Organization,
  PayloadComponent,
  Phone,
  Product,
  ProductSection,
  Reaction,
  Row,
  Sticker,
  Template,
  Text,
  URLComponent,
  Url,
  Video,
} from "whatsapp-api-js/messages";
import type { ClientMessage, ServerMediaUploadResponse } from "whatsapp-api-js/types";
import { WhatsAppAPI } from "whatsapp-api-js/middleware/node-http";
import { serveSimulator, type SimulatorServer } from "./server.js";
import { createSimulator, type Simulator } from "./simulator.js";

const TOKEN = "third-party-token";
const SECRET = "third-party-secret";
const VERIFY = "third-party-verify-token";
const USER = "16505551234";
/** A Mexican user: Meta's wa_id (and `from`) is 521 + 10 digits. */
const MX_USER = "5215512345678";
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49]);

let sim: Simulator;
let server: SimulatorServer;
let receiver: Server;
let webhookUrl: string;
let wa: WhatsAppAPI;
const inbound: OnMessageArgs[] = [];
const statuses: OnStatusArgs[] = [];
/** Answers the client's webhook handler gave (200 only for a verified signature). */
const handled: number[] = [];
let pn: string;
/** The user as whatsapp-api-js addresses a recipient: phone and BSUID (`to` and `recipient`). */
let recipient: { phone: string; bsuid: string };

/** The client calls https://graph.facebook.com/…; its fetch hook sends that to the simulator. */
function toSimulator(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  return fetch(url.replace("https://graph.facebook.com", server.url), init);
}

function idOf(res: ServerMediaUploadResponse): string {
  if ("error" in res) throw new Error(`upload refused: ${JSON.stringify(res.error)}`);
  return res.id;
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  sim = createSimulator({
    seed: "third-party",
    appSecret: SECRET,
    accessTokens: [{ token: TOKEN }],
    statuses: {
      sentDelayMs: [5, 10],
      deliveredDelayMs: [5, 10],
      readDelayMs: [5, 10],
      readProbability: 1,
      skipDeliveredProbability: 0,
    },
    webhooks: { retryTimeScale: 0.001 },
  });
  server = await serveSimulator(sim, { port: 0 });
  pn = sim.defaultPhoneNumberId;
  recipient = { phone: USER, bsuid: sim.addUser({ waId: USER, name: "Sheena" }).userId };
  wa = new WhatsAppAPI({
    token: TOKEN,
    appSecret: SECRET,
    webhookVerifyToken: VERIFY,
    v: "v24.0",
    ponyfill: { fetch: toSimulator },
  });
  wa.on.message = (args) => {
    inbound.push(args);
  };
  wa.on.status = (args) => {
    statuses.push(args);
  };
  // The subscriber: the client's own node:http handlers for the handshake and the webhooks.
  receiver = createServer((req, res) => {
    if (req.method === "GET") {
      try {
        const challenge = wa.handle_get(req);
        res.writeHead(200, { "content-type": "text/plain" }).end(challenge);
      } catch (status) {
        res.writeHead(typeof status === "number" ? status : 500).end();
      }
      return;
    }
    void wa.handle_post(req).then((status) => {
      handled.push(status);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  webhookUrl = `http://127.0.0.1:${String((receiver.address() as AddressInfo).port)}/webhook`;
});

afterAll(async () => {
  await server.close();
  await sim.stop();
  await new Promise((resolve) => receiver.close(resolve));
});

describe("whatsapp-api-js against the simulator", () => {
  it("verifies the callback URL with the client's own handshake code; a wrong token is refused and the URL not kept", async () => {
    const wrong = await sim.registerWebhook(webhookUrl, "not-the-token");
    expect(wrong).toMatchObject({ verified: false, status: 403 });
    // Through the control API, as a tester outside the process would.
    const res = await fetch(`${server.url}/_sim/webhook-urls`, {
      method: "POST",
      body: JSON.stringify({ urls: [webhookUrl], verifyToken: VERIFY }),
    });
    const body = (await res.json()) as {
      ok: boolean;
      verifications: { verified: boolean; challenge: string; answer: string }[];
    };
    expect(res.status).toBe(200);
    expect(body.ok).toBe(true);
    expect(body.verifications[0]?.answer).toBe(body.verifications[0]?.challenge);
    expect(sim.webhookVerifications().map((v) => v.verified)).toEqual([false, true]);
    const again = await fetch(`${server.url}/_sim/webhooks/verify`, {
      method: "POST",
      body: JSON.stringify({ url: webhookUrl, verifyToken: VERIFY }),
    });
    expect(again.status).toBe(200);
    const listed = await fetch(`${server.url}/_sim/webhooks/verifications`);
    expect(((await listed.json()) as unknown[]).length).toBe(3);
    // A save that fails verification leaves the verified URL in place (the tests below use it).
    const failed = await fetch(`${server.url}/_sim/webhook-urls`, {
      method: "POST",
      body: JSON.stringify({ urls: ["http://127.0.0.1:9/elsewhere"], verifyToken: VERIFY }),
    });
    expect(failed.status).toBe(409);
  });

  it("parses a user's message (client-verified signature) and replies with `to` and `recipient` both set", async () => {
    const { wamid } = sim.userSends(USER, { type: "text", body: "ping" });
    await until(() => inbound.some((m) => m.message.id === wamid), "the inbound message");
    const msg = inbound.find((m) => m.message.id === wamid);
    expect(msg?.contact.wa_id).toBe(USER);
    expect(msg?.contact.profile?.name).toBe("Sheena");
    expect(msg?.recipient).toEqual({ phone: USER, bsuid: recipient.bsuid, pbsuid: undefined });
    // reply() sends both to (the phone) and recipient (the BSUID): `to` wins.
    const sent = await msg?.reply(new Text("pong"), true, "reply-1");
    expect(sent).toMatchObject({ contacts: [{ input: USER, wa_id: USER }] });
    const reply = sim.received(USER).at(-1);
    expect(reply?.message).toMatchObject({ to: USER, recipient: recipient.bsuid });
    expect(reply?.recipientUserId).toBeUndefined();
    expect(reply?.message.context?.message_id).toBe(wamid);
  });

  it("replies to a Mexican user's own `from` (521…, no +)", async () => {
    const { wamid } = sim.userSends(MX_USER, { type: "text", body: "hola" });
    await until(() => inbound.some((m) => m.message.id === wamid), "the Mexican user's message");
    const msg = inbound.find((m) => m.message.id === wamid);
    expect(msg?.contact.wa_id).toBe(MX_USER);
    const sent = await msg?.reply(new Text("hola"));
    expect(sent).toMatchObject({ contacts: [{ input: MX_USER, wa_id: MX_USER }] });
    expect(sim.received(MX_USER)).toHaveLength(1);
  });

  it("sends every message type and gets Meta's answer for each", async () => {
    const { wamid: userMessage } = sim.userSends(USER, { type: "text", body: "hi" });
    sim.addTemplate({
      name: "order_update",
      language: "en_US",
      header: "Order {{1}}",
      body: "Hi {{1}}, {{2}} due {{3}}",
    });
    const form = new FormData();
    form.append("file", new Blob([PNG], { type: "image/png" }), "pic.png");
    const imageId = idOf(await wa.uploadMedia(pn, form));
    const messages: ClientMessage[] = [
      new Text("see https://ex.com", true),
      new Image(imageId, true, "by id"),
      new Image("https://ex.com/a.jpg", false, "by link"),
      new Video("https://ex.com/v.mp4", false, "vid"),
      new Audio("https://ex.com/a.ogg"),
      new Document("https://ex.com/a.pdf", false, "doc", "a.pdf"),
      new Sticker("https://ex.com/s.webp"),
      new Location(-122.425332, 37.758056, "HQ", "1 Hacker Way"),
      new Contacts([
        new Name("Jane Roe", "Jane", "Roe"),
        new Phone("+1 650 555 1234", "WORK", "16505551234"),
        new Email("j@ex.com", "WORK"),
        new Birthday("1990", "01", "02"),
        new Organization("Acme", "Sales", "Rep"),
        new Url("https://ex.com", "WORK"),
        new Address("US", "us", "CA", "Menlo Park", "1 Hacker Way", "94025", "WORK"),
      ]),
      new Reaction(userMessage, "👍"),
      new Interactive(
        new ActionButtons(new Button("yes", "Yes"), new Button("no", "No")),
        new Body("Confirm?"),
        new Header("Your order"),
        new Footer("Parley"),
      ),
      new Interactive(
        new ActionList("Choose", new ListSection("Section", new Row("r1", "Row", "d"))),
        new Body("Pick one"),
      ),
      new Interactive(new ActionCTA("Open", "https://ex.com/t"), new Body("Track it")),
      new Interactive(
        new ActionFlow({
          flow_message_version: "3",
          flow_token: "flow-token-1",
          flow_id: "123456",
          flow_cta: "Book now",
          flow_action: "navigate",
          flow_action_payload: { screen: "WELCOME", data: { a: 1 } },
        }),
        new Body("Book"),
      ),
      new Interactive(new ActionLocation(), new Body("Where are you?")),
      new Interactive(new ActionCallPermission(), new Body("May we call you?")),
      new Interactive(new ActionContactRequest(), new Body("Share your contact?")),
      new Interactive(new ActionProduct(new CatalogProduct("sku-1", "cat-1")), new Body("This")),
      new Interactive(
        new ActionProductList("cat-1", new ProductSection("Picks", new Product("sku-1"))),
        new Body("These"),
        new Header("Catalog"),
      ),
      new Interactive(new ActionCatalog(new Product("sku-1")), new Body("Browse")),
      new Template(
        "order_update",
        new Language("en_US"),
        new HeaderComponent(new HeaderParameter("42")),
        new BodyComponent(
          new BodyParameter("Jess"),
          new BodyParameter(new Currency(10990, "USD", "$10.99")),
          new BodyParameter(new DateTime("Feb 25")),
        ),
        new PayloadComponent("YES_42"),
        new URLComponent("track/42"),
      ),
    ];
    for (const m of messages) {
      const res = await wa.sendMessage(pn, recipient, m, undefined, `cb-${m._type}`);
      expect(res, `${m._type}: ${JSON.stringify(res)}`).toMatchObject({
        messaging_product: "whatsapp",
        contacts: [{ input: USER, wa_id: USER }],
      });
      if (!("messages" in res)) throw new Error(`${m._type} refused`);
      expect(res.messages[0].id).toMatch(/^wamid\./);
      // message_status only for paced templates (none here).
      expect(res.messages[0]).not.toHaveProperty("message_status");
    }
    await until(
      () => statuses.filter((s) => s.biz_opaque_callback_data === "cb-template").length >= 3,
      "the template's statuses",
    );
    const failures = sim
      .received(USER)
      .filter((m) => m.failure !== undefined)
      .map((m) => [m.type, m.failure]);
    expect(failures).toEqual([]);
  });

  it("uploads, looks up, downloads and deletes media with the client; a PNG declared as JPEG is refused (131053)", async () => {
    const form = new FormData();
    form.append("file", new Blob([PNG], { type: "image/png" }), "pic.png");
    const id = idOf(await wa.uploadMedia(pn, form));
    const info = await wa.retrieveMedia(id, pn);
    expect(info).toMatchObject({ id, mime_type: "image/png", file_size: String(PNG.length) });
    if (!("url" in info)) throw new Error("no media URL");
    const download = await wa.fetchMedia(info.url);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(PNG)).toBe(true);
    expect(await wa.deleteMedia(id)).toEqual({ success: true });

    const lie = new FormData();
    lie.append("file", new Blob([PNG], { type: "image/jpeg" }), "pic.jpg");
    const refused = (await wa.uploadMedia(pn, lie)) as unknown as {
      error: { code: number; error_data: { details: string } };
    };
    expect(refused.error.code).toBe(131053);
    expect(refused.error.error_data.details).toMatch(/image\/png/);
  });

  it("parses status webhooks (contacts[], pricing, callback data) with the client's signature check", async () => {
    await wa.sendMessage(pn, recipient, new Text("status me"), undefined, "status-1");
    await until(
      () => statuses.filter((s) => s.biz_opaque_callback_data === "status-1").length >= 3,
      "sent, delivered and read",
    );
    const mine = statuses.filter((s) => s.biz_opaque_callback_data === "status-1");
    expect(mine.map((s) => s.status)).toEqual(["sent", "delivered", "read"]);
    for (const s of mine) {
      expect(s.contact).toMatchObject({ wa_id: USER, user_id: recipient.bsuid });
      const value = s.raw.entry[0]?.changes[0]?.value as { contacts?: unknown[] } | undefined;
      expect(value?.contacts).toHaveLength(1);
    }
    expect(mine[0]?.pricing).toMatchObject({ pricing_model: "PMP", category: "service" });
    // Every webhook so far passed the client's own signature check.
    expect(handled.length).toBeGreaterThan(0);
    expect(handled.every((status) => status === 200)).toBe(true);
  });

  it("parses a simulated user's flow reply (nfm_reply) with the flow token of the flow message", async () => {
    await wa.sendMessage(
      pn,
      recipient,
      new Interactive(
        new ActionFlow({
          flow_message_version: "3",
          flow_token: "flow-token-9",
          flow_id: "123456",
          flow_cta: "Book now",
          flow_action_payload: { screen: "WELCOME" },
        }),
        new Body("Book"),
      ),
    );
    const { wamid } = sim.userSends(USER, {
      type: "flow_reply",
      response: { date: "2026-03-01", guests: 2 },
    });
    await until(() => inbound.some((m) => m.message.id === wamid), "the flow reply");
    const msg = inbound.find((m) => m.message.id === wamid)?.message;
    if (msg?.type !== "interactive" || msg.interactive.type !== "nfm_reply")
      throw new Error(`not an nfm_reply: ${JSON.stringify(msg)}`);
    expect(msg.interactive.nfm_reply.name).toBe("flow");
    expect(JSON.parse(msg.interactive.nfm_reply.response_json)).toEqual({
      date: "2026-03-01",
      guests: 2,
      flow_token: "flow-token-9",
    });
    expect(msg.context?.id).toBeDefined();
  });

  it("gets 400 with code 100 naming the field for a wrongly typed body, and Meta's headers", async () => {
    const res = await wa.$$apiFetch$$(`https://graph.facebook.com/v24.0/${pn}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        messaging_product: "whatsapp",
        to: USER,
        type: "text",
        text: { body: 5 },
      }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("facebook-api-version")).toBe("v24.0");
    expect(res.headers.get("x-business-use-case-usage")).toContain(sim.defaultWabaId);
    const body = (await res.json()) as {
      error: { code: number; type: string; error_data: { details: string } };
    };
    expect(body.error).toMatchObject({ code: 100, type: "OAuthException" });
    expect(body.error.error_data.details).toContain("text.body");
  });
});
