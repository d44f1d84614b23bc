// One-line check that a call throws an error with a given `code` (and class).
import { expect } from "vitest";

/** Runs `fn`, expects it to throw an error with `code` (and class, if given); returns the error. */
export function expectCode<E extends Error>(fn: () => unknown, code: string, cls?: new (...a: never[]) => E): E & { code: string } {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected an error with code ${code}`).toBeInstanceOf(cls ?? Error);
  expect((caught as { code?: string }).code).toBe(code);
  return caught as E & { code: string };
}
