/**
 * The proxy benchmark's request: the shopping cart's `AddLineItem`
 * (`samples/shopping-cart/proto/shoppingcart.proto`), encoded by hand for the load generator
 * (four fields, no library, the same bytes protobufjs writes), and the protobufjs type for the
 * baseline servers, which decode what they receive as a real server would.
 */
import { join } from 'node:path';
import type protobuf from 'protobufjs';
import { loadProtoFiles } from '../../src/protocol/index.js';

export interface AddLineItem {
  userId: string;
  productId: string;
  name: string;
  quantity: number;
}

export const shoppingCartProtoDir = join(import.meta.dirname, '..', '..', 'samples', 'shopping-cart', 'proto');

function stringField(tag: number, value: string, out: number[]): void {
  const bytes = Buffer.from(value, 'utf8');
  out.push(tag, bytes.length, ...bytes); // every string here is shorter than 128 bytes
}

/** `AddLineItem` in protobuf binary (strings under 128 bytes, quantity 0…127). */
export function encodeAddLineItem(item: AddLineItem): Uint8Array {
  const out: number[] = [];
  stringField(0x0a, item.userId, out);
  stringField(0x12, item.productId, out);
  stringField(0x1a, item.name, out);
  if (item.quantity !== 0) out.push(0x20, item.quantity);
  return Uint8Array.from(out);
}

/** The protobufjs `com.example.shoppingcart.AddLineItem` type (loaded from the sample's proto). */
export function addLineItemType(): protobuf.Type {
  return loadProtoFiles(['shoppingcart.proto'], { includeDirs: [shoppingCartProtoDir], keepCase: false }).lookupType('com.example.shoppingcart.AddLineItem');
}
