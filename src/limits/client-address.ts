// The address a request comes from, for per-client limits (the logic lives in lib/trusted-proxies.ts, which header templates share).
export { clientAddress } from '../lib/trusted-proxies.js';
