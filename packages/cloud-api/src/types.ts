// Wire shapes of the Cloud API, in Meta's snake_case, as sent and received.

// ---------- outbound messages (POST /{phone-number-id}/messages) ----------

interface EnvelopeFields {
  readonly messaging_product: "whatsapp";
  readonly recipient_type?: "individual" | "group";
  readonly context?: { readonly message_id: string };
  /** Echoed on this message's status webhooks; at most 512 bytes. */
  readonly biz_opaque_callback_data?: string;
}

/**
 * Who gets the message: a phone number in `to`, or (since 2026) a business-scoped user id
 * (BSUID, e.g. `US.13491208655302741918`) in `recipient` instead; exactly one of the two.
 */
export type MessageAddress =
  | { readonly to: string; readonly recipient?: never }
  | { readonly recipient: string; readonly to?: never };

export type MessageEnvelope = EnvelopeFields & MessageAddress;

export type MediaRef =
  { readonly id: string; readonly link?: never } | { readonly link: string; readonly id?: never };

export type ImageObject = MediaRef & { readonly caption?: string };
export type VideoObject = MediaRef & { readonly caption?: string };
export type DocumentObject = MediaRef & { readonly caption?: string; readonly filename?: string };
export type AudioObject = MediaRef;
export type StickerObject = MediaRef;

export interface LocationObject {
  readonly latitude: number;
  readonly longitude: number;
  readonly name?: string;
  readonly address?: string;
}

export interface ContactObject {
  readonly name: {
    readonly formatted_name: string;
    readonly first_name?: string;
    readonly last_name?: string;
    readonly middle_name?: string;
    readonly prefix?: string;
    readonly suffix?: string;
  };
  readonly phones?: readonly {
    readonly phone?: string;
    readonly type?: string;
    readonly wa_id?: string;
  }[];
  readonly emails?: readonly { readonly email?: string; readonly type?: string }[];
  readonly urls?: readonly { readonly url?: string; readonly type?: string }[];
  readonly addresses?: readonly {
    readonly street?: string;
    readonly city?: string;
    readonly state?: string;
    readonly zip?: string;
    readonly country?: string;
    readonly country_code?: string;
    readonly type?: string;
  }[];
  readonly org?: {
    readonly company?: string;
    readonly department?: string;
    readonly title?: string;
  };
  readonly birthday?: string;
}

export type InteractiveHeader =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "image"; readonly image: MediaRef }
  | { readonly type: "video"; readonly video: MediaRef }
  | { readonly type: "document"; readonly document: MediaRef & { readonly filename?: string } };

interface InteractiveCommon {
  readonly header?: InteractiveHeader;
  readonly body?: { readonly text: string };
  readonly footer?: { readonly text: string };
}

export interface ReplyButton {
  readonly type: "reply";
  readonly reply: { readonly id: string; readonly title: string };
}

export interface ListRow {
  readonly id: string;
  readonly title: string;
  readonly description?: string;
}

export interface ListSection {
  readonly title?: string;
  readonly rows: readonly ListRow[];
}

export interface FlowParameters {
  readonly flow_message_version: "3";
  readonly flow_id?: string;
  readonly flow_name?: string;
  readonly flow_cta: string;
  readonly flow_token?: string;
  readonly mode?: "draft" | "published";
  readonly flow_action?: "navigate" | "data_exchange";
  readonly flow_action_payload?: {
    readonly screen: string;
    readonly data?: Readonly<Record<string, unknown>>;
  };
}

export interface ProductSection {
  readonly title?: string;
  readonly product_items: readonly { readonly product_retailer_id: string }[];
}

export type InteractiveObject =
  | (InteractiveCommon & {
      readonly type: "button";
      readonly body: { readonly text: string };
      readonly action: { readonly buttons: readonly ReplyButton[] };
    })
  | (InteractiveCommon & {
      readonly type: "list";
      readonly body: { readonly text: string };
      readonly action: { readonly button: string; readonly sections: readonly ListSection[] };
    })
  | (InteractiveCommon & {
      readonly type: "cta_url";
      readonly body: { readonly text: string };
      readonly action: {
        readonly name: "cta_url";
        readonly parameters: { readonly display_text: string; readonly url: string };
      };
    })
  | (InteractiveCommon & {
      readonly type: "flow";
      readonly body: { readonly text: string };
      readonly action: { readonly name: "flow"; readonly parameters: FlowParameters };
    })
  | {
      /** Body only (reference §1.6): no header, no footer. */
      readonly type: "location_request_message";
      readonly body: { readonly text: string };
      readonly action: { readonly name: "send_location" };
    }
  | (InteractiveCommon & {
      readonly type: "call_permission_request";
      readonly body: { readonly text: string };
      readonly action: { readonly name: "call_permission_request" };
    })
  | (InteractiveCommon & {
      readonly type: "product";
      readonly body: { readonly text: string };
      readonly action: { readonly catalog_id: string; readonly product_retailer_id: string };
    })
  | (InteractiveCommon & {
      readonly type: "product_list";
      readonly body: { readonly text: string };
      readonly action: {
        readonly catalog_id: string;
        readonly sections: readonly ProductSection[];
      };
    })
  | (InteractiveCommon & {
      readonly type: "catalog_message";
      readonly body: { readonly text: string };
      readonly action: {
        readonly name: "catalog_message";
        readonly parameters?: { readonly thumbnail_product_retailer_id: string };
      };
    });

export type TemplateParameter =
  | { readonly type: "text"; readonly text: string; readonly parameter_name?: string }
  | {
      readonly type: "currency";
      readonly currency: {
        readonly fallback_value: string;
        readonly code: string;
        readonly amount_1000: number;
      };
      readonly parameter_name?: string;
    }
  | {
      readonly type: "date_time";
      readonly date_time: { readonly fallback_value: string };
      readonly parameter_name?: string;
    }
  | { readonly type: "image"; readonly image: MediaRef }
  | { readonly type: "video"; readonly video: MediaRef }
  | { readonly type: "document"; readonly document: MediaRef & { readonly filename?: string } }
  | { readonly type: "location"; readonly location: LocationObject }
  | { readonly type: "payload"; readonly payload: string }
  | { readonly type: "coupon_code"; readonly coupon_code: string }
  | {
      readonly type: "action";
      readonly action: {
        readonly flow_token?: string;
        readonly flow_action_data?: Readonly<Record<string, unknown>>;
      };
    };

export type TemplateButtonSubType =
  "quick_reply" | "url" | "copy_code" | "flow" | "catalog" | "mpm" | "otp";

export type TemplateComponent =
  | { readonly type: "header"; readonly parameters: readonly TemplateParameter[] }
  | { readonly type: "body"; readonly parameters: readonly TemplateParameter[] }
  | {
      readonly type: "button";
      readonly sub_type: TemplateButtonSubType;
      readonly index: string;
      readonly parameters: readonly TemplateParameter[];
    };

export interface TemplateObject {
  readonly name: string;
  readonly language: { readonly code: string; readonly policy?: "deterministic" };
  readonly components?: readonly TemplateComponent[];
}

export type OutboundMessage = MessageEnvelope &
  (
    | {
        readonly type: "text";
        readonly text: { readonly body: string; readonly preview_url?: boolean };
      }
    | { readonly type: "image"; readonly image: ImageObject }
    | { readonly type: "audio"; readonly audio: AudioObject }
    | { readonly type: "video"; readonly video: VideoObject }
    | { readonly type: "document"; readonly document: DocumentObject }
    | { readonly type: "sticker"; readonly sticker: StickerObject }
    | { readonly type: "location"; readonly location: LocationObject }
    | { readonly type: "contacts"; readonly contacts: readonly ContactObject[] }
    | { readonly type: "interactive"; readonly interactive: InteractiveObject }
    | { readonly type: "template"; readonly template: TemplateObject }
    | {
        readonly type: "reaction";
        readonly reaction: { readonly message_id: string; readonly emoji: string };
      }
  );

export type OutboundMessageType = OutboundMessage["type"];

/** Mark-as-read, optionally showing a typing indicator (same endpoint as sends). */
export interface MarkReadRequest {
  readonly messaging_product: "whatsapp";
  readonly status: "read";
  readonly message_id: string;
  readonly typing_indicator?: { readonly type: "text" };
}

export type MessageStatusOnSend = "accepted" | "held_for_quality_assessment" | "paused";

export interface SendMessageResponse {
  readonly messaging_product: "whatsapp";
  readonly contacts: readonly {
    readonly input: string;
    readonly wa_id?: string;
    readonly user_id?: string;
  }[];
  readonly messages: readonly {
    readonly id: string;
    readonly message_status?: MessageStatusOnSend;
    readonly group_id?: string;
  }[];
}

// ---------- media ----------

export interface MediaUrlResponse {
  readonly messaging_product: "whatsapp";
  readonly url: string;
  readonly mime_type: string;
  readonly sha256: string;
  /** A string in Meta's examples; parse leniently. */
  readonly file_size: string | number;
  readonly id: string;
}

// ---------- templates ----------

export type TemplateCategory = "MARKETING" | "UTILITY" | "AUTHENTICATION";
export type TemplateStatus =
  | "APPROVED"
  | "PENDING"
  | "REJECTED"
  | "PAUSED"
  | "DISABLED"
  | "IN_APPEAL"
  | "PENDING_DELETION"
  | "DELETED"
  | "FLAGGED"
  | "REINSTATED"
  | "LIMIT_EXCEEDED"
  | "ARCHIVED"
  | "LOCKED";
export type ParameterFormat = "POSITIONAL" | "NAMED";
export type QualityScore = "GREEN" | "YELLOW" | "RED" | "UNKNOWN";

export interface TemplateDefinitionComponent {
  readonly type: "HEADER" | "BODY" | "FOOTER" | "BUTTONS" | "CAROUSEL" | "LIMITED_TIME_OFFER";
  readonly format?: "TEXT" | "IMAGE" | "VIDEO" | "GIF" | "DOCUMENT" | "LOCATION";
  readonly text?: string;
  readonly buttons?: readonly {
    readonly type: string;
    readonly text?: string;
    readonly url?: string;
    readonly phone_number?: string;
    readonly [key: string]: unknown;
  }[];
  readonly example?: Readonly<Record<string, unknown>>;
}

export interface MessageTemplate {
  readonly id: string;
  readonly name: string;
  readonly language: string;
  readonly status: TemplateStatus;
  readonly category: TemplateCategory;
  readonly parameter_format?: ParameterFormat;
  readonly components: readonly TemplateDefinitionComponent[];
  readonly quality_score?: { readonly score: QualityScore; readonly date?: number };
}

export interface CreateTemplateRequest {
  readonly name: string;
  readonly category: TemplateCategory;
  readonly language: string;
  readonly parameter_format?: ParameterFormat;
  readonly components: readonly TemplateDefinitionComponent[];
}

export interface CreateTemplateResponse {
  readonly id: string;
  readonly status: TemplateStatus;
  readonly category: TemplateCategory;
}

export interface Paged<T> {
  readonly data: readonly T[];
  readonly paging?: {
    readonly cursors?: { readonly before?: string; readonly after?: string };
    readonly next?: string;
    readonly previous?: string;
  };
}

// ---------- phone numbers ----------

export type ThroughputLevel = "STANDARD" | "HIGH" | "NOT_APPLICABLE";

export interface PhoneNumberFields {
  readonly id: string;
  readonly display_phone_number?: string;
  readonly verified_name?: string;
  readonly quality_rating?: string;
  readonly throughput?: { readonly level: ThroughputLevel };
}

// ---------- access tokens ----------

/** Graph's `GET /debug_token` answer (`data`), as Meta documents it (reference §9). */
export interface TokenDebugData {
  readonly app_id?: string;
  readonly type?: string;
  readonly application?: string;
  readonly is_valid: boolean;
  /** Epoch seconds; 0 for a token that never expires. */
  readonly expires_at?: number;
  readonly data_access_expires_at?: number;
  readonly scopes?: readonly string[];
  readonly granular_scopes?: readonly {
    readonly scope: string;
    readonly target_ids?: readonly string[];
  }[];
  /** Why the inspected token is not valid (190, subcode 463 when expired). */
  readonly error?: { readonly code: number; readonly subcode?: number; readonly message?: string };
}
