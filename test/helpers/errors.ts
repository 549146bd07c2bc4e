// Catching what a call throws, so a test can assert on the error's code and headers.

/** Runs fn and returns the error it throws or rejects with (fails the test when nothing is thrown). */
export async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, got none');
}
