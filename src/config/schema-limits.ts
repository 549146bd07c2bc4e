// Config schema of everything that protects the backends: query, rate and concurrency limits, circuit breakers, retries.
import { z } from 'zod';
import { duration, urlPath } from './schema-common.js';

/** A positive duration: a limit of 0 would refuse everything, so it is a mistake, not a way to switch off. */
const positiveDuration = (what: string) =>
  duration().refine((v) => v > 0, `must be greater than 0 (leave ${what} out to have no limit)`);

const queryLimitFields = {
  maxQueryRange: positiveDuration('maxQueryRange')
    .optional()
    .describe('Longest query_range window (end - start), e.g. 31d.'),
  maxPointsPerSeries: z
    .number()
    .int()
    .min(1, 'must be at least 1')
    .optional()
    .describe('Most points per series of a query_range ((end - start) / step). Prometheus refuses above 11000.'),
  minStep: positiveDuration('minStep').optional().describe('Smallest query_range step accepted.'),
  maxLookback: positiveDuration('maxLookback')
    .optional()
    .describe(
      'Oldest time a query may read, counted back from now: its start minus the longest range, subquery and offset it reaches through (@ timestamps included).',
    ),
  maxSelectorRange: positiveDuration('maxSelectorRange')
    .optional()
    .describe('Longest range selector [..] or subquery range inside the PromQL.'),
  queryTimeout: positiveDuration('queryTimeout')
    .optional()
    .describe(
      "Sent to Prometheus as the timeout parameter (a shorter one from the client is kept); never above the route's upstream.headersTimeout.",
    ),
  maxSeriesRange: positiveDuration('maxSeriesRange')
    .optional()
    .describe(
      'Longest start..end window of series, labels and label values requests; one without start is given end minus this.',
    ),
} as const;

export const queryLimitsSchema = z.strictObject(queryLimitFields);
/** The global defaults: Prometheus' own 11,000 points per series unless the operator says otherwise. */
const globalQueryLimitsSchema = z.strictObject({
  ...queryLimitFields,
  maxPointsPerSeries: z
    .number()
    .int()
    .min(1, 'must be at least 1')
    .default(11000)
    .describe("Most points per series of a query_range ((end - start) / step); Prometheus' own limit."),
});

const rateFields = {
  rate: z
    .number()
    .gt(0, 'must be greater than 0 (a rate of 0 refuses everything; leave rate out to have no limit)')
    .describe("Tokens added per second to each identity's bucket on the route."),
  burst: z
    .number()
    .min(1, 'must be at least 1 (a bucket smaller than one request refuses everything)')
    .describe('Bucket size: requests an identity may send at once after being idle.'),
} as const;

export const rateSchema = z.strictObject({
  ...rateFields,
  costs: z
    .record(urlPath, z.number().gt(0, 'must be greater than 0'))
    .default({})
    .describe('Tokens one request to an endpoint costs (default 1), keyed by API path, e.g. {/api/v1/query_range: 5}.'),
  failOpen: z
    .boolean()
    .default(true)
    .describe(
      'When the shared store (Redis) cannot be reached: true admits requests (logged and counted), false refuses them with 503.',
    ),
});

export const concurrencySchema = z.strictObject({
  route: z
    .number()
    .int()
    .min(1, 'must be at least 1')
    .optional()
    .describe('Most requests of the route in flight to the upstream at once.'),
  tenant: z
    .number()
    .int()
    .min(1, 'must be at least 1')
    .optional()
    .describe('Most requests of one tenant in flight on the route at once.'),
  queue: z
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(16)
    .describe('Requests that wait for a slot (first come, first served); beyond it they are refused at once.'),
  queueTimeout: duration().prefault('2s').describe('Longest wait in the queue before the request is refused.'),
  status: z
    .union([z.literal(429), z.literal(503)])
    .default(503)
    .describe('Status of a refusal: 503 (server busy) or 429 (client over its share).'),
});

const redisSchema = z.strictObject({
  url: z
    .string()
    .optional()
    .describe('redis:// or rediss:// URL; default: auth.oidc.redisUrl when the session store is Redis.'),
  keyPrefix: z.string().default('promgate:limits:'),
  commandTimeout: duration()
    .prefault('500ms')
    .describe('A rate-limit decision waits this long for Redis before it counts as unreachable.'),
});

/** What a route may override (limits.routes.<name>). */
export const routeLimitsSchema = z.strictObject({
  query: queryLimitsSchema.optional(),
  rate: rateSchema.optional(),
  concurrency: concurrencySchema.optional(),
});

/** What a tenant rule may override: the per-identity and per-tenant figures, not the route's own. */
export const tenantLimitsSchema = z.strictObject({
  query: queryLimitsSchema.optional(),
  rate: z
    .strictObject(rateFields)
    .optional()
    .describe("This rule's identities get this bucket instead (costs and failOpen stay the route's)."),
  concurrency: z.strictObject({ tenant: concurrencySchema.shape.tenant }).optional(),
});

export const limitsSchema = z.strictObject({
  query: globalQueryLimitsSchema
    .default(() => globalQueryLimitsSchema.parse({}))
    .describe('Query limits for every route and tenant (routes and tenant rules override them key by key).'),
  rate: rateSchema
    .optional()
    .describe('Token bucket per route and identity (the client address for anonymous callers). Off when absent.'),
  concurrency: concurrencySchema
    .optional()
    .describe('In-flight limits per route and per tenant, with a short queue. Off when absent.'),
  redis: redisSchema
    .optional()
    .describe(
      'Share rate-limit buckets between replicas through Redis (atomic Lua script). Absent: each process counts alone.',
    ),
  routes: z.record(z.string(), routeLimitsSchema).default({}).describe('Overrides by route name.'),
});

export const breakerSchema = z.strictObject({
  failures: z
    .number()
    .int()
    .min(1, 'must be at least 1')
    .default(5)
    .describe('Consecutive failures (connection errors, timeouts, 5xx) that open the circuit.'),
  failureRatio: z
    .number()
    .gt(0)
    .max(1)
    .optional()
    .describe('Also open when this share of the calls in the window failed.'),
  window: duration().prefault('30s').describe('Window of failureRatio.'),
  minRequests: z.number().int().min(1).default(20).describe('Calls the window needs before failureRatio is applied.'),
  coolDown: duration()
    .prefault('10s')
    .describe('How long the open circuit refuses calls (503 + Retry-After) before a probe may go through.'),
  halfOpenProbes: z
    .number()
    .int()
    .min(1)
    .default(1)
    .describe('Calls let through at once while half-open; a success closes the circuit, a failure opens it again.'),
});

export const retrySchema = z.strictObject({
  attempts: z
    .number()
    .int()
    .min(1)
    .max(10)
    .default(2)
    .describe('Retries after a failed connect (idempotent requests, nothing sent yet).'),
  backoff: duration()
    .prefault('100ms')
    .describe('First retry waits between half of this and this; each further one doubles it (jittered).'),
  maxBackoff: duration().prefault('2s'),
  budget: z
    .number()
    .min(0)
    .max(1)
    .default(0.2)
    .describe('Retries may add at most this share of the calls of the last 10 s ...'),
  minRetries: z.number().int().min(0).default(3).describe('... or this many, whichever is larger.'),
});

export type LimitsConfig = z.output<typeof limitsSchema>;
export type QueryLimitsConfig = z.output<typeof queryLimitsSchema>;
export type RateConfig = z.output<typeof rateSchema>;
export type ConcurrencyConfig = z.output<typeof concurrencySchema>;
export type RouteLimitsConfig = z.output<typeof routeLimitsSchema>;
export type TenantLimitsConfig = z.output<typeof tenantLimitsSchema>;
export type BreakerConfig = z.output<typeof breakerSchema>;
export type RetryConfig = z.output<typeof retrySchema>;
