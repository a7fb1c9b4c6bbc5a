/**
 * Back-pressure on Node writable streams, written once for everything that writes to a socket
 * or an HTTP/2 stream (the proxy's ingress and its channel to the user function).
 */
import type { Writable } from 'node:stream';

/** Resolves when `writable` drains or closes, whichever comes first. */
export function whenDrained(writable: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      writable.off('drain', done);
      writable.off('close', done);
      resolve();
    };
    writable.on('drain', done);
    writable.on('close', done);
  });
}
