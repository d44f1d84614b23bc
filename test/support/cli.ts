// Runs a `memattr` subcommand in-process, capturing what it writes to stdout and stderr.
import { vi } from "vitest";

/** What a subcommand returned and printed. */
export interface CommandOutput {
  code: number;
  out: string;
  err: string;
}

/** Calls `run(args)` of a src/cli/*.ts module with stdout and stderr captured. */
export async function captureCommand(run: (args: string[]) => Promise<number>, args: string[]): Promise<CommandOutput> {
  let out = "";
  let err = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    return { code: await run(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
