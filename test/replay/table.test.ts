import { describe, expect, it } from "vitest";
import { formatPolicyTable, replayAll, simulatedTargets } from "../../src/replay/index.js";
import { generateTrace } from "../../src/trace/index.js";

describe("formatPolicyTable", () => {
  it("prints one row per policy and labels simulated backings", async () => {
    const { header, events } = generateTrace("ovmf-dma", { guestBytes: 16 * 2 ** 20, transactions: 50 });
    const results = await replayAll(() => events, simulatedTargets(header.regions));
    const text = formatPolicyTable(results, "ovmf-dma");
    expect(text).toContain("simulated backing");
    for (const p of ["eager", "never", "batched", "adaptive"]) expect(text).toContain(`| ${p} (simulated) |`);
  });
});
