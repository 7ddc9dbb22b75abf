// The Graph client from @parley/cloud-api, run against the simulator through the in-process transport.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  CloudApiTimeoutError,
  GraphApiError,
  MessageValidationError,
  UnexpectedResponseError,
  audioMessage,
  contactsMessage,
  createCloudApiClient,
  ctaUrlMessage,
  documentMessage,
  flowMessage,
  imageMessage,
  listMessage,
  locationMessage,
  locationRequestMessage,
  reactionMessage,
  readBodyText,
  replyButtonsMessage,
  stickerMessage,
  templateMessage,
  textMessage,
  tpl,
  videoMessage,
  type CloudApiClient,
  type ErrorAction,
  type OutboundMessage,
} from "@parley/cloud-api";
import { harness, TOKEN, USER, type Harness } from "./harness.unit-helpers.js";
import { createInProcessTransport } from "./transport.js";

/** The first bytes of a PNG file: the simulator checks content against the declared type. */
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);

function setup(options: Parameters<typeof harness>[0] = {}): {
  h: Harness;
  client: CloudApiClient;
  pn: string;
} {
  const h = harness(options);
  const client = createCloudApiClient({
    accessToken: TOKEN,
    baseUrl: "http://127.0.0.1:4010",
    transport: createInProcessTransport(h.sim),
  });
  return { h, client, pn: h.sim.defaultPhoneNumberId };
}

async function errorOf(p: Promise<unknown>): Promise<GraphApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof GraphApiError) return e;
    throw e;
  }
  throw new Error("expected a GraphApiError");
}

describe("client against the simulator: every outbound type", () => {
  it("sends each message type and gets a wamid and wa_id back", async () => {
    const { h, client, pn } = setup();
    const { wamid: inbound } = h.sim.userSends(USER, { type: "text", body: "hi" });
    const { id: imageId } = await client.uploadMedia(pn, {
      data: PNG,
      mimeType: "image/png",
      filename: "a.png",
    });
    const to = `+${USER}`;
    h.sim.addTemplate({
      name: "order_update",
      language: "en_US",
      parameterFormat: "NAMED",
      body: "Hi {{first_name}}, {{total}} due {{day}}",
    });
    const all: OutboundMessage[] = [
      textMessage(to, "see https://ex.com", {
        previewUrl: true,
        replyTo: inbound,
        callbackData: "req-1",
      }),
      imageMessage(to, { id: imageId }, { caption: "pic" }),
      videoMessage(to, { link: "https://ex.com/v.mp4" }, { caption: "vid" }),
      documentMessage(to, { link: "https://ex.com/a.pdf" }, { filename: "a.pdf" }),
      audioMessage(to, { link: "https://ex.com/a.ogg" }),
      stickerMessage(to, { link: "https://ex.com/s.webp" }),
      locationMessage(to, { latitude: 1.5, longitude: 2.5, name: "HQ", address: "1 Hacker Way" }),
      contactsMessage(to, [
        { name: { formatted_name: "Jane Roe" }, phones: [{ phone: "+1 650 555 1234" }] },
      ]),
      reactionMessage(to, inbound, "👍"),
      replyButtonsMessage(to, "Confirm?", [
        { id: "y", title: "Yes" },
        { id: "n", title: "No" },
      ]),
      listMessage(to, "Pick one", "Choose", [
        { title: "S", rows: [{ id: "r1", title: "Row", description: "d" }] },
      ]),
      ctaUrlMessage(to, "Track it", "Open", "https://ex.com/t"),
      flowMessage(to, "Book", { flow_id: "123", flow_cta: "Book now", flow_token: "tok" }),
      locationRequestMessage(to, "Where are you?"),
      templateMessage(to, "order_update", "en_US", [
        tpl.body(
          tpl.text("Jess", "first_name"),
          tpl.currency("$10.99", "USD", 10990, "total"),
          tpl.dateTime("Feb 25", "day"),
        ),
      ]),
    ];
    for (const m of all) {
      const r = await client.sendMessage(pn, m);
      expect(r.wamid).toMatch(/^wamid\./);
      expect(r.waId).toBe(USER);
      expect(r.input).toBe(to);
      expect(r.fbTraceId).toBeTruthy();
    }
    // message_status only for templates under pacing (reference §1.10).
    expect(
      (await client.sendMessage(pn, all[14] as OutboundMessage)).messageStatus,
    ).toBeUndefined();
    await h.settle(1_000);
    expect(h.sim.received(USER).length).toBe(16);
    expect(h.sim.received(USER).every((m) => m.failure === undefined)).toBe(true);
  });

  it("marks an inbound message read with a typing indicator", async () => {
    const { h, client, pn } = setup();
    const { wamid } = h.sim.userSends(USER, { type: "text", body: "hi" });
    await client.markAsRead(pn, wamid, { typingIndicator: true });
    expect(h.sim.markedRead()[0]).toMatchObject({ wamid, typing: true });
  });

  it("rejects a message breaking Meta's limits before any call", async () => {
    const { h, client, pn } = setup();
    const bad = {
      messaging_product: "whatsapp",
      to: USER,
      type: "text",
      text: { body: "x".repeat(5000) },
    } as const;
    await expect(client.sendMessage(pn, bad)).rejects.toBeInstanceOf(MessageValidationError);
    expect(h.sim.messages()).toHaveLength(0);
  });
});

describe("client against the simulator: every error class", () => {
  const cases: [string, ErrorAction, number, (s: ReturnType<typeof setup>) => Promise<unknown>][] =
    [
      [
        "server error",
        "retry",
        131000,
        ({ h, client, pn }) => (
          h.sim.scriptFaults([{ kind: "error", code: 131000 }]),
          client.getThroughput(pn)
        ),
      ],
      [
        "service unavailable",
        "retry",
        131016,
        ({ h, client, pn }) => (
          h.sim.scriptFaults([{ kind: "error", code: 131016 }]),
          client.getThroughput(pn)
        ),
      ],
      [
        "maintenance",
        "hold-number",
        131057,
        ({ h, client, pn }) => (
          h.sim.upgradeThroughput(pn),
          client.sendMessage(pn, textMessage(USER, "x"))
        ),
      ],
      [
        "throughput",
        "hold-number",
        130429,
        async ({ client, pn }) => {
          for (let i = 0; i < 81; i++)
            await client.sendMessage(pn, textMessage(`+1650557${String(i).padStart(4, "0")}`, "x"));
        },
      ],
      [
        "app rate limit",
        "hold-number",
        4,
        ({ h, client, pn }) => (
          h.sim.scriptFaults([{ kind: "error", code: 4, http: 429 }]),
          client.getThroughput(pn)
        ),
      ],
      [
        "pair",
        "pace-recipient",
        131056,
        async ({ client, pn }) => {
          for (let i = 0; i < 46; i++) await client.sendMessage(pn, textMessage(USER, "x"));
        },
      ],
      [
        "marketing cap",
        "fail",
        131049,
        ({ h, client, pn }) => (
          h.sim.scriptFaults([{ kind: "error", code: 131049 }]),
          client.getThroughput(pn)
        ),
      ],
      [
        "template missing",
        "fail",
        132001,
        ({ client, pn }) => client.sendMessage(pn, templateMessage(USER, "nope", "en")),
      ],
      [
        "bad read receipt",
        "fail",
        131009,
        ({ client, pn }) => client.markAsRead(pn, "wamid.unknown"),
      ],
      ["unknown object", "fail", 100, ({ client }) => client.getMedia("123456789012345")],
      [
        "expired token",
        "pause-number",
        190,
        ({ h }) =>
          createCloudApiClient({
            accessToken: "wrong",
            baseUrl: "http://127.0.0.1:4010",
            transport: createInProcessTransport(h.sim),
          }).getThroughput(h.sim.defaultPhoneNumberId),
      ],
    ];
  it.each(cases)("%s -> %s (%i)", async (_name, action, code, run) => {
    const e = await errorOf(run(setup()));
    expect(e.code).toBe(code);
    expect(e.action).toBe(action);
    expect(e.retriable).toBe(action !== "fail" && action !== "pause-number");
    expect(e.fbtraceId).toBeTruthy();
    expect(e.details).toBeTruthy();
  });

  it("a raw 502 is retriable and, for a send, in doubt", async () => {
    const { h, client, pn } = setup();
    h.sim.scriptFaults([{ kind: "raw", status: 502, body: "<html>Bad Gateway</html>" }]);
    const e = await client.sendMessage(pn, textMessage(USER, "x")).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnexpectedResponseError);
    expect((e as UnexpectedResponseError).inDoubt).toBe(true);
    expect((e as UnexpectedResponseError).retriable).toBe(true);
  });

  it("a timeout after acceptance is in doubt, and the status webhook still carries the callback data", async () => {
    const { h, client, pn } = setup();
    h.sim.userSends(USER, { type: "text", body: "hi" });
    h.sim.scriptFaults([{ kind: "timeout-after-accept" }]);
    const e = await client
      .sendMessage(pn, textMessage(USER, "x", { callbackData: "req-7" }))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CloudApiTimeoutError);
    expect((e as CloudApiTimeoutError).inDoubt).toBe(true);
    await h.settle(1_000);
    expect(h.statuses().find((s) => s.biz_opaque_callback_data === "req-7")?.status).toBe("sent");
  });
});

describe("client against the simulator: media round trip", () => {
  it("uploads, looks up, downloads with the token, checks sha256, deletes", async () => {
    const { h, client, pn } = setup();
    const data = Buffer.from("%PDF-1.4 simulated");
    const { id } = await client.uploadMedia(pn, {
      data,
      mimeType: "application/pdf",
      filename: "a.pdf",
    });
    const info = await client.getMedia(id, { phoneNumberId: pn });
    expect(info).toMatchObject({
      id,
      mimeType: "application/pdf",
      fileSize: data.length,
      sha256: createHash("sha256").update(data).digest("hex"),
    });
    const dl = await client.downloadMedia(info.url);
    expect(dl.mimeType).toBe("application/pdf");
    expect(await readBodyText(dl.body)).toBe(data.toString());

    h.clock.advance(5 * 60_000 + 1);
    const expired = await client.downloadMedia(info.url).catch((x: unknown) => x);
    expect((expired as UnexpectedResponseError).httpStatus).toBe(404);
    const again = await client.downloadMediaById(id);
    expect(await readBodyText(again.body)).toBe(data.toString());

    await client.deleteMedia(id);
    expect((await errorOf(client.getMedia(id))).code).toBe(100);
  });

  it("refuses an unsupported MIME type locally, before any call", async () => {
    const { client, pn } = setup();
    await expect(
      client.uploadMedia(pn, { data: Buffer.from("gif"), mimeType: "image/gif" }),
    ).rejects.toBeInstanceOf(MessageValidationError);
  });

  it("inbound media expire after 7 days; uploads after 30", async () => {
    const { h, client, pn } = setup();
    const { message } = h.sim.userSends(USER, {
      type: "image",
      mimeType: "image/jpeg",
      data: Buffer.from("jpg"),
    });
    const { id: uploaded } = await client.uploadMedia(pn, {
      data: PNG,
      mimeType: "image/png",
    });
    const inboundId = message.image?.id ?? "";
    expect((await client.getMedia(inboundId)).fileSize).toBe(3);
    h.clock.advance(7 * 86_400_000 + 1);
    expect((await errorOf(client.getMedia(inboundId))).code).toBe(100);
    expect((await client.getMedia(uploaded)).id).toBe(uploaded);
    h.clock.advance(23 * 86_400_000);
    expect((await errorOf(client.getMedia(uploaded))).code).toBe(100);
  });

  it("will not send the token to a host outside mediaHosts", async () => {
    const { client } = setup();
    await expect(client.downloadMedia("https://evil.example/x")).rejects.toThrow(/refusing/);
  });
});

describe("client against the simulator: templates", () => {
  it("creates, pages through, gets and deletes templates", async () => {
    const { h, client } = setup();
    const waba = h.sim.defaultWabaId;
    for (let i = 0; i < 7; i++) {
      const r = await client.createTemplate(waba, {
        name: `t_${i}`,
        category: "UTILITY",
        language: "en_US",
        components: [{ type: "BODY", text: `Hello {{1}} #${i}` }],
      });
      expect(r.status).toBe("PENDING");
    }
    await h.settle(2_000);
    const first = await client.listTemplates(waba, { limit: 3 });
    expect(first.data).toHaveLength(3);
    expect(first.paging?.next).toBeDefined();
    const all = [];
    for await (const t of client.iterateTemplates(waba, { limit: 3 })) all.push(t);
    expect(all.map((t) => t.name)).toEqual(["t_0", "t_1", "t_2", "t_3", "t_4", "t_5", "t_6"]);
    expect(all.every((t) => t.status === "APPROVED")).toBe(true);
    expect((await client.getTemplate(all[0]?.id ?? "")).name).toBe("t_0");
    expect(
      h.posts.filter(
        (p) => p.payload.entry[0]?.changes[0]?.field === "message_template_status_update",
      ),
    ).toHaveLength(7);
    await client.deleteTemplate(waba, { name: "t_0" });
    expect((await client.listTemplates(waba, { name: "t_0" })).data).toHaveLength(0);
    expect((await errorOf(client.deleteTemplate(waba, { name: "t_0" }))).code).toBe(100);
  });

  it("reads the phone number's throughput level", async () => {
    const { client, pn } = setup();
    expect(await client.getThroughput(pn)).toBe("STANDARD");
    expect((await client.getPhoneNumber(pn)).display_phone_number).toBe("+15550783881");
  });
});
