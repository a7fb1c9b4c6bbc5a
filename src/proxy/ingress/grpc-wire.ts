/**
 * gRPC's wire details, shared by the HTTP/2 gRPC server and gRPC-Web: the gRPC-Web trailers
 * frame, and the mapping between HTTP headers and protocol metadata. Pure. Message framing, the
 * `grpc-message` encoding and `grpc-timeout` are the protocol layer's
 * (src/protocol/grpc-frames.ts), re-exported here.
 *
 * Metadata, as the reference proxy builds it: every request header except HTTP/2 pseudo-headers,
 * connection-level headers (`te`, `connection`, `host`, `content-length`, …), `content-type` and
 * gRPC's own transport headers (`grpc-*`). `-bin` headers are base64-decoded into `bytes_value`.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { encodeFrame, encodeGrpcMessage, GRPC_ACCEPT_ENCODING, type MetadataEntry } from '../../protocol/index.js';
import { Status } from '../dispatch.js';

// The framing, `grpc-message` text and `grpc-timeout` live in the protocol layer (the function
// library's server speaks them too); re-exported for the ingress.
export { encodeFrame, encodeGrpcMessage, FrameDecoder, GRPC_ACCEPT_ENCODING, grpcEncoding, GrpcFrameError, parseGrpcTimeout } from '../../protocol/index.js';

/** Why a call whose `grpc-encoding` the proxy cannot inflate is UNIMPLEMENTED (gRPC and gRPC-Web alike). */
export function unsupportedEncoding(header: string | string[] | undefined): string {
  return `message encoding '${String(header)}' is not supported; the proxy accepts ${GRPC_ACCEPT_ENCODING}`;
}

/** The flag byte of a gRPC-Web trailers frame. */
export const FLAG_TRAILERS = 0x80;

/** Request headers that are transport, not metadata. */
const NOT_METADATA = new Set(['te', 'content-type', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'proxy-connection']);

/** Request headers as protocol metadata (see the module comment). */
export function metadataFromHeaders(headers: IncomingHttpHeaders): MetadataEntry[] {
  const entries: MetadataEntry[] = [];
  for (const key in headers) {
    if (key.charCodeAt(0) === 58 /* : */ || NOT_METADATA.has(key) || key.startsWith('grpc-')) continue;
    const value = headers[key];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : key.endsWith('-bin') ? value.split(',') : [value];
    for (const one of values) {
      if (key.endsWith('-bin')) entries.push({ key, bytes_value: Buffer.from(one.trim(), 'base64') });
      else entries.push({ key, string_value: one });
    }
  }
  return entries;
}

/** Response headers metadata may not set. */
const RESERVED_RESPONSE = new Set([...NOT_METADATA, 'date', 'server', 'access-control-allow-origin', 'access-control-expose-headers']);
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Adds reply metadata to response headers: string values, and (when `binary`) bytes values of
 * `-bin` keys as base64. Entries with reserved or invalid names or values are skipped, and
 * their keys returned, so that the caller can log them.
 */
export function addMetadataHeaders(entries: readonly MetadataEntry[] | undefined, headers: OutgoingHttpHeaders, binary: boolean): string[] {
  const skipped: string[] = [];
  if (entries === undefined) return skipped;
  for (const entry of entries) {
    const key = (entry.key ?? '').toLowerCase();
    let value: string | undefined;
    if (entry.string_value !== undefined && entry.string_value !== null && !key.endsWith('-bin')) value = entry.string_value;
    else if (binary && entry.bytes_value && key.endsWith('-bin')) value = Buffer.from(entry.bytes_value).toString('base64');
    if (value === undefined || !HEADER_NAME.test(key) || key.startsWith('grpc-') || RESERVED_RESPONSE.has(key) || !HEADER_VALUE.test(value)) {
      skipped.push(key);
      continue;
    }
    const existing = headers[key];
    if (existing === undefined) headers[key] = value;
    else headers[key] = Array.isArray(existing) ? [...existing, value] : [String(existing), value];
  }
  return skipped;
}

/** The gRPC-Web trailers frame: `grpc-status` and `grpc-message` as an HTTP/1 header block. */
export function trailersFrame(status: number, message: string | undefined): Buffer {
  let block = `grpc-status:${status}\r\n`;
  if (message) block += `grpc-message:${encodeGrpcMessage(message)}\r\n`;
  return encodeFrame(Buffer.from(block, 'latin1'), FLAG_TRAILERS);
}

/** Status names by code, built once: this runs for every call's metrics. */
const STATUS_NAMES: readonly string[] = Object.entries(Status).reduce<string[]>((names, [name, value]) => {
  names[value] = name;
  return names;
}, []);

/** The name of a status code (`UNKNOWN`, `NOT_FOUND`), for metrics and logs. */
export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? String(code);
}

