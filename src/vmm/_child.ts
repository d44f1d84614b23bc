// Entry of the child process that runs one guest (see child.ts): reads a ChildJob as JSON from
// argv[2], prints one JSON line with the VmmReport (bigints as decimal strings), exits.
import { Kvm } from "../kvm/system.js";
import { buildDmaGuest, buildHostileGuest } from "./guest/program.js";
import { guestLayout } from "./layout.js";
import { type ChildJob, jsonReplacer, reviveRequests } from "./child.js";
import { runVmm } from "./vmm.js";

const job = JSON.parse(process.argv[2] ?? "{}") as ChildJob;
const layout = guestLayout(job.ramBytes);
const code =
  job.guest.kind === "dma"
    ? buildDmaGuest({ layout, path: job.path, boot: job.guest.boot })
    : buildHostileGuest({ layout, path: job.path, requests: reviveRequests(job.guest.requests), floodFromGfn: job.guest.floodFromGfn });
const before = performance.now();
const report = await runVmm({
  code,
  layout,
  policy: job.policy,
  budgetBytes: job.budgetBytes,
  transactions: job.transactions,
  verify: job.verify,
  recordRequests: job.recordRequests,
  maxExits: job.maxExits,
  slotUpdates: job.slotUpdates,
});
process.stdout.write(`${JSON.stringify({ ok: true, kvm: Kvm.isAvailable(), wallMs: performance.now() - before, report }, jsonReplacer)}\n`);
