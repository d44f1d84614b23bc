// Public exports of the trace layer (browser-safe: nothing here imports node:*, kvm or backing).
export { TraceParseError, TraceVersionError } from "./errors.js";
export {
  createHeader,
  insideRegions,
  MAP_GPA_RANGE_ENCRYPTED,
  MAX_GPA,
  MEMSLOT_ADDRESS_SPACES,
  MEMSLOT_FLAGS,
  MEMSLOT_IDS,
  PAGE_BYTES,
  regionPages,
  TRACE_EVENT_TYPES,
  TRACE_FORMAT,
  TRACE_VERSION,
  TRACE_VERSIONS_READ,
  hypercallRefusal,
  REFUSAL_REASONS,
  u64Text,
  validateEvent,
  validateHeader,
} from "./format.js";
export type {
  AbortEvent,
  CommitEvent,
  FaultEvent,
  GuestRegion,
  HypercallEvent,
  LaunchEvent,
  MemslotEvent,
  RegionAddEvent,
  RegionRemoveEvent,
  RefusalReason,
  RefusedHypercallEvent,
  RequestEvent,
  TouchEvent,
  TraceEvent,
  TraceEventType,
  TraceGenerator,
  TraceHeader,
  TraceSource,
} from "./format.js";
export { parseTrace, parseTraceSync, TraceEventStream, TraceLineParser } from "./parse.js";
export type { ParsedTrace, ParsedTraceAsync, TextChunk, TextSource } from "./parse.js";
export { formatTrace, serializeEvent, serializeHeader, traceToString } from "./write.js";
export { createPrng } from "./prng.js";
export type { Prng } from "./prng.js";
export { formatBytes, parseBytes } from "./units.js";
export { GENERATORS, generateTrace } from "./generate.js";
export type { CommonGeneratorOptions, GeneratedTrace, GeneratorName, GeneratorOptionsByName } from "./generate.js";
export { generateOvmfDma } from "./gen-ovmf-dma.js";
export type { OvmfDmaOptions } from "./gen-ovmf-dma.js";
export { generateLinuxBoot } from "./gen-linux-boot.js";
export type { LinuxBootOptions } from "./gen-linux-boot.js";
export { generateAdversarial } from "./gen-adversarial.js";
export { generateHotplug } from "./gen-hotplug.js";
export type { HotplugOptions } from "./gen-hotplug.js";
export type { AdversarialOptions, AdversarialPhase } from "./gen-adversarial.js";
export { CAUSE_WINDOW, detectTraceFormat, formatImportSummary, importTrace, importTraceAsync, TraceImporter } from "./import.js";
export type { ImportFormat, ImportOptions, ImportResult, ImportSummary } from "./import.js";
export { FTRACE_EVENTS, parseFtraceLine } from "./import-ftrace.js";
export { parseQemuLine, QEMU_EVENTS } from "./import-qemu.js";
export { traceStats, TraceStatsCounter } from "./stats.js";
export type { TraceStats } from "./stats.js";
