const encoder = new TextEncoder();
export function encodeData(data) {
    if (data instanceof Uint8Array)
        return data;
    const text = JSON.stringify(data === undefined ? null : data);
    if (text === undefined)
        throw new TypeError('data cannot be serialised as JSON');
    return encoder.encode(text);
}
