// Container HEALTHCHECK without curl (distroless has none): exit 0 when promgate's /-/healthy answers 200, else 1.
const port = process.env.PROMGATE_SERVER__PORT ?? '9092';
const url = process.env.PROMGATE_HEALTHCHECK_URL ?? `http://127.0.0.1:${port}/-/healthy`;
try {
  const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
  await r.body?.cancel();
  process.exitCode = r.status === 200 ? 0 : 1;
} catch (e) {
  process.stderr.write(`healthcheck ${url}: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
