/**
 * `memattr demo` (what `npm start` runs): the `ovmf-dma` and `linux-boot` workloads for a
 * 1 GiB guest through every discard policy, on real memfd + guest_memfd where /dev/kvm allows
 * it and on the clearly labelled simulated backing elsewhere; prints one policy table each.
 *
 *   memattr demo [--guest 1GiB] [--budget 2MiB] [--seed N] [--simulated]
 */
import { POLICY_NAMES } from "../policy/create.js";
import { formatPolicyTable, type ReplayResult } from "../replay/index.js";
import { formatBytes } from "../trace/index.js";
import { bytesOption, intOption, parseOptions, UsageError } from "./_args.js";
import { createProgress, policyProgress, progressEnabled } from "./_progress.js";
import { chooseBackings, openWorkload, replayWorkload } from "./replay.js";

const USAGE = "usage: memattr demo [--guest 1GiB] [--budget 2MiB] [--seed N] [--simulated]\n";

/** A checked `memattr demo` command line. */
export interface DemoCommand {
  guestBytes: number;
  budgetBytes: number;
  seed: number;
  simulated: boolean;
}

/**
 * Reads a `memattr demo` command line.
 * @throws UsageError for anything the command cannot run.
 */
export function parseDemoArgs(args: string[]): DemoCommand {
  const { values } = parseOptions({
    args,
    options: {
      guest: { type: "string", default: "1GiB" },
      budget: { type: "string", default: "2MiB" },
      seed: { type: "string", default: "1" },
      simulated: { type: "boolean", default: false },
    },
  });
  return {
    guestBytes: bytesOption("guest", values.guest)!,
    budgetBytes: bytesOption("budget", values.budget)!,
    seed: intOption("seed", values.seed, 0, 2 ** 32 - 1)!,
    simulated: values.simulated!,
  };
}

/** Entry of `memattr demo`. @returns the exit code. */
export async function run(args: string[]): Promise<number> {
  let cmd: DemoCommand;
  try {
    cmd = parseDemoArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`memattr demo: ${err.message}\n${USAGE}`);
    return 2;
  }
  const { guestBytes, budgetBytes, seed, simulated } = cmd;
  const backings = await chooseBackings(simulated);
  process.stdout.write(
    `memattr demo — discard policies on a ${formatBytes(guestBytes)} guest, adaptive budget ${formatBytes(budgetBytes)}\n${backings.label}\n\n`,
  );
  for (const name of ["ovmf-dma", "linux-boot"]) {
    const workload = await openWorkload(name, { guestBytes, seed, countEvents: progressEnabled() });
    const progress = createProgress();
    let results: ReplayResult[];
    try {
      results = await replayWorkload(workload, POLICY_NAMES, budgetBytes, backings, guestBytes, { onProgress: policyProgress(progress, POLICY_NAMES) });
    } finally {
      progress.stop();
    }
    process.stdout.write(`${formatPolicyTable(results, workload.name)}\n`);
  }
  process.stdout.write(`${backings.label}\n`);
  return 0;
}
