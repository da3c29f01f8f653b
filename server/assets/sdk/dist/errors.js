/** A typed error from the protocol's table (docs/protocol.md), or a local one. */
export class ChorusError extends Error {
    /** The error code, e.g. 103 `permission_denied`. */
    code;
    /** Whether retrying may help. */
    temporary;
    constructor(code, message, temporary = false) {
        super(message);
        this.name = 'ChorusError';
        this.code = code;
        this.temporary = temporary;
    }
    /** Wraps an error object `{code, message, temporary}` as the wasm layer gives it. */
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
/** The connection was closed for good (a terminal close code); `reason` says why. */
export class ClosedError extends Error {
    reason;
    constructor(reason, message) {
        super(message ?? (reason ? `closed: ${reason.code} ${reason.name}: ${reason.reason}` : 'closed'));
        this.name = 'ClosedError';
        this.reason = reason;
    }
}
