import type { CloseReason } from './types.js';

/**
 * The codes of the protocol's error table (docs/protocol.md, 6.1) by name:
 * 1xx come from the server, 2xx from the SDK itself (the shared state
 * machine). Codes 1000-1999 are the application's, returned by server hooks.
 */
export const ErrorCode = {
  INTERNAL: 100,
  UNAUTHORIZED: 101,
  UNKNOWN_CHANNEL: 102,
  PERMISSION_DENIED: 103,
  UNKNOWN_OP: 104,
  ALREADY_SUBSCRIBED: 105,
  LIMIT_EXCEEDED: 106,
  BAD_REQUEST: 107,
  NOT_AVAILABLE: 108,
  TOKEN_EXPIRED: 109,
  TOO_MANY_REQUESTS: 110,
  NOT_SUBSCRIBED: 111,
  CHANNEL_FULL: 112,
  MESSAGE_TOO_LARGE: 113,
  NOT_CONNECTED: 114,
  UNAVAILABLE: 115,
  TIMEOUT: 200,
  CONNECTION_LOST: 201,
  CLIENT_CLOSED: 202,
  QUEUE_FULL: 203,
  DUPLICATE_SUBSCRIPTION: 204,
  INVALID_CHANNEL: 205,
} as const;

/** One of the protocol's error codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * A typed error from the protocol's table (docs/protocol.md, 6.1): compare
 * `code` with {@link ErrorCode}. Code 0 is the only one outside the table:
 * a subscription you unsubscribed before it was live, or an error that came
 * without a code.
 */
export class ChorusError extends Error {
  /** The error code, e.g. 103 `permission_denied`. */
  readonly code: number;
  /** Whether retrying may help. */
  readonly temporary: boolean;

  constructor(code: number, message: string, temporary = false) {
    super(message);
    this.name = 'ChorusError';
    this.code = code;
    this.temporary = temporary;
  }

  /** Wraps an error object `{code, message, temporary}` as the wasm layer gives it. */
  static from(value: unknown): ChorusError {
    if (value instanceof ChorusError) return value;
    if (value && typeof value === 'object' && 'code' in value) {
      const v = value as { code: number; message?: string; temporary?: boolean };
      return new ChorusError(v.code, v.message ?? '', v.temporary ?? false);
    }
    return new ChorusError(0, value instanceof Error ? value.message : String(value));
  }
}

/** The connection was closed for good (a terminal close code); `reason` says why. */
export class ClosedError extends Error {
  readonly reason: CloseReason | undefined;

  constructor(reason: CloseReason | undefined, message?: string) {
    super(message ?? (reason ? `closed: ${reason.code} ${reason.name}: ${reason.reason}` : 'closed'));
    this.name = 'ClosedError';
    this.reason = reason;
  }
}
