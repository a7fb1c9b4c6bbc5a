/**
 * What every `Stream` implementation shares: frames that arrive before the frame handler is
 * registered are held, the close handler fires exactly once (also when registered after the
 * stream closed), and nothing is delivered after close. It owns only this event plumbing;
 * moving bytes is the subclass's job (a socket, an in-memory pipe).
 */
import type { Stream } from '../transport.js';

export abstract class StreamBase implements Stream {
  private frameHandler: ((frame: Uint8Array) => void) | undefined;
  private held: Uint8Array[] = [];
  private drainHandler: (() => void) | undefined;
  private closeHandler: ((err?: Error) => void) | undefined;
  private closeReported = false;
  private closeError: Error | undefined;
  private readonly afterCloseHooks: (() => void)[] = [];
  /** True once the stream closed (locally or remotely); writes are then ignored. */
  protected closed = false;

  abstract readonly remote: string;
  abstract write(frame: Uint8Array): boolean;
  abstract close(): void;

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandler = handler;
    const held = this.held.splice(0);
    for (const frame of held) handler(frame);
  }

  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  onClose(handler: (err?: Error) => void): void {
    this.closeHandler = handler;
    if (this.closed) this.reportClose();
  }

  /** For the owning transport: runs `hook` once the stream closed (besides the user's close handler). */
  afterClose(hook: () => void): void {
    if (this.closed) hook();
    else this.afterCloseHooks.push(hook);
  }

  /** Hands one received frame up (or holds it until there is a handler). Dropped after close. */
  protected emitFrame(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.frameHandler) this.frameHandler(frame);
    else this.held.push(frame);
  }

  protected emitDrain(): void {
    if (!this.closed) this.drainHandler?.();
  }

  /** Marks the stream closed and tells the close handler, once; `err` says why when it broke. */
  protected finish(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    this.held = [];
    for (const hook of this.afterCloseHooks.splice(0)) hook();
    this.reportClose();
  }

  private reportClose(): void {
    if (this.closeReported || !this.closeHandler) return;
    this.closeReported = true;
    this.closeHandler(this.closeError);
  }
}
