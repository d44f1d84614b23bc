// Runs the registered bench suites (all of them, or those named on the command line, e.g.
// `npm run bench -- core`). A suite module's default export is { name, groups() }; register
// it in SUITES below. (Standalone scripts such as backing.bench.ts run by themselves.)
// MEMATTR_BENCH_QUICK=1 shortens every case; results go to bench/results/<name>.json, or to
// MEMATTR_BENCH_OUT when set (CI: a temporary folder, so committed results change only on purpose).
import { runSuite, type BenchGroup } from "./_harness.js";
import { writeSummary } from "./_report.js";

interface Suite {
  name: string;
  groups: () => Promise<BenchGroup[]>;
}

const SUITES: Record<string, () => Promise<{ default: Suite }>> = {
  core: () => import("./core.bench.js"),
  model: () => import("./model.bench.js"),
  peers: () => import("./peers.bench.js"),
  sweep: () => import("./sweep.bench.js"),
  adversarial: () => import("./adversarial.bench.js"),
};

const wanted = process.argv.slice(2);
for (const [name, load] of Object.entries(SUITES)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const suite = (await load()).default;
  console.log(`## ${suite.name} (Node ${process.version})\n`);
  await runSuite(suite.name, await suite.groups());
}
await writeSummary(); // targets table + bench/results/summary.md (machine, every table of this run)
