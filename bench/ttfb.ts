// Scenario f's client side: waves of concurrent large answers read to the end, and time to first byte (node:http).
import { Agent, request } from 'node:http';
import { median } from './measure.js';

export interface Fetched {
  status: number;
  /** ms from sending to the response head, and to the first body byte. */
  headMs: number;
  firstByteMs: number;
  totalMs: number;
  bytes: number;
}

export function fetchTimed(url: string, headers: Record<string, string>, agent: Agent): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let headMs = 0;
    let firstByteMs = 0;
    let bytes = 0;
    const req = request(url, { headers, agent }, (res) => {
      headMs = performance.now() - t0;
      res.on('data', (c: Buffer) => {
        if (bytes === 0) firstByteMs = performance.now() - t0;
        bytes += c.length;
      });
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, headMs, firstByteMs, totalMs: performance.now() - t0, bytes }),
      );
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
}

/** ms from sending a request (on a fresh connection) to the first body byte; the rest of the answer is not read. */
export function firstByte(url: string, headers: Record<string, string>): Promise<{ ms: number; status: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(url, { headers, agent: false }, (res) => {
      res.once('data', () => {
        resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0 });
        req.destroy();
      });
      res.once('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0 }));
    });
    req.once('error', (e) => (req.destroyed ? undefined : reject(e)));
    req.end();
  });
}

/** Time to first byte of each target, `n` rounds interleaved with the order rotated each round; medians in ms. */
export async function measureTtfb(
  urls: Record<string, string>,
  headers: Record<string, string>,
  n: number,
): Promise<{ ms: Map<string, number>; errors: number }> {
  const all = new Map<string, number[]>(Object.keys(urls).map((k) => [k, []]));
  const entries = Object.entries(urls);
  let errors = 0;
  for (let i = 0; i < n; i++) {
    for (const [role, url] of [...entries.slice(i % entries.length), ...entries.slice(0, i % entries.length)]) {
      try {
        const r = await firstByte(url, headers);
        if (r.status < 200 || r.status > 299) errors++;
        all.get(role)!.push(r.ms);
      } catch {
        errors++;
      }
    }
  }
  return { ms: new Map([...all].map(([k, v]) => [k, median(v)])), errors };
}

/** One wave: every URL fetched at once and read to the end; per-answer times and the wave's wall time. */
export async function wave(
  urls: readonly string[],
  headers: Record<string, string>,
): Promise<{ seconds: number; bytes: number; times: number[]; errors: number }> {
  const t0 = performance.now();
  const agent = new Agent({ keepAlive: false, maxSockets: urls.length });
  const out = await Promise.allSettled(urls.map((u) => fetchTimed(u, headers, agent)));
  agent.destroy();
  const ok = out.flatMap((r) => (r.status === 'fulfilled' && r.value.status === 200 ? [r.value] : []));
  return {
    seconds: (performance.now() - t0) / 1000,
    bytes: ok.reduce((s, r) => s + r.bytes, 0),
    times: ok.map((r) => r.totalMs),
    errors: urls.length - ok.length,
  };
}
