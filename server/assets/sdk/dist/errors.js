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
