// ioredis (~24 MB of RSS) is loaded only when a Redis session store or shared rate limits are configured.
import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';

export const loadRedis = (): typeof IORedis.Redis =>
  (createRequire(import.meta.url)('ioredis') as typeof IORedis).Redis;
