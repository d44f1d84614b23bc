//! The Rust wrapper's test (native/rust/memattr.rs over libmemattr.a), printed as TAP lines
//! ("ok 3 - ...", "# " lines before a failed one, the plan "1..N" last) that
//! test/native/rust.test.ts turns into vitest tests:
//! - the #[repr(C)] structs against the C layout (layout.c), errors, bad arguments, chunked runs,
//!   Send and Drop;
//! - diff_map.rs: seeded random map operations against a byte-per-page reference;
//! - diff_conv.rs: random conversions against the model's invariants.
//!
//!   MEMATTR_SEED=<n|0xhex> MEMATTR_RUST_DIFF_OPS=<map ops> build/rust/diff_test   replays a run
//!
//! Short names: gfn = 4 KiB page number; ranges are [start, end) unless named gfn + npages.
mod diff_conv;
mod diff_map;

use memattr::{abi, Conversion, Error, Map, PageRange, Run};
use std::mem::{align_of, size_of, MaybeUninit};
use std::time::Instant;

const DEFAULT_SEED: u64 = 0x6d65_6d61_7474_7221; // "memattr!"
const DEFAULT_MAP_OPS: u64 = 200_000;
const GFN_LIMIT: u64 = 1 << abi::GFN_BITS;
const RUNS_CHUNK: usize = 256; // memattr.rs fetches runs this many at a time

// ---- TAP -----------------------------------------------------------------------------------

struct Tap {
    cases: usize,
    failed_cases: usize,
    diags: Vec<String>,
    failures: usize,
}

impl Tap {
    fn new() -> Tap {
        Tap { cases: 0, failed_cases: 0, diags: Vec::new(), failures: 0 }
    }

    /// One check of the current case; the first few failures of a case are printed before it.
    fn check(&mut self, ok: bool, why: impl FnOnce() -> String) -> bool {
        if !ok {
            self.failures += 1;
            if self.diags.len() < 8 {
                self.diags.push(why());
            }
        }
        ok
    }

    fn end(&mut self, name: &str) {
        self.cases += 1;
        for d in self.diags.drain(..) {
            println!("#   {}", d);
        }
        if self.failures > 8 {
            println!("#   ({} failed checks in all)", self.failures);
        }
        if self.failures == 0 {
            println!("ok {} - {}", self.cases, name);
        } else {
            self.failed_cases += 1;
            println!("not ok {} - {}", self.cases, name);
        }
        self.failures = 0;
    }

    fn done(&self) -> i32 {
        println!("1..{}", self.cases);
        if self.failed_cases > 0 {
            1
        } else {
            0
        }
    }
}

// ---- seeded generator (splitmix64) ---------------------------------------------------------

struct Rng {
    state: u64,
}

impl Rng {
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n), n > 0 (the modulo bias does not matter here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True one time in n.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

fn env_u64(name: &str, fallback: u64) -> u64 {
    match std::env::var(name) {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse::<u64>(),
            };
            parsed.unwrap_or_else(|_| panic!("{}={} is not a number", name, s))
        }
        Err(_) => fallback,
    }
}

// ---- the API cases ---------------------------------------------------------------------------

extern "C" {
    static memattr_rust_layout_c: [u64; 18];
    static memattr_rust_layout_c_len: usize;
}

/// Offset of a field from a pointer to the struct and one to the field (no offset_of! in 1.63).
fn offset<T, F>(base: *const T, field: *const F) -> u64 {
    (field as usize - base as usize) as u64
}

fn layout_cases(tap: &mut Tap) {
    // SAFETY: plain constant arrays defined in layout.c.
    let (c, c_len) = unsafe { (memattr_rust_layout_c, memattr_rust_layout_c_len) };
    let run = MaybeUninit::<Run>::uninit();
    let range = MaybeUninit::<PageRange>::uninit();
    let conv = MaybeUninit::<Conversion>::uninit();
    let (r, g, v) = (run.as_ptr(), range.as_ptr(), conv.as_ptr());
    // SAFETY: addr_of! takes field addresses without reading the uninitialised structs.
    let rust: [u64; 18] = unsafe {
        [
            size_of::<Run>() as u64,
            align_of::<Run>() as u64,
            offset(r, std::ptr::addr_of!((*r).start)),
            offset(r, std::ptr::addr_of!((*r).end)),
            offset(r, std::ptr::addr_of!((*r).value)),
            size_of::<PageRange>() as u64,
            align_of::<PageRange>() as u64,
            offset(g, std::ptr::addr_of!((*g).gfn)),
            offset(g, std::ptr::addr_of!((*g).npages)),
            size_of::<Conversion>() as u64,
            align_of::<Conversion>() as u64,
            offset(v, std::ptr::addr_of!((*v).id)),
            offset(v, std::ptr::addr_of!((*v).slot)),
            offset(v, std::ptr::addr_of!((*v).flags)),
            offset(v, std::ptr::addr_of!((*v).gfn)),
            offset(v, std::ptr::addr_of!((*v).npages)),
            offset(v, std::ptr::addr_of!((*v).npages_owned)),
            offset(v, std::ptr::addr_of!((*v).nranges_owned)),
        ]
    };
    let cases: [(&str, std::ops::Range<usize>, &str); 3] = [
        ("Run", 0..5, "struct memattr_run (size, align, start, end, value)"),
        ("PageRange", 5..9, "struct memattr_range (size, align, gfn, npages)"),
        ("Conversion", 9..18, "struct memattr_conv (size, align, id, slot, flags, gfn, npages, npages_owned, nranges_owned)"),
    ];
    for (name, at, c_name) in cases.iter().cloned() {
        tap.check(c_len == 18, || format!("layout.c lists {} numbers, this test reads 18", c_len));
        tap.check(rust[at.clone()] == c[at.clone()], || format!("Rust {:?} != C {:?}", &rust[at.clone()], &c[at.clone()]));
        tap.end(&format!("{} has the layout of {}: {:?}", name, c_name, &c[at]));
    }
}

fn error_cases(tap: &mut Tap) {
    for &(code, name, text) in abi::ERROR_CODES {
        let e = Error::from_code(code);
        tap.check(code < 0, || format!("{} is {}", name, code));
        tap.check(e.code() == code && e.name() == name, || format!("{}: code {} name {}", name, e.code(), e.name()));
        tap.check(e.text() == text, || format!("{}: memattr_strerror says {:?}, abi.rs {:?}", name, e.text(), text));
    }
    let unknown = Error::from_code(-99_999);
    tap.check(unknown.name() == "EUNKNOWN" && unknown.text() == "unknown error", || format!("{}", unknown));
    let shown = format!("{}", Error::from_code(abi::E_INVAL));
    tap.check(shown.starts_with("EINVAL (-22): "), || format!("Display gives {:?}", shown));
    tap.end(&format!("Error: each of the {} codes has its errno name and memattr_strerror's text", abi::ERROR_CODES.len()));
}

fn expect_err<T: std::fmt::Debug>(tap: &mut Tap, what: &str, got: Result<T, Error>, code: i32) {
    let ok = match &got {
        Err(e) => e.code() == code,
        Ok(_) => false,
    };
    tap.check(ok, || format!("{}: {:?}, wanted {}", what, got, Error::from_code(code).name()));
}

fn bad_argument_cases(tap: &mut Tap) -> Result<(), Error> {
    let mut map = Map::new()?;
    map.set(10, 20, 3)?;
    let before = map.runs(0, GFN_LIMIT)?;
    expect_err(tap, "set(5, 5)", map.set(5, 5, 1), abi::E_INVAL);
    expect_err(tap, "set(0, 2^40 + 1)", map.set(0, GFN_LIMIT + 1, 1), abi::E_RANGE);
    expect_err(tap, "update(9, 3)", map.update(9, 3, 1, 1), abi::E_INVAL);
    expect_err(tap, "get(2^40)", map.get(GFN_LIMIT), abi::E_RANGE);
    expect_err(tap, "get_many with 2 gfns and 1 value", map.get_many(&[1, 2], &mut [0u8; 1]), abi::E_INVAL);
    expect_err(tap, "get_many past 2^40", map.get_many(&[1, GFN_LIMIT], &mut [0u8; 2]), abi::E_RANGE);
    expect_err(tap, "is_uniform(7, 7)", map.is_uniform(7, 7, 0), abi::E_INVAL);
    expect_err(tap, "uniform_value(0, 2^40 + 5)", map.uniform_value(0, GFN_LIMIT + 5), abi::E_RANGE);
    expect_err(tap, "count_in_range(4, 1)", map.count_in_range(4, 1, 0), abi::E_INVAL);
    expect_err(tap, "runs(3, 3)", map.runs(3, 3), abi::E_INVAL);
    let mut iter = map.runs_iter(0, GFN_LIMIT + 1);
    let first = iter.next();
    tap.check(matches!(first, Some(Err(e)) if e.code() == abi::E_RANGE) && iter.next().is_none(), || format!("runs_iter past 2^40: {:?}", first));
    expect_err(tap, "request on no guest memory", map.request(10, 1, abi::CONV_TO_PRIVATE), abi::E_NXIO);
    expect_err(tap, "commit of a made-up conversion", map.commit(&Conversion { id: 7, ..Conversion::default() }), abi::E_NOENT);
    expect_err(tap, "guest_add(0, 0)", map.guest_add(0, 0, false), abi::E_INVAL);
    expect_err(tap, "set_memory_limit(0)", map.set_memory_limit(0), abi::E_INVAL);
    tap.check(map.runs(0, GFN_LIMIT)? == before, || "a refused call changed the map".to_string());
    tap.check(map.check_invariants().is_ok(), || "check_invariants failed".to_string());
    tap.end("bad arguments are typed errors (EINVAL, ERANGE, ENXIO, ENOENT) and change nothing");
    Ok(())
}

fn chunked_runs_case(tap: &mut Tap) -> Result<(), Error> {
    let mut map = Map::new()?;
    for &nruns in &[RUNS_CHUNK - 1, RUNS_CHUNK, RUNS_CHUNK + 1, 2 * RUNS_CHUNK, 1000] {
        map.clear()?;
        // nruns runs from gfn 100: alternating values 1 and 2, each 3 pages, then 0 to 2^40
        let mut want = vec![Run { start: 0, end: 100, value: 0 }];
        for i in 0..nruns as u64 - 2 {
            let (start, value) = (100 + 3 * i, 1 + (i % 2) as u8);
            map.set(start, start + 3, value)?;
            want.push(Run { start, end: start + 3, value });
        }
        want.push(Run { start: want.last().unwrap().end, end: GFN_LIMIT, value: 0 });
        let got: Result<Vec<Run>, Error> = map.runs_iter(0, GFN_LIMIT).collect();
        tap.check(got.as_ref().ok() == Some(&want), || format!("{} runs: got {:?} runs", nruns, got.map(|g| g.len())));
        let clipped = map.runs(101, 200)?;
        tap.check(clipped.first().map(|r| (r.start, r.end)) == Some((101, 103)), || format!("clipped: {:?}", clipped.first()));
    }
    tap.end(&format!("runs_iter fetches {} runs at a time and ends exactly at the range's end (255, 256, 257, 512, 1000 runs)", RUNS_CHUNK));
    Ok(())
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn send_and_drop_cases(tap: &mut Tap) -> Result<(), Error> {
    let mut map = Map::new()?;
    map.set(0, 10, 5)?;
    let worker = std::thread::spawn(move || {
        let r = map.set(5, 8, 6);
        (map, r)
    });
    let (map, r) = worker.join().expect("the worker thread panicked");
    tap.check(r.is_ok(), || format!("set on the other thread: {:?}", r));
    let runs = map.runs(0, 10)?;
    tap.check(runs.len() == 3 && runs[1] == Run { start: 5, end: 8, value: 6 }, || format!("runs after the round trip: {:?}", runs));
    tap.end("a Map moves to another thread (Send), works there and comes back");

    // Each map is an instance with its own linear memory; fragment it so that memory is touched.
    let maps = 300u64;
    let mut per_map = 0u64;
    let before = resident_bytes();
    for _ in 0..maps {
        let mut m = Map::new()?;
        for i in 0..2000u64 {
            m.set(2 * i, 2 * i + 1, 1)?;
        }
        per_map = m.linear_memory_bytes();
    }
    let grown = resident_bytes().saturating_sub(before);
    tap.check(before > 0, || "no /proc/self/statm".to_string());
    tap.check(grown < maps * per_map / 4, || format!("resident memory grew {} bytes over {} maps of {} bytes", grown, maps, per_map));
    tap.end(&format!(
        "Drop frees the instance: {} fragmented maps of {} KiB made and dropped, resident memory grew {} KiB",
        maps,
        per_map / 1024,
        grown / 1024
    ));
    Ok(())
}

/// Runs one group of cases; an error that stops it early is a failed case of its own.
fn step(tap: &mut Tap, name: &str, cases: impl FnOnce(&mut Tap) -> Result<(), Error>) {
    let t = Instant::now();
    if let Err(e) = cases(tap) {
        tap.check(false, || format!("{} stopped: {}", name, e));
        tap.end(&format!("{} runs to its end", name));
    }
    println!("# {}: {} ms", name, t.elapsed().as_millis());
}

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let seed = env_u64("MEMATTR_SEED", DEFAULT_SEED);
    let ops = env_u64("MEMATTR_RUST_DIFF_OPS", DEFAULT_MAP_OPS);
    let conv_ops = (ops / 4).max(1000);
    println!("# seed {:#x}, {} map ops, {} conversion ops (MEMATTR_SEED, MEMATTR_RUST_DIFF_OPS replay a run)", seed, ops, conv_ops);
    let started = Instant::now();
    let mut tap = Tap::new();
    layout_cases(&mut tap);
    error_cases(&mut tap);
    step(&mut tap, "bad arguments", bad_argument_cases);
    step(&mut tap, "chunked runs", chunked_runs_case);
    step(&mut tap, "Send and Drop", send_and_drop_cases);
    step(&mut tap, "map differential test", |tap| diff_map::map_diff(tap, seed, ops));
    step(&mut tap, "random conversions", |tap| diff_conv::conv_random(tap, seed, conv_ops));
    println!("# {} ms in all", started.elapsed().as_millis());
    tap.done()
}
