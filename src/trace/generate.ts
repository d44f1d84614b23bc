/**
 * The trace generators by name, for the CLI and the visualiser: `ovmf-dma`, `linux-boot`,
 * `adversarial`, `hotplug`. Each is seedable, sized by guest memory in bytes, lazy, and deterministic:
 * the same name and options give the same events, in Node and in a browser.
 */
import { MemattrRangeError } from "../core/errors.js";
import type { GeneratedTrace } from "./_gen.js";
import { generateAdversarial } from "./gen-adversarial.js";
import type { AdversarialOptions } from "./gen-adversarial.js";
import { generateLinuxBoot } from "./gen-linux-boot.js";
import type { LinuxBootOptions } from "./gen-linux-boot.js";
import { generateHotplug } from "./gen-hotplug.js";
import type { HotplugOptions } from "./gen-hotplug.js";
import { generateOvmfDma } from "./gen-ovmf-dma.js";
import type { OvmfDmaOptions } from "./gen-ovmf-dma.js";

export type { CommonGeneratorOptions, GeneratedTrace } from "./_gen.js";

/** Names of the built-in generators. */
export type GeneratorName = "ovmf-dma" | "linux-boot" | "adversarial" | "hotplug";

/** Options of each generator, by name. */
export interface GeneratorOptionsByName {
  "ovmf-dma": OvmfDmaOptions;
  "linux-boot": LinuxBootOptions;
  adversarial: AdversarialOptions;
  hotplug: HotplugOptions;
}

/** The built-in generators with a one-line summary each. */
export const GENERATORS: Readonly<Record<GeneratorName, { summary: string }>> = {
  "ovmf-dma": { summary: "OVMF DMA bounce pages flipping private↔shared per transaction (default 10 000 transactions)" },
  "linux-boot": { summary: "bulk acceptance, 64 MiB swiotlb made shared, ~5 000 scattered allocate-and-convert calls" },
  adversarial: { summary: "hostile guest: every-other-page fragmentation, random runs, single-page request flood" },
  hotplug: { summary: "virtio-mem blocks plugged and unplugged during DMA flips; dirty logging toggled, the boot memslot re-created" },
};

/**
 * Runs the generator `name` with `options`.
 * @param name `"ovmf-dma"`, `"linux-boot"`, `"adversarial"` or `"hotplug"`.
 * @param options that generator's options (guest size in bytes, seed, …); defaults fit a 1 GiB guest.
 * @returns the header and a re-iterable, lazily generated event sequence.
 * @throws MemattrRangeError for an unknown name; the generator's own errors for bad options.
 * @example
 * ```ts
 * import { generateTrace, traceToString } from "memattr";
 * const { header, events } = generateTrace("ovmf-dma", { guestBytes: 2 ** 27, transactions: 3, seed: 9 });
 * console.log(traceToString(header, events).split("\n").length);
 * ```
 */
export function generateTrace<N extends GeneratorName>(name: N, options: GeneratorOptionsByName[N] = {}): GeneratedTrace {
  switch (name) {
    case "ovmf-dma":
      return generateOvmfDma(options as OvmfDmaOptions);
    case "linux-boot":
      return generateLinuxBoot(options as LinuxBootOptions);
    case "adversarial":
      return generateAdversarial(options as AdversarialOptions);
    case "hotplug":
      return generateHotplug(options as HotplugOptions);
    default:
      throw new MemattrRangeError(`unknown generator ${JSON.stringify(name)} (known: ${Object.keys(GENERATORS).join(", ")})`);
  }
}
