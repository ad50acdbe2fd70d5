import type { StompHeaders } from '../protocol/frame.js';

/**
 * Bytes counted for every message on top of its body and headers: the objects that carry it
 * (record, header map, message id, queue slot). A fixed 256 bytes, so that a flood of empty
 * messages with no headers still counts against the byte bounds.
 */
export const MESSAGE_OVERHEAD_BYTES = 256;

/**
 * The bytes a message held in memory is counted as by every byte bound (`broker.maxHeldBytes`,
 * `broker.maxUnackedBytes`, `limits.maxTransactionBytes`): the body's length, plus the UTF-8
 * length of each header name and value, plus `destination` when it is kept outside `headers`,
 * plus {@link MESSAGE_OVERHEAD_BYTES}. Compute it once per message: it walks every header.
 */
export function messageSize(headers: Readonly<StompHeaders>, body: Buffer, destination = ''): number {
  let size = MESSAGE_OVERHEAD_BYTES + body.length + Buffer.byteLength(destination);
  for (const name in headers) size += Buffer.byteLength(name) + Buffer.byteLength(headers[name]);
  return size;
}
