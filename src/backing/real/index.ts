/**
 * Public exports of the backing layer (Node only, reached through `memattr/node` and
 * `memattr/node/backing`): real memfd and guest_memfd backings that carry out populate and
 * discard decisions with real syscalls.
 */
export { GuestLayout, PAGE_BYTES as BACKING_PAGE_BYTES } from "./_layout.js";
export { pagePattern } from "./_mapped.js";
export { BackingError, DiscardError } from "./errors.js";
export { SharedMemfdBacking, type SharedMemfdAttachOptions } from "./memfd.js";
export { GuestMemfdBacking, GUEST_MEMFD_BACKING_FLAGS, type GuestMemfdAttachOptions } from "./gmem.js";
export {
  createRealBackings,
  probeRealBackings,
  REAL_BACKINGS_LABEL,
  type RealBackings,
  type RealBackingsMissing,
  type RealBackingsOptions,
  type RealBackingsProbe,
} from "./create.js";
