// Application data leaves as bytes: a Uint8Array as it is, anything else as JSON.
const encoder = new TextEncoder();
/** The bytes of `data`: a Uint8Array unchanged, any other value as its JSON text. */
export function encodeData(data) {
    if (data instanceof Uint8Array)
        return data;
    const text = JSON.stringify(data === undefined ? null : data);
    if (text === undefined)
        throw new TypeError('data cannot be serialised as JSON');
    return encoder.encode(text);
}
