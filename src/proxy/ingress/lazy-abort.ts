/**
 * A call's cancellation, with its `AbortSignal` made only when something asks for it. On Node 20
 * creating an AbortController (an EventTarget) showed as ≈4 % of the proxy's CPU under load,
 * and most calls go to entities, which never read the signal (see ../dispatch.ts's
 * `Cancellable`). `abort` before anyone asked is remembered: a signal made later is born aborted,
 * with the same reason.
 */
import { CallError, Status } from '../dispatch.js';
import type { Cancellable } from '../dispatch.js';

export class LazyAbort implements Cancellable {
  private controller: AbortController | undefined;
  private reason: CallError | undefined;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  /** Cancels the call with `reason` (CANCELLED with a message, or another status); later calls change nothing. */
  abort(reason: CallError = new CallError(Status.CANCELLED, 'the client went away')): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
