/**
 * `memattr demo` (what `npm start` runs): the `ovmf-dma` and `linux-boot` workloads for a
 * 1 GiB guest through every discard policy, on real memfd + guest_memfd where /dev/kvm allows
 * it and on the clearly labelled simulated backing elsewhere; prints one policy table each.
 *
 *   memattr demo [--guest 1GiB] [--budget 2MiB] [--seed N] [--simulated]
 */
import { parseArgs } from "node:util";
import { POLICY_NAMES } from "../policy/create.js";
import { formatPolicyTable } from "../replay/index.js";
import { formatBytes, parseBytes } from "../trace/index.js";
import { chooseBackings, openWorkload, replayWorkload } from "./replay.js";

/** Entry of `memattr demo`. @returns the exit code. */
export async function run(args: string[]): Promise<number> {
  let guestBytes: number;
  let budgetBytes: number;
  let seed: number;
  let simulated: boolean;
  try {
    const { values } = parseArgs({
      args,
      options: {
        guest: { type: "string", default: "1GiB" },
        budget: { type: "string", default: "2MiB" },
        seed: { type: "string", default: "1" },
        simulated: { type: "boolean", default: false },
      },
    });
    guestBytes = parseBytes(values.guest!);
    budgetBytes = parseBytes(values.budget!);
    seed = Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer`);
    simulated = values.simulated!;
  } catch (err) {
    process.stderr.write(`memattr demo: ${(err as Error).message}\nusage: memattr demo [--guest 1GiB] [--budget 2MiB] [--seed N] [--simulated]\n`);
    return 2;
  }
  const backings = await chooseBackings(simulated);
  process.stdout.write(
    `memattr demo — discard policies on a ${formatBytes(guestBytes)} guest, adaptive budget ${formatBytes(budgetBytes)}\n${backings.label}\n\n`,
  );
  for (const name of ["ovmf-dma", "linux-boot"]) {
    const workload = await openWorkload(name, { guestBytes, seed, countEvents: process.stderr.isTTY === true });
    const results = await replayWorkload(workload, POLICY_NAMES, budgetBytes, backings, guestBytes);
    process.stdout.write(`${formatPolicyTable(results, workload.name)}\n`);
  }
  process.stdout.write(`${backings.label}\n`);
  return 0;
}
