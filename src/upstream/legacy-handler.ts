// Adapts a legacy undici handler (onConnect/onHeaders/onData/…, which undici's own request() still hands out) to the controller interface.
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { errors, type Dispatcher } from 'undici';

/** A controller-interface handler that can always be told about an error. */
export type Handler = Dispatcher.DispatchHandler & {
  onResponseError(controller: Dispatcher.DispatchController, err: Error): void;
};

/**
 * The handler as the controller interface, so a wrapping dispatcher (guard.ts) needs only one. promgate's own
 * handler (fanout.ts) already is one; undici 7's `request()` still passes the legacy callbacks, undocumented
 * since undici 7 but driven by its pools, so they are adapted here (undici's WrapHandler does the same and is
 * not exported).
 */
export function controllerHandler(h: Dispatcher.DispatchHandler): Handler {
  if (h.onRequestStart && h.onResponseError) return h as Handler;
  return new LegacyAdapter(h);
}

/** The raw header list a legacy handler parses: the pool's own bytes when it kept them, else rebuilt. */
function raw(kept: Dispatcher.DispatchController['rawHeaders'], parsed: IncomingHttpHeaders): Buffer[] {
  if (Array.isArray(kept) && kept.every((b) => Buffer.isBuffer(b))) return kept as Buffer[];
  const out: Buffer[] = [];
  for (const [k, v] of Object.entries(parsed)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push(Buffer.from(k, 'latin1'), Buffer.from(one, 'latin1'));
  }
  return out;
}

class LegacyAdapter implements Handler {
  constructor(private readonly h: Dispatcher.DispatchHandler) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.h.onConnect?.((err) => controller.abort(err ?? new errors.RequestAbortedError()));
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    this.h.onUpgrade?.(statusCode, raw(controller.rawHeaders, headers), socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    const goOn = this.h.onHeaders?.(
      statusCode,
      raw(controller.rawHeaders, headers),
      () => controller.resume(),
      statusMessage ?? '',
    );
    if (goOn === false) controller.pause();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.h.onData?.(chunk) === false) controller.pause();
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.h.onComplete?.(raw(controller.rawTrailers, trailers).map((b) => b.toString('latin1')));
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.h.onError) throw err;
    this.h.onError(err);
  }
}
