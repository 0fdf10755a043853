/* Types of hub-client.js, the WhatsApp Hub socket client (protocol: docs/websocket.md). */

export declare const VERSION: string;
export declare const PROTOCOL_VERSION: number;
export declare const STOP_CODES: readonly number[];
export declare const KEEPALIVE_CLOSE: number;

/** A frame from the hub: an event carries `seq`; answers carry the `request_id` they answer. */
export interface HubFrame {
  type: string;
  seq?: number;
  request_id?: string | number;
  message?: Record<string, unknown>;
  conversation?: Record<string, unknown>;
  [field: string]: unknown;
}

/** `message.created`, `message.updated` or `conversation.updated`, with its `seq`. */
export interface HubEvent extends HubFrame {
  seq: number;
}

export type HubState = "idle" | "connecting" | "open" | "reconnecting" | "stopped";

export interface HubStateDetail {
  url?: string;
  after?: number | null;
  code?: number;
  reason?: string;
  /** Milliseconds until the next attempt (state "reconnecting"). */
  delay?: number;
}

/** The part of the WebSocket interface the client uses (a browser's, React Native's, or `ws`). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface BackoffOptions {
  /** First delay in ms (default 500). */
  initial?: number;
  /** Ceiling in ms (default 30000). */
  max?: number;
}

export interface ConnectOptions {
  /** ws:// or wss:// URL of `/ws/whatsapp/inbox/` or `/ws/whatsapp/conversations/<customer>/`. */
  url: string;
  /** An API token, sent in the `bearer` subprotocol (never in the URL). */
  token?: string | null;
  /** No token: the browser sends the session cookie of a staff user (a page of the hub's own site).
   * One of `token` and `session` is required. */
  session?: boolean;
  /** The last seq the app processed (persisted from `client.seq`): the server replays what followed. */
  after?: number | null;
  onEvent?: (event: HubEvent) => void;
  /** `after` is older than the retained log: refetch over REST; the live stream continues. Without
   * it, the `resync_required` frame goes to `onEvent`. */
  onResync?: (frame: HubFrame) => void;
  /** Every other frame: `presence` and `agents` (no seq, never replayed), and answers to `post()`;
   * pongs stay inside the client. */
  onFrame?: (frame: HubFrame) => void;
  onState?: (state: HubState, detail: HubStateDetail) => void;
  /** Error frames that answer no request, and exceptions thrown by the callbacks. */
  onError?: (error: unknown) => void;
  /** Default: globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** ms between pings (default 10000). */
  pingInterval?: number;
  /** ms a ping may go without any frame before the socket counts as dead (default 10000). */
  pongTimeout?: number;
  /** Default timeout of `send` in ms (default 15000). */
  requestTimeout?: number;
  /** ms a handshake may take (default 10000). */
  connectTimeout?: number;
  backoff?: BackoffOptions;
  /** A connection open this long (ms) resets the backoff (default 10000). */
  stableAfter?: number;
}

export declare class HubError extends Error {
  /** The server's error code, or "timeout" / "closed" / "duplicate_request_id" from the client. */
  readonly code: string;
  readonly detail: string | undefined;
  readonly frame: HubFrame | Record<string, unknown> | null;
  constructor(code: string, detail?: string, frame?: HubFrame | Record<string, unknown> | null);
}

export interface SendOptions {
  timeout?: number;
}

export interface MarkReadOptions {
  phoneNumber?: string;
  messageIds?: Array<number | string>;
  business?: string;
}

export interface PresenceOptions {
  /** The customer (wa_id or BSUID); omitted on a conversation socket. */
  conversation?: string;
  business?: string;
  state: "viewing" | "typing" | "idle";
}

export declare class HubClient {
  constructor(options: ConnectOptions);
  /** The last seq received, or null before the first event. */
  seq: number | null;
  readonly state: HubState;
  /** The code of the last close (4000 when the client gave up on a silent socket). */
  readonly closeCode: number | null;
  send(frame: { type: string; [field: string]: unknown }, options?: SendOptions): Promise<HubFrame>;
  /** Send now, without request_id, answer or retry; false when the socket is not open. */
  post(frame: { type: string; [field: string]: unknown }): boolean;
  /** Resolves with `presence.ok`. */
  presence(presence: PresenceOptions, options?: SendOptions): Promise<HubFrame>;
  markRead(target?: MarkReadOptions, options?: SendOptions): Promise<HubFrame>;
  sendMessage(
    body: { to: string; [field: string]: unknown },
    options?: { idempotencyKey?: string; timeout?: number },
  ): Promise<Record<string, unknown>>;
  close(): void;
}

export declare function connect(options: ConnectOptions): HubClient;
export declare function withAfter(url: string, after: number | null | undefined): string;
export declare function backoffDelay(attempt: number, options?: BackoffOptions, random?: () => number): number;
export declare function shouldReconnect(code: number): boolean;
