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
};
export class ChorusError extends Error {
    code;
    temporary;
    constructor(code, message, temporary = false) {
        super(message);
        this.name = 'ChorusError';
        this.code = code;
        this.temporary = temporary;
    }
    static from(value) {
        if (value instanceof ChorusError)
            return value;
        if (value && typeof value === 'object' && 'code' in value) {
            const v = value;
            return new ChorusError(v.code, v.message ?? '', v.temporary ?? false);
        }
        return new ChorusError(0, value instanceof Error ? value.message : String(value));
    }
}
export class ClosedError extends Error {
    reason;
    constructor(reason, message) {
        super(message ?? (reason ? `closed: ${reason.code} ${reason.name}: ${reason.reason}` : 'closed'));
        this.name = 'ClosedError';
        this.reason = reason;
    }
}
