//! memattr for Rust VMMs: a safe wrapper over the C API of native/include/memattr.h, linked from
//! the same static library C uses (build/native/libmemattr.a: the core's .wasm compiled to C by
//! wasm2c). No crates: scripts/build-rust.mjs builds this file as an rlib with plain rustc,
//!
//! ```text
//! rustc --edition 2021 --crate-type rlib --crate-name memattr -C opt-level=2 \
//!       native/rust/memattr.rs -L native=build/native -l static=memattr
//! ```
//!
//! and programs use it with `--extern memattr=build/rust/libmemattr.rlib -l m -l pthread`.
//!
//! Short names, as in memattr.h:
//! - `gfn`: guest frame number, a 4 KiB page index in [0, 2^40) (gpa >> 12);
//! - a map range is half-open `[start, end)` in gfns; a conversion range is `gfn + npages`;
//! - `value`: the byte a page holds (0-255); the conversion methods read it as the page-state
//!   bits `abi::PAGE_*`;
//! - `side`: a page's two backings, shared (memfd) and private (guest_memfd).
//!
//! Errors: every fallible method returns `Result<T, Error>`; `Error` carries the negative errno
//! of memattr.h (`abi::E_*`), its name and its text. A failed call leaves the map as it was.
//!
//! Threads (memattr.h): a map is not thread-safe; calls on one map must not overlap. So `Map` is
//! `Send` (move it to another thread) but not `Sync` (no `&Map` shared between threads): to
//! share one, put it in a `Mutex<Map>`. Different maps may be used from different threads at the
//! same time, and a trap in one leaves the others working.
//!
//! Rust 1.63 (Debian 12's rustc) must compile this file: no let-else, no `core::ffi::c_*` (1.64),
//! no `offset_of!`; the std items used are listed in native/rust/README.md.

use std::ffi::CStr;
use std::fmt;
use std::os::raw::{c_char, c_int, c_uint};

/// The core's ABI constants (generated from assembly/abi.ts by scripts/gen-abi.mjs).
#[path = "abi.rs"]
#[rustfmt::skip] // generated: rustfmt must not rewrite it
pub mod abi;

/// The C library's map (`struct memattr_map`), only ever behind a pointer.
#[repr(C)]
pub struct RawMap {
    _opaque: [u8; 0],
}

/// A maximal run of equal values, `[start, end)` (`struct memattr_run`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Run {
    /// First gfn of the run.
    pub start: u64,
    /// One past its last gfn.
    pub end: u64,
    /// The value every page of it holds.
    pub value: u8,
}

/// `npages` pages from `gfn` (`struct memattr_range`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRange {
    /// First gfn.
    pub gfn: u64,
    /// Pages in the range.
    pub npages: u64,
}

/// An open conversion (`struct memattr_conv`): `slot` and `id` name it to `commit`/`abort`, the
/// rest describes it. A copy of a value: commit or abort it once; a second time is `E_NOENT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conversion {
    /// Unique per map, from 1.
    pub id: u64,
    /// Where the core keeps it.
    pub slot: u32,
    /// `abi::CONV_*` as requested.
    pub flags: u32,
    /// First gfn of the requested range.
    pub gfn: u64,
    /// Pages requested.
    pub npages: u64,
    /// Pages this request marked pending; the rest needed no change or were joined.
    pub npages_owned: u64,
    /// Maximal owned ranges (`Map::owned_ranges` lists them).
    pub nranges_owned: u64,
}

impl Conversion {
    /// Whether it converts to private (else to shared).
    pub fn to_private(&self) -> bool {
        self.flags & abi::CONV_TO_PRIVATE != 0
    }

    /// Whether it preserves contents (in-place encryption, before launch).
    pub fn preserve(&self) -> bool {
        self.flags & abi::CONV_PRESERVE != 0
    }
}

/// What `Map::fault` decided about a `KVM_EXIT_MEMORY_FAULT` (violations are errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every page already has the attribute the access needs: re-enter the vCPU.
    Spurious,
    /// A conversion towards the access is pending: finish it, then re-enter.
    InFlight,
    /// An implicit request is now open: set the attribute, then commit or abort it.
    Convert(Conversion),
}

/// A page's two backings.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// memfd or anonymous memory.
    Shared = abi::SIDE_SHARED,
    /// guest_memfd.
    Private = abi::SIDE_PRIVATE,
}

/// What `Map::populate` found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Populated {
    /// Pages the backing never held before.
    pub new_pages: u64,
    /// Pages it held, then discarded, and holds again (refaults); not counted in `new_pages`.
    pub refault_pages: u64,
}

/// A refused call: the negative errno of memattr.h (`abi::E_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error {
    code: i32,
}

impl Error {
    /// The error of a code (`abi::E_*`), for comparisons: `err == Error::from_code(abi::E_BUSY)`.
    pub fn from_code(code: i32) -> Error {
        Error { code }
    }

    /// The negative errno, `abi::E_*`.
    pub fn code(&self) -> i32 {
        self.code
    }

    /// Its errno name, `"EINVAL"`, or `"EUNKNOWN"` for a code memattr does not define.
    pub fn name(&self) -> &'static str {
        abi::error_name(self.code).unwrap_or("EUNKNOWN")
    }

    /// What it means (memattr_strerror).
    pub fn text(&self) -> &'static str {
        // SAFETY: memattr_strerror returns a static NUL-terminated string for every int.
        let text = unsafe { CStr::from_ptr(memattr_strerror(self.code)) };
        text.to_str().unwrap_or("(not UTF-8)")
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.code, self.text())
    }
}

impl std::error::Error for Error {}

extern "C" {
    fn memattr_map_new(out: *mut *mut RawMap) -> c_int;
    fn memattr_map_free(map: *mut RawMap);
    fn memattr_set(map: *mut RawMap, start: u64, end: u64, value: c_uint) -> c_int;
    fn memattr_update(map: *mut RawMap, start: u64, end: u64, clear_mask: c_uint, set_mask: c_uint) -> c_int;
    fn memattr_get(map: *mut RawMap, gfn: u64) -> c_int;
    fn memattr_get_many(map: *mut RawMap, gfns: *const u64, values: *mut u8, n: usize) -> c_int;
    fn memattr_is_uniform(map: *mut RawMap, start: u64, end: u64, value: c_uint) -> c_int;
    fn memattr_uniform_value(map: *mut RawMap, start: u64, end: u64, value: *mut u8) -> c_int;
    fn memattr_count_in_range(map: *mut RawMap, start: u64, end: u64, value: c_uint) -> i64;
    fn memattr_pages(map: *mut RawMap, value: c_uint) -> i64;
    fn memattr_run_count(map: *mut RawMap) -> i64;
    fn memattr_runs(map: *mut RawMap, start: u64, end: u64, out: *mut Run, max_runs: usize) -> i64;
    fn memattr_clear(map: *mut RawMap) -> c_int;
    fn memattr_memory_bytes(map: *mut RawMap) -> i64;
    fn memattr_linear_memory_bytes(map: *mut RawMap) -> i64;
    fn memattr_set_memory_limit(map: *mut RawMap, bytes: u64) -> c_int;
    fn memattr_memory_limit(map: *mut RawMap) -> u64;
    fn memattr_check_invariants(map: *mut RawMap) -> c_int;
    fn memattr_strerror(code: c_int) -> *const c_char;
    fn memattr_guest_add(map: *mut RawMap, gfn: u64, npages: u64, initial_private: c_int) -> c_int;
    fn memattr_guest_remove(map: *mut RawMap, gfn: u64, npages: u64) -> c_int;
    fn memattr_conv_request(map: *mut RawMap, gfn: u64, npages: u64, flags: c_uint, out: *mut Conversion) -> c_int;
    fn memattr_conv_commit(map: *mut RawMap, conv: *const Conversion) -> c_int;
    fn memattr_conv_abort(map: *mut RawMap, conv: *const Conversion) -> c_int;
    fn memattr_conv_owned_ranges(map: *mut RawMap, conv: *const Conversion, first: u64, out: *mut PageRange, max: usize) -> i64;
    fn memattr_conv_open_count(map: *mut RawMap) -> i64;
    fn memattr_fault(map: *mut RawMap, gfn: u64, npages: u64, to_private: c_int, out: *mut Conversion) -> c_int;
    fn memattr_launch(map: *mut RawMap) -> c_int;
    fn memattr_launched(map: *mut RawMap) -> c_int;
    fn memattr_populate(map: *mut RawMap, side: c_int, gfn: u64, npages: u64, refault_pages: *mut u64) -> i64;
    fn memattr_discard(map: *mut RawMap, side: c_int, gfn: u64, npages: u64) -> i64;
    fn memattr_pages_matching(map: *mut RawMap, mask: c_uint, match_: c_uint) -> i64;
}

/// 0 or a positive result, or the error of a negative return.
fn check(rc: c_int) -> Result<u32, Error> {
    if rc < 0 {
        Err(Error { code: rc })
    } else {
        Ok(rc as u32)
    }
}

fn check64(rc: i64) -> Result<u64, Error> {
    if rc < 0 {
        Err(Error { code: rc as i32 }) // every negative return is an errno, well inside i32
    } else {
        Ok(rc as u64)
    }
}

/// Runs fetched per C call by `Map::runs_iter`.
const RUNS_CHUNK: usize = 256;

/// One map: a value 0-255 for every page of [0, 2^40), all 0 at creation, in its own instance of
/// the core. Dropping it frees the instance.
pub struct Map {
    // Only ever a pointer from memattr_map_new, freed in Drop. A raw pointer makes Map !Sync and
    // !Send; Send is restored below.
    raw: *mut RawMap,
}

// SAFETY: a map may move between threads (memattr.h: calls on one map must not overlap, and
// different maps are independent; the trap guard is per thread and per call). Map stays !Sync,
// so two threads cannot call into the same map through a shared &Map.
unsafe impl Send for Map {}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: raw came from memattr_map_new and is freed only here, once.
        unsafe { memattr_map_free(self.raw) }
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map").field("run_count", &self.run_count()).field("launched", &self.launched()).finish()
    }
}

// Every `unsafe` call below passes self.raw, valid from new() until drop(); out-pointers point at
// locals or at Vec elements within len, which the C side writes at most `max` of.
impl Map {
    /// A new map in a new instance of the core (`memattr_map_new`); `E_NOMEM` when that fails.
    pub fn new() -> Result<Map, Error> {
        let mut raw: *mut RawMap = std::ptr::null_mut();
        // SAFETY: &mut raw is a valid out-pointer; the library writes a map pointer on success.
        check(unsafe { memattr_map_new(&mut raw) })?;
        Ok(Map { raw })
    }

    // ---- the map ---------------------------------------------------------------------------

    /// Sets every page of `[start, end)` to `value`. `E_INVAL` (start >= end), `E_RANGE`, `E_NOMEM`.
    pub fn set(&mut self, start: u64, end: u64, value: u8) -> Result<(), Error> {
        // SAFETY: see the note above impl Map.
        check(unsafe { memattr_set(self.raw, start, end, value as c_uint) }).map(|_| ())
    }

    /// `v = (v & !clear_mask) | set_mask` on every page of `[start, end)`. Errors as `set`.
    pub fn update(&mut self, start: u64, end: u64, clear_mask: u8, set_mask: u8) -> Result<(), Error> {
        // SAFETY: see the note above impl Map.
        check(unsafe { memattr_update(self.raw, start, end, clear_mask as c_uint, set_mask as c_uint) }).map(|_| ())
    }

    /// The value of page `gfn`; `E_RANGE` past 2^40.
    pub fn get(&self, gfn: u64) -> Result<u8, Error> {
        // SAFETY: see the note above impl Map.
        check(unsafe { memattr_get(self.raw, gfn) }).map(|v| v as u8)
    }

    /// `values[i]` = the value of page `gfns[i]`. `E_INVAL` when the slices differ in length,
    /// `E_RANGE` for a bad gfn (values before it are written).
    pub fn get_many(&self, gfns: &[u64], values: &mut [u8]) -> Result<(), Error> {
        if gfns.len() != values.len() {
            return Err(Error::from_code(abi::E_INVAL));
        }
        // SAFETY: both slices hold gfns.len() elements; the library reads and writes that many.
        check(unsafe { memattr_get_many(self.raw, gfns.as_ptr(), values.as_mut_ptr(), gfns.len()) }).map(|_| ())
    }

    /// Whether every page of `[start, end)` holds `value`. `E_INVAL`, `E_RANGE`.
    pub fn is_uniform(&self, start: u64, end: u64, value: u8) -> Result<bool, Error> {
        // SAFETY: see the note above impl Map.
        check(unsafe { memattr_is_uniform(self.raw, start, end, value as c_uint) }).map(|r| r == 1)
    }

    /// The one value of `[start, end)`, or `None` when it holds several. `E_INVAL`, `E_RANGE`.
    pub fn uniform_value(&self, start: u64, end: u64) -> Result<Option<u8>, Error> {
        let mut value = 0u8;
        // SAFETY: &mut value is a valid out-pointer for one byte.
        let r = check(unsafe { memattr_uniform_value(self.raw, start, end, &mut value) })?;
        Ok(if r == 1 { Some(value) } else { None })
    }

    /// Pages of `[start, end)` that hold `value`. `E_INVAL`, `E_RANGE`.
    pub fn count_in_range(&self, start: u64, end: u64, value: u8) -> Result<u64, Error> {
        // SAFETY: see the note above impl Map.
        check64(unsafe { memattr_count_in_range(self.raw, start, end, value as c_uint) })
    }

    /// Pages of the whole map that hold `value` (O(1)).
    pub fn pages(&self, value: u8) -> u64 {
        // SAFETY: see the note above impl Map. A value below 256 cannot fail.
        unsafe { memattr_pages(self.raw, value as c_uint) }.max(0) as u64
    }

    /// Maximal runs in the whole map (O(1); an empty map is one run).
    pub fn run_count(&self) -> u64 {
        // SAFETY: see the note above impl Map.
        unsafe { memattr_run_count(self.raw) }.max(0) as u64
    }

    /// The maximal runs of `[start, end)`, clipped to it. `E_INVAL`, `E_RANGE`.
    pub fn runs(&self, start: u64, end: u64) -> Result<Vec<Run>, Error> {
        self.runs_iter(start, end).collect()
    }

    /// The same runs, fetched `RUNS_CHUNK` at a time; a bad range is one `Err` item.
    pub fn runs_iter(&self, start: u64, end: u64) -> Runs<'_> {
        Runs { map: self, from: start, end, chunk: Vec::new(), at: 0, done: false }
    }

    /// Sets every page to 0 and forgets every open conversion and the launch flag.
    pub fn clear(&mut self) -> Result<(), Error> {
        // SAFETY: see the note above impl Map.
        check(unsafe { memattr_clear(self.raw) }).map(|_| ())
    }

    /// Bytes of live tree nodes and leaves: what the map's content costs.
    pub fn memory_bytes(&self) -> u64 {
        // SAFETY: see the note above impl Map.
        unsafe { memattr_memory_bytes(self.raw) }.max(0) as u64
    }

    /// Bytes of linear memory the instance holds now.
    pub fn linear_memory_bytes(&self) -> u64 {
        // SAFETY: see the note above impl Map.
        unsafe { memattr_linear_memory_bytes(self.raw) }.max(0) as u64
    }

    /// Caps the instance's linear memory at `bytes` (rounded down to 64 KiB); an operation that
    /// would need more fails with `E_NOMEM`. `E_INVAL` below what the instance already holds.
    pub fn set_memory_limit(&mut self, bytes: u64) -> Result<(), Error> {
        // SAFETY: see the note above impl Map.
        check(unsafe { memattr_set_memory_limit(self.raw, bytes) }).map(|_| ())
    }

    /// The cap of `set_memory_limit` (4 GiB when none was set).
    pub fn memory_limit(&self) -> u64 {
        // SAFETY: see the note above impl Map.
        unsafe { memattr_memory_limit(self.raw) }
    }

    /// Ok when every structural invariant holds, else `E_FAULT`. O(size of the map).
    pub fn check_invariants(&self) -> Result<(), Error> {
        // SAFETY: see the note above impl Map.
        check(unsafe { memattr_check_invariants(self.raw) }).map(|_| ())
    }

    // ---- the conversion model --------------------------------------------------------------

    /// Makes `npages` pages from `gfn` guest memory, shared (or private when `initial_private`),
    /// both backings empty. `E_EXIST` when a page already is guest memory, `E_INVAL`, `E_RANGE`.
    pub fn guest_add(&mut self, gfn: u64, npages: u64, initial_private: bool) -> Result<(), Error> {
        // SAFETY: see the note above impl Map.
        check(unsafe { memattr_guest_add(self.raw, gfn, npages, initial_private as c_int) }).map(|_| ())
    }

    /// Makes `npages` pages from `gfn` no longer guest memory (unplug): they forget their state,
    /// so adding them again starts clean; read what was populated there first (`runs`).
    /// `E_NXIO` (a page is not guest memory), `E_BUSY` (a page is pending), `E_INVAL`, `E_RANGE`.
    pub fn guest_remove(&mut self, gfn: u64, npages: u64) -> Result<(), Error> {
        // SAFETY: see the note above impl Map.
        check(unsafe { memattr_guest_remove(self.raw, gfn, npages) }).map(|_| ())
    }

    /// A conversion request (the guest's `KVM_HC_MAP_GPA_RANGE`, or the VMM's own) for `npages`
    /// from `gfn`; `flags`: `abi::CONV_TO_PRIVATE`, `CONV_PRESERVE`, `CONV_JOIN_ANY_PRESERVE`.
    /// Marks pending the pages settled in the other attribute, joins pages already pending the
    /// same way. `E_NXIO` (not guest memory), `E_BUSY` (pending the other way), `E_OPNOTSUPP`
    /// (PRESERVE to shared), `E_PERM` (PRESERVE after launch), `E_NOSPC`, `E_INVAL`, `E_RANGE`.
    pub fn request(&mut self, gfn: u64, npages: u64, flags: u32) -> Result<Conversion, Error> {
        let mut conv = Conversion::default();
        // SAFETY: &mut conv is a valid out-pointer to a #[repr(C)] struct memattr_conv.
        check(unsafe { memattr_conv_request(self.raw, gfn, npages, flags as c_uint, &mut conv) })?;
        Ok(conv)
    }

    /// Applies the target attribute to the owned pages (after `KVM_SET_MEMORY_ATTRIBUTES`
    /// succeeded). `E_NOENT` when it is not open (settled, or never opened here).
    pub fn commit(&mut self, conv: &Conversion) -> Result<(), Error> {
        // SAFETY: conv points at a live struct memattr_conv; the library only reads it.
        check(unsafe { memattr_conv_commit(self.raw, conv) }).map(|_| ())
    }

    /// Restores the owned pages to exactly their state before the request (when
    /// `KVM_SET_MEMORY_ATTRIBUTES` failed). Errors as `commit`.
    pub fn abort(&mut self, conv: &Conversion) -> Result<(), Error> {
        // SAFETY: as in commit.
        check(unsafe { memattr_conv_abort(self.raw, conv) }).map(|_| ())
    }

    /// The maximal ranges an open conversion owns. `E_NOENT` when it is not open.
    pub fn owned_ranges(&self, conv: &Conversion) -> Result<Vec<PageRange>, Error> {
        let mut ranges = vec![PageRange::default(); conv.nranges_owned.min(1 << 16) as usize];
        let mut first = 0u64;
        loop {
            if first as usize == ranges.len() {
                ranges.resize(ranges.len() + RUNS_CHUNK, PageRange::default()); // nranges_owned was forged
            }
            let room = &mut ranges[first as usize..];
            // SAFETY: room is a valid slice of room.len() elements; the library writes at most that many.
            let n = check64(unsafe { memattr_conv_owned_ranges(self.raw, conv, first, room.as_mut_ptr(), room.len()) })?;
            first += n;
            if (n as usize) < room.len() {
                ranges.truncate(first as usize);
                return Ok(ranges);
            }
        }
    }

    /// Conversions open now.
    pub fn open_count(&self) -> u64 {
        // SAFETY: see the note above impl Map.
        unsafe { memattr_conv_open_count(self.raw) }.max(0) as u64
    }

    /// Decides a `KVM_EXIT_MEMORY_FAULT` on `npages` from `gfn` for an access that needs private
    /// (`to_private`) or shared memory. Violations: `E_NXIO` (outside guest memory), `E_BUSY`
    /// (pending away from the access). Nothing changes except for `Fault::Convert`.
    pub fn fault(&mut self, gfn: u64, npages: u64, to_private: bool) -> Result<Fault, Error> {
        let mut conv = Conversion::default();
        // SAFETY: &mut conv is a valid out-pointer, as in request.
        let kind = check(unsafe { memattr_fault(self.raw, gfn, npages, to_private as c_int, &mut conv) })? as i32;
        match kind {
            abi::FAULT_SPURIOUS => Ok(Fault::Spurious),
            abi::FAULT_IN_FLIGHT => Ok(Fault::InFlight),
            abi::FAULT_CONVERT => Ok(Fault::Convert(conv)),
            _ => Err(Error::from_code(abi::E_FAULT)), // a decision this wrapper does not know
        }
    }

    /// Closes the in-place-encryption gate. `E_ALREADY`, `E_INPROGRESS` (a preserving
    /// conversion is open).
    pub fn launch(&mut self) -> Result<(), Error> {
        // SAFETY: see the note above impl Map.
        check(unsafe { memattr_launch(self.raw) }).map(|_| ())
    }

    /// Whether `launch` happened.
    pub fn launched(&self) -> bool {
        // SAFETY: see the note above impl Map.
        unsafe { memattr_launched(self.raw) == 1 }
    }

    /// Records that `side`'s backing now holds `npages` from `gfn`. `E_NXIO`, `E_INVAL`, `E_RANGE`.
    pub fn populate(&mut self, side: Side, gfn: u64, npages: u64) -> Result<Populated, Error> {
        let mut refault_pages = 0u64;
        // SAFETY: &mut refault_pages is a valid out-pointer for one u64.
        let new_pages = check64(unsafe { memattr_populate(self.raw, side as c_int, gfn, npages, &mut refault_pages) })?;
        Ok(Populated { new_pages, refault_pages })
    }

    /// Records that `side`'s backing dropped (hole-punched) `npages` from `gfn`; the pages freed.
    pub fn discard(&mut self, side: Side, gfn: u64, npages: u64) -> Result<u64, Error> {
        // SAFETY: see the note above impl Map.
        check64(unsafe { memattr_discard(self.raw, side as c_int, gfn, npages) })
    }

    /// Pages whose value `v` has `v & mask == matching`, over the whole map.
    pub fn pages_matching(&self, mask: u8, matching: u8) -> u64 {
        // SAFETY: see the note above impl Map.
        unsafe { memattr_pages_matching(self.raw, mask as c_uint, matching as c_uint) }.max(0) as u64
    }
}

/// The runs of a range, from `Map::runs_iter`.
pub struct Runs<'a> {
    map: &'a Map,
    from: u64,
    end: u64,
    chunk: Vec<Run>,
    at: usize,
    done: bool,
}

impl<'a> Iterator for Runs<'a> {
    type Item = Result<Run, Error>;

    fn next(&mut self) -> Option<Result<Run, Error>> {
        if self.at == self.chunk.len() {
            if self.done {
                return None;
            }
            self.chunk.resize(RUNS_CHUNK, Run::default());
            // SAFETY: chunk holds RUNS_CHUNK runs; the library writes at most that many.
            let n = unsafe { memattr_runs(self.map.raw, self.from, self.end, self.chunk.as_mut_ptr(), RUNS_CHUNK) };
            match check64(n) {
                Err(e) => {
                    self.chunk.clear();
                    self.at = 0;
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(n) => {
                    self.chunk.truncate(n as usize);
                    self.at = 0;
                    match self.chunk.last() {
                        Some(last) if (n as usize) == RUNS_CHUNK && last.end < self.end => self.from = last.end,
                        _ => self.done = true,
                    }
                    if n == 0 {
                        return None;
                    }
                }
            }
        }
        self.at += 1;
        Some(Ok(self.chunk[self.at - 1]))
    }
}
