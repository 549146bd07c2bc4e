// `npm run test:unit` (scripts/test.mjs --unit) sets PROMGATE_TEST_UNIT=1: the fast loop starts no real server
// process, so the few tests outside test/e2e/ that start one skip there, with this reason; `npm test` runs them.
export const IN_UNIT_RUN = process.env.PROMGATE_TEST_UNIT === '1';

/** A skip reason in the unit run, false otherwise: `{ skip: startsServer('a real Prometheus') }`. */
export const startsServer = (what: string): string | false =>
  IN_UNIT_RUN ? `starts ${what}: npm test runs it, npm run test:unit does not` : false;
