// The core's ABI: every number the .wasm and its embedders must agree on, defined here once.
//
// scripts/gen-abi.mjs reads this file and writes src/core/_abi.ts (TypeScript),
// native/include/memattr_abi.h (C) and native/rust/abi.rs (Rust); test/core/abi.test.ts fails
// when one is out of date (`npm run gen:abi` rewrites them). So this file keeps a strict shape
// the generator parses: sections opened by `// ==== name: what they are`, each constant one
// `@inline export const NAME: i32 = <integer, or an expression of earlier names>;` with its
// `/** doc */` on the line above. Nothing else may sit between the sections.
//
// Conventions: gfn = 4 KiB guest page number in [0, 2^40); a range is half-open [start, end).

// ==== errors: negative returns of every export; the number is minus the Linux errno of the same name
/** Linear memory could not grow; the map is unchanged. */
@inline export const E_NOMEM: i32 = -12;
/** checkInvariants() found a broken invariant (invariantRule()/invariantDetail() say which). */
@inline export const E_FAULT: i32 = -14;
/** An argument is not an integer, start >= end, or a value or mask is outside 0–255. */
@inline export const E_INVAL: i32 = -22;
/** A gfn is outside [0, 2^40]. */
@inline export const E_RANGE: i32 = -34;
/** A batch command has an unknown opcode. */
@inline export const E_NOSYS: i32 = -38;
/** A page of the range is not guest memory (its value lacks PAGE_GUEST). */
@inline export const E_NXIO: i32 = -6;
/** A page of the range is pending a conversion the other way, or to private with another PRESERVE. */
@inline export const E_BUSY: i32 = -16;
/** Preserving contents (in-place encryption) after launch. */
@inline export const E_PERM: i32 = -1;
/** Preserving contents asked for a conversion to shared: private contents never become shared. */
@inline export const E_OPNOTSUPP: i32 = -95;
/** launch() when already launched. */
@inline export const E_ALREADY: i32 = -114;
/** launch() while a preserving conversion is pending. */
@inline export const E_INPROGRESS: i32 = -115;
/** No open conversion has this slot and id (never opened, or already committed or aborted). */
@inline export const E_NOENT: i32 = -2;
/** Too many conversions open at once (CONV_MAX_OPEN). */
@inline export const E_NOSPC: i32 = -28;
/** guestAdd(): a page of the range already is guest memory. */
@inline export const E_EXIST: i32 = -17;
/** Native embedders only: the map trapped earlier (or just now) and is unusable; free it. */
@inline export const E_NOTRECOVERABLE: i32 = -131;

// ==== op: opcodes of runBatch() commands (opcode, a, b, c as f64; see index.ts)
/** set(a, b, c): result 0. */
@inline export const OP_SET: i32 = 1;
/** update(a, b, clearMask = c & 255, setMask = c >> 8): result 0. */
@inline export const OP_UPDATE: i32 = 2;
/** get(a): result the value. */
@inline export const OP_GET: i32 = 3;
/** isUniform(a, b, c): result 1 or 0. */
@inline export const OP_IS_UNIFORM: i32 = 4;
/** uniformValue(a, b): result the value, or -1 when mixed. */
@inline export const OP_UNIFORM_VALUE: i32 = 5;
/** countInRange(a, b, c): result pages. */
@inline export const OP_COUNT: i32 = 6;

// ==== limits: the page space and the value range
/** log2 of the pages the map covers: gfns are below 2^40 (4 PiB of guest memory). */
@inline export const GFN_BITS: i32 = 40;
/** log2 of the bytes in a page. */
@inline export const PAGE_SHIFT: i32 = 12;
/** Bytes in a page. */
@inline export const PAGE_BYTES: i32 = 1 << PAGE_SHIFT;
/** Largest value a page can hold. */
@inline export const MAX_VALUE: i32 = 255;
/** Conversions that may be open (requested, not yet committed or aborted) at once per map. */
@inline export const CONV_MAX_OPEN: i32 = 4096;

// ==== page: the page-state encoding of the conversion model (one byte per page; src/model/states.ts has the state table)
/** The committed attribute is private (KVM_MEMORY_ATTRIBUTE_PRIVATE). */
@inline export const PAGE_PRIVATE: i32 = 1 << 0;
/** A conversion to the opposite attribute is pending. */
@inline export const PAGE_PENDING: i32 = 1 << 1;
/** The pending conversion to private preserves contents (in-place encryption). */
@inline export const PAGE_PRESERVE: i32 = 1 << 2;
/** The shared backing (memfd) holds this page. */
@inline export const PAGE_SHARED_POPULATED: i32 = 1 << 3;
/** The private backing (guest_memfd) holds this page. */
@inline export const PAGE_PRIVATE_POPULATED: i32 = 1 << 4;
/** The shared backing's page was discarded after being populated (populating it again is a refault). */
@inline export const PAGE_SHARED_DISCARDED: i32 = 1 << 5;
/** The private backing's page was discarded after being populated. */
@inline export const PAGE_PRIVATE_DISCARDED: i32 = 1 << 6;
/** The page is guest memory; pages outside every region hold 0. */
@inline export const PAGE_GUEST: i32 = 1 << 7;
/** The bits that make up the conversion state. */
@inline export const PAGE_CONVERSION_MASK: i32 = PAGE_PRIVATE | PAGE_PENDING | PAGE_PRESERVE;

// ==== conv: flags of convRequest()
/** The conversion goes to private (else to shared). */
@inline export const CONV_TO_PRIVATE: i32 = 1;
/** Copy the shared contents into the private page: only with CONV_TO_PRIVATE, only before launch. */
@inline export const CONV_PRESERVE: i32 = 2;
/** Join pages pending to private whatever their PRESERVE (a memory fault's implicit request). */
@inline export const CONV_JOIN_ANY_PRESERVE: i32 = 4;

// ==== side: the two backings of a page (populate/discard exports)
/** The shared backing: memfd or anonymous memory. */
@inline export const SIDE_SHARED: i32 = 0;
/** The private backing: guest_memfd. */
@inline export const SIDE_PRIVATE: i32 = 1;

// ==== fault: what convFault() decided about a memory fault (violations are E_NXIO / E_BUSY)
/** Every page already has the attribute the access needs (a race with another vCPU): re-enter. */
@inline export const FAULT_SPURIOUS: i32 = 0;
/** A conversion towards the access is pending on some page: finish it, then re-enter. */
@inline export const FAULT_IN_FLIGHT: i32 = 1;
/** Some page has the other attribute: request a conversion (convRequest with CONV_JOIN_ANY_PRESERVE). */
@inline export const FAULT_CONVERT: i32 = 2;

// ==== out: f64 slots at convOut() that the conversion and backing exports fill
/** The id of the conversion just opened (unique per map, from 1). */
@inline export const OUT_ID: i32 = 0;
/** Its slot in the table: commit and abort take the slot and the id. */
@inline export const OUT_SLOT: i32 = 1;
/** Pages the request owns (marked pending); the rest were already in the target attribute or joined. */
@inline export const OUT_OWNED_PAGES: i32 = 2;
/** Maximal owned ranges (convOwnedRanges() lists them). */
@inline export const OUT_OWNED_RANGES: i32 = 3;
/** First owned range, start (when OUT_OWNED_RANGES > 0). */
@inline export const OUT_FIRST_START: i32 = 4;
/** First owned range, end. */
@inline export const OUT_FIRST_END: i32 = 5;
/** The value every page of the edited range held before, or -1 when it held several (or nothing changed). */
@inline export const OUT_VALUE_BEFORE: i32 = 6;
/** The value every page of the edited range holds after, or -1 as OUT_VALUE_BEFORE. */
@inline export const OUT_VALUE_AFTER: i32 = 7;
/** E_BUSY / E_NXIO: the first page found in conflict, or outside guest memory. */
@inline export const OUT_AT_GFN: i32 = 8;
/** E_BUSY: the value of that page. */
@inline export const OUT_AT_VALUE: i32 = 9;
/** pagesPopulate(): pages that were discarded before (refaults); the return value counts new pages. */
@inline export const OUT_REFAULT_PAGES: i32 = 10;
/** Number of f64 slots at convOut(). */
@inline export const OUT_SLOTS: i32 = 11;
