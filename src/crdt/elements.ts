/**
 * Elements, map keys and register values are strings. Callers that hold bytes (a protobuf
 * `Any`, a serialized key) turn them into a canonical string here, so equal bytes are equal
 * elements, and back. Base64 keeps encodings JSON-safe.
 */

/** The canonical element for `bytes`. */
export function bytesToElement(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** The bytes of an element made by `bytesToElement`. */
export function elementToBytes(element: string): Uint8Array {
  return new Uint8Array(Buffer.from(element, 'base64'));
}
