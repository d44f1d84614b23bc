import { describe, expect, it } from "vitest";
import { formatPolicyTable, POLICY_TABLE_FOOTNOTE, replayAll, simulatedTargets } from "../../src/replay/index.js";
import { generateTrace } from "../../src/trace/index.js";

describe("formatPolicyTable", () => {
  it("prints one row per policy and labels simulated backings", async () => {
    const { header, events } = generateTrace("ovmf-dma", { guestBytes: 16 * 2 ** 20, transactions: 50 });
    const results = await replayAll(() => events, simulatedTargets(header.regions));
    const text = formatPolicyTable(results, "ovmf-dma");
    expect(text).toContain("simulated backing");
    for (const p of ["eager", "never", "batched", "adaptive"]) expect(text).toContain(`| ${p} (simulated) |`);
  });

  it("shows the launch copy and the peak after launch in their own columns, defined in a footnote", async () => {
    const { header, events } = generateTrace("ovmf-dma", { guestBytes: 16 * 2 ** 20, transactions: 50 });
    const [r] = await replayAll(() => events, simulatedTargets(header.regions), { policies: ["never"] });
    const text = formatPolicyTable([r!, { ...r!, policy: "unlaunched", peakDoubleAllocatedAfterLaunchBytes: null }]);
    const lines = text.split("\n");
    const [head, , row, other] = lines.slice(lines.findIndex((l) => l.startsWith("| policy |")));
    const cells = (line: string) =>
      line
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim());
    const col = (name: string) => cells(head!).indexOf(name);
    expect(col("after launch")).toBe(col("peak double-alloc") + 1);
    expect(cells(row!)[col("peak double-alloc")]).toBe("1 MiB"); // the in-place copy chunk
    expect(cells(row!)[col("after launch")]).toBe(`${r!.peakDoubleAllocatedAfterLaunchBytes! / 1024} KiB`);
    expect(cells(other!)[col("after launch")]).toBe("—");
    expect(col("launch copy ms")).toBeLessThan(col("conversion path ms"));
    expect(text).toContain(POLICY_TABLE_FOOTNOTE);
  });
});
