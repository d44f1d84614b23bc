/**
 * What the map colours: a page's raw tracker value (see src/model/states.ts) reduced to one
 * of a few display classes, and the colour of each.
 *
 * Short names: `value` is a raw page value of the tracker's range map; a `class` is an index
 * into {@link CLASSES}.
 *
 * A map cell may hold many pages. It shows the *rarest* class present in it, so a single
 * shared bounce page in a private guest stays visible at any zoom; ties go to the class
 * listed first (double-allocated, then pending, then shared, then private).
 */
import { GUEST, PENDING, PRIVATE, PRIVATE_POPULATED, SHARED_POPULATED } from "../model/states.js";

/** One display class. `rgb` is what the canvas draws, so tests can compare pixels exactly. */
export interface DisplayClass {
  key: "double" | "pending-private" | "pending-shared" | "shared" | "private" | "outside";
  label: string;
  hint: string;
  rgb: readonly [number, number, number];
}

/** The display classes, in tie-break order (first wins a tie). */
export const CLASSES: readonly DisplayClass[] = [
  { key: "double", label: "double-allocated", hint: "populated on both sides: held twice", rgb: [229, 72, 77] },
  { key: "pending-private", label: "pending → private", hint: "shared, conversion to private requested", rgb: [245, 166, 35] },
  { key: "pending-shared", label: "pending → shared", hint: "private, conversion to shared requested", rgb: [186, 104, 200] },
  { key: "shared", label: "shared", hint: "host-readable (memfd side)", rgb: [56, 189, 248] },
  { key: "private", label: "private", hint: "guest-only (guest_memfd side)", rgb: [52, 168, 110] },
  { key: "outside", label: "not guest memory", hint: "outside every region of the memory map", rgb: [38, 44, 56] },
];

export const CLASS_DOUBLE = 0;
export const CLASS_PENDING_PRIVATE = 1;
export const CLASS_PENDING_SHARED = 2;
export const CLASS_SHARED = 3;
export const CLASS_PRIVATE = 4;
export const CLASS_OUTSIDE = 5;
/** Number of display classes. */
export const CLASS_COUNT = CLASSES.length;

const BOTH_POPULATED = SHARED_POPULATED | PRIVATE_POPULATED;

/** The display class of a raw page value. */
export function classOfValue(value: number): number {
  if ((value & GUEST) === 0) return CLASS_OUTSIDE;
  if ((value & BOTH_POPULATED) === BOTH_POPULATED) return CLASS_DOUBLE;
  if ((value & PENDING) !== 0) return (value & PRIVATE) !== 0 ? CLASS_PENDING_SHARED : CLASS_PENDING_PRIVATE;
  return (value & PRIVATE) !== 0 ? CLASS_PRIVATE : CLASS_SHARED;
}

// All 256 values resolved once: the renderer looks classes up per run, never decodes.
const CLASS_OF = Uint8Array.from({ length: 256 }, (_, v) => classOfValue(v));

/** Table lookup of {@link classOfValue}. */
export function classOf(value: number): number {
  return CLASS_OF[value & 255]!;
}

/** `rgb(r, g, b)` of a class, for CSS. */
export function cssColor(cls: number): string {
  const [r, g, b] = CLASSES[cls]!.rgb;
  return `rgb(${r}, ${g}, ${b})`;
}
