// Webhook payload shapes (field `messages`). Receivers must tolerate unknown fields and types,
// so every object here is open: these types describe what Meta sends today, not a closed set.

export interface WebhookPayload {
  readonly object: "whatsapp_business_account";
  readonly entry: readonly WebhookEntry[];
}

export interface WebhookEntry {
  /** The WABA id. */
  readonly id: string;
  /** Unix seconds; only on non-`messages` fields. */
  readonly time?: number;
  readonly changes: readonly WebhookChange[];
}

export type WebhookChange =
  | { readonly field: "messages"; readonly value: MessagesValue }
  | { readonly field: string; readonly value: Readonly<Record<string, unknown>> };

export interface MessagesValue {
  readonly messaging_product: "whatsapp";
  readonly metadata: { readonly display_phone_number: string; readonly phone_number_id: string };
  readonly contacts?: readonly WebhookContact[];
  readonly messages?: readonly InboundMessage[];
  readonly statuses?: readonly StatusUpdate[];
  readonly errors?: readonly WebhookError[];
}

export interface WebhookContact {
  readonly profile?: { readonly name?: string; readonly username?: string };
  readonly wa_id?: string;
  readonly user_id?: string;
  readonly parent_user_id?: string;
  readonly identity_key_hash?: string;
}

export interface WebhookError {
  readonly code: number;
  readonly title: string;
  readonly message?: string;
  readonly error_data?: { readonly details: string };
  readonly href?: string;
}

export interface InboundMedia {
  readonly id: string;
  readonly mime_type: string;
  readonly sha256: string;
  readonly caption?: string;
  readonly filename?: string;
  readonly voice?: boolean;
  readonly animated?: boolean;
  readonly url?: string;
}

export interface InboundMessage {
  readonly from?: string;
  readonly from_user_id?: string;
  readonly id: string;
  readonly timestamp: string;
  readonly type: string;
  readonly context?: {
    readonly from?: string;
    readonly id?: string;
    readonly forwarded?: boolean;
    readonly frequently_forwarded?: boolean;
  };
  readonly text?: { readonly body: string };
  readonly image?: InboundMedia;
  readonly video?: InboundMedia;
  readonly audio?: InboundMedia;
  readonly document?: InboundMedia;
  readonly sticker?: InboundMedia;
  readonly location?: {
    readonly latitude: number;
    readonly longitude: number;
    readonly name?: string;
    readonly address?: string;
  };
  readonly contacts?: readonly unknown[];
  readonly button?: { readonly text: string; readonly payload: string };
  readonly interactive?:
    | {
        readonly type: "button_reply";
        readonly button_reply: { readonly id: string; readonly title: string };
      }
    | {
        readonly type: "list_reply";
        readonly list_reply: {
          readonly id: string;
          readonly title: string;
          readonly description?: string;
        };
      }
    | { readonly type: string; readonly [key: string]: unknown };
  readonly reaction?: { readonly message_id: string; readonly emoji?: string };
  readonly errors?: readonly WebhookError[];
  readonly [key: string]: unknown;
}

export type DeliveryStatus = "sent" | "delivered" | "read" | "played" | "failed";

export interface StatusUpdate {
  readonly id: string;
  readonly status: DeliveryStatus;
  readonly timestamp: string;
  readonly recipient_id?: string;
  readonly recipient_user_id?: string;
  readonly biz_opaque_callback_data?: string;
  readonly conversation?: {
    readonly id: string;
    readonly expiration_timestamp?: string;
    readonly origin: { readonly type: string };
  };
  readonly pricing?: {
    readonly billable?: boolean;
    readonly pricing_model: "PMP" | "CBP";
    readonly type?: "regular" | "free_customer_service" | "free_entry_point";
    readonly category: string;
  };
  readonly errors?: readonly WebhookError[];
}
