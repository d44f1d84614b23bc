//! The map half of diff_test: seeded random operations (set, update, get, get_many, is_uniform,
//! uniform_value, count_in_range, runs, pages, run_count, calls with bad arguments) on a Map and
//! on a byte-per-page reference over 16384 pages that straddle 2^32, every answer compared, and
//! the whole map (check_invariants, every run, pages of each value, run_count) every
//! CHECK_EVERY operations. One TAP case per kind of call, one for the whole-map checks.
//!
//! Short names: ref = the reference, a Vec<u8> of one byte per window page; every page outside
//! the window holds 0, so writes that spill over the window's edges write 0.
use crate::{Rng, Tap, GFN_LIMIT};
use memattr::{abi, Error, Map, Run};

const CHECK_EVERY: u64 = 1000;

/// A byte per page of [base, base + bytes.len()); every other page of [0, 2^40) holds 0.
struct Ref {
    base: u64,
    bytes: Vec<u8>,
}

fn push_run(out: &mut Vec<Run>, start: u64, end: u64, value: u8) {
    if let Some(last) = out.last_mut() {
        if last.end == start && last.value == value {
            last.end = end;
            return;
        }
    }
    out.push(Run { start, end, value });
}

impl Ref {
    fn end(&self) -> u64 {
        self.base + self.bytes.len() as u64
    }

    fn get(&self, gfn: u64) -> u8 {
        if gfn >= self.base && gfn < self.end() {
            self.bytes[(gfn - self.base) as usize]
        } else {
            0
        }
    }

    /// Maximal runs of [start, end), clipped to it.
    fn runs(&self, start: u64, end: u64) -> Vec<Run> {
        let mut out = Vec::new();
        if start < self.base {
            push_run(&mut out, start, end.min(self.base), 0);
        }
        for gfn in start.max(self.base)..end.min(self.end()) {
            push_run(&mut out, gfn, gfn + 1, self.bytes[(gfn - self.base) as usize]);
        }
        if end > self.end() {
            push_run(&mut out, start.max(self.end()), end, 0);
        }
        out
    }

    /// v = (v & !clear) | set over [start, end); pages outside the window must stay 0.
    fn update(&mut self, start: u64, end: u64, clear: u8, set: u8) {
        let (from, to) = (start.max(self.base), end.min(self.end()));
        if start < self.base || end > self.end() {
            assert_eq!(set, 0, "a write outside the window must leave 0 there");
        }
        if from < to {
            for b in &mut self.bytes[(from - self.base) as usize..(to - self.base) as usize] {
                *b = (*b & !clear) | set;
            }
        }
    }
}

const KINDS: [&str; 11] = ["set", "update", "get", "get_many", "is_uniform", "uniform_value", "count_in_range", "runs", "pages", "run_count", "refused"];
const WEIGHTS: [u64; 11] = [24, 14, 15, 5, 10, 7, 7, 8, 3, 3, 4]; // of 100

struct Kind {
    calls: u64,
    bad: u64,
    diags: Vec<String>,
}

struct Diff {
    map: Map,
    reference: Ref,
    rng: Rng,
    kinds: Vec<Kind>,
    allow_long: bool,
}

impl Diff {
    fn note(&mut self, kind: usize, ok: bool, why: impl FnOnce() -> String) {
        let k = &mut self.kinds[kind];
        k.calls += 1;
        if !ok {
            k.bad += 1;
            if k.diags.len() < 5 {
                k.diags.push(why());
            }
        }
    }

    /// A value: mostly one of a few, so equal neighbours and uniform ranges come up.
    fn value(&mut self) -> u8 {
        if self.rng.one_in(5) {
            self.rng.below(256) as u8
        } else {
            self.rng.below(4) as u8
        }
    }

    /// A range inside the window: mostly short, sometimes long (only in long phases).
    fn write_range(&mut self) -> (u64, u64) {
        let n = self.reference.bytes.len() as u64;
        let start = self.reference.base + self.rng.below(n);
        let len = match self.rng.below(100) {
            0 if self.allow_long => 1 + self.rng.below(n),
            0..=69 => 1 + self.rng.below(8),
            70..=94 => 1 + self.rng.below(64),
            _ => 1 + self.rng.below(512),
        };
        (start, (start + len).min(self.reference.end()))
    }

    /// A range to read: mostly a write range, sometimes over the window's edges, up to 2^40.
    fn read_range(&mut self) -> (u64, u64) {
        if !self.rng.one_in(5) {
            return self.write_range();
        }
        let span = self.reference.bytes.len() as u64 + 128;
        let start = self.reference.base - 64 + self.rng.below(span);
        let len = match self.rng.below(3) {
            0 => 1 + self.rng.below(16),
            1 => 1 + self.rng.below(1 << 20),
            _ => GFN_LIMIT - start,
        };
        (start, (start + len).min(GFN_LIMIT))
    }

    fn query_value(&mut self, start: u64) -> u8 {
        if self.rng.one_in(2) {
            self.reference.get(start)
        } else {
            self.value()
        }
    }

    fn step(&mut self) -> Result<(), Error> {
        let mut pick = self.rng.below(100);
        let mut kind = 0;
        while pick >= WEIGHTS[kind] {
            pick -= WEIGHTS[kind];
            kind += 1;
        }
        match kind {
            0 => {
                // set; one in 50 clears a range that spills over the window with 0
                let (start, end, value) = if self.rng.one_in(50) {
                    let (s, e) = self.read_range();
                    (s, e, 0)
                } else {
                    let (s, e) = self.write_range();
                    (s, e, self.value())
                };
                let r = self.map.set(start, end, value);
                self.reference.update(start, end, 0xff, value);
                self.note(kind, r.is_ok(), || format!("set({:#x}, {:#x}, {}): {:?}", start, end, value, r));
            }
            1 => {
                let (start, end) = self.write_range();
                let clear = if self.rng.one_in(2) { 1u8 << self.rng.below(8) } else { self.rng.below(256) as u8 };
                let set = (self.rng.below(256) as u8) & if self.rng.one_in(2) { clear } else { 0xff };
                let r = self.map.update(start, end, clear, set);
                self.reference.update(start, end, clear, set);
                self.note(kind, r.is_ok(), || format!("update({:#x}, {:#x}, {:#x}, {:#x}): {:?}", start, end, clear, set, r));
            }
            2 => {
                let (gfn, _) = self.read_range();
                let (got, want) = (self.map.get(gfn), self.reference.get(gfn));
                self.note(kind, got == Ok(want), || format!("get({:#x}) = {:?}, reference {}", gfn, got, want));
            }
            3 => {
                let n = 1 + self.rng.below(3000) as usize;
                let gfns: Vec<u64> = (0..n).map(|_| self.read_range().0).collect();
                let mut values = vec![0u8; n];
                let r = self.map.get_many(&gfns, &mut values);
                let want: Vec<u8> = gfns.iter().map(|&g| self.reference.get(g)).collect();
                self.note(kind, r.is_ok() && values == want, || {
                    format!("get_many of {} gfns: {:?}, differs at {:?}", n, r, values.iter().zip(&want).position(|(a, b)| a != b))
                });
            }
            4 => {
                let (start, end) = self.read_range();
                let value = self.query_value(start);
                let runs = self.reference.runs(start, end);
                let want = runs.len() == 1 && runs[0].value == value;
                let got = self.map.is_uniform(start, end, value);
                self.note(kind, got == Ok(want), || format!("is_uniform({:#x}, {:#x}, {}) = {:?}, reference {}", start, end, value, got, want));
            }
            5 => {
                let (start, end) = self.read_range();
                let runs = self.reference.runs(start, end);
                let want = if runs.len() == 1 { Some(runs[0].value) } else { None };
                let got = self.map.uniform_value(start, end);
                self.note(kind, got == Ok(want), || format!("uniform_value({:#x}, {:#x}) = {:?}, reference {:?}", start, end, got, want));
            }
            6 => {
                let (start, end) = self.read_range();
                let value = self.query_value(start);
                let want: u64 = self.reference.runs(start, end).iter().filter(|r| r.value == value).map(|r| r.end - r.start).sum();
                let got = self.map.count_in_range(start, end, value);
                self.note(kind, got == Ok(want), || format!("count_in_range({:#x}, {:#x}, {}) = {:?}, reference {}", start, end, value, got, want));
            }
            7 => {
                let (start, end) = self.read_range();
                let want = self.reference.runs(start, end);
                let got = if self.rng.one_in(2) { self.map.runs(start, end) } else { self.map.runs_iter(start, end).collect() };
                self.note(kind, got.as_ref() == Ok(&want), || {
                    format!("runs({:#x}, {:#x}): {:?} runs, reference {}", start, end, got.map(|g| g.len()), want.len())
                });
            }
            8 => {
                let value = self.value();
                let inside = self.reference.bytes.iter().filter(|&&b| b == value).count() as u64;
                let want = if value == 0 { GFN_LIMIT - self.reference.bytes.len() as u64 + inside } else { inside };
                let got = self.map.pages(value);
                self.note(kind, got == want, || format!("pages({}) = {}, reference {}", value, got, want));
            }
            9 => {
                let want = self.reference.runs(0, GFN_LIMIT).len() as u64;
                let got = self.map.run_count();
                self.note(kind, got == want, || format!("run_count() = {}, reference {}", got, want));
            }
            _ => {
                // a call with bad arguments: the right code, and (checked at the next whole check) no change
                let (start, _) = self.write_range();
                let (what, r, code) = match self.rng.below(4) {
                    0 => ("set(s, s)", self.map.set(start, start, 1).map(|_| 0u64), abi::E_INVAL),
                    1 => ("update past 2^40", self.map.update(start, GFN_LIMIT + 1, 1, 1).map(|_| 0), abi::E_RANGE),
                    2 => ("count_in_range(s, s - 1)", self.map.count_in_range(start, start - 1, 0), abi::E_INVAL),
                    _ => ("get(2^40 + s)", self.map.get(GFN_LIMIT + start).map(u64::from), abi::E_RANGE),
                };
                self.note(kind, r.map_err(|e| e.code()) == Err(code), || format!("{} at {:#x}: {:?}", what, start, r));
            }
        }
        Ok(())
    }

    /// The whole map against the reference: invariants, every run, per-value pages, run count.
    fn whole_check(&mut self, tap: &mut Tap, op: u64) -> Result<(), Error> {
        let inv = self.map.check_invariants();
        tap.check(inv.is_ok(), || format!("after op {}: check_invariants {:?}", op, inv));
        let (got, want) = (self.map.runs(0, GFN_LIMIT)?, self.reference.runs(0, GFN_LIMIT));
        tap.check(got == want, || {
            format!("after op {}: {} runs, reference {}; first difference {:?}", op, got.len(), want.len(), got.iter().zip(&want).find(|(a, b)| a != b))
        });
        tap.check(self.map.run_count() == want.len() as u64, || format!("after op {}: run_count {}", op, self.map.run_count()));
        let mut pages = [0u64; 256];
        for r in &want {
            pages[r.value as usize] += r.end - r.start;
        }
        let bad = (0..256usize).find(|&v| self.map.pages(v as u8) != pages[v]);
        tap.check(bad.is_none(), || format!("after op {}: pages({:?}) differs", op, bad));
        Ok(())
    }
}

pub(crate) fn map_diff(tap: &mut Tap, seed: u64, ops: u64) -> Result<(), Error> {
    // 16384 pages straddling 2^32 (past u32 gfns), written in phases: short writes fragment the
    // map for 20 000 operations, then long writes join in for as many.
    let base = (1u64 << 32) - 8192;
    let mut d = Diff {
        map: Map::new()?,
        reference: Ref { base, bytes: vec![0; 16384] },
        rng: Rng { state: seed },
        kinds: (0..KINDS.len()).map(|_| Kind { calls: 0, bad: 0, diags: Vec::new() }).collect(),
        allow_long: false,
    };
    let mut checks = 0u64;
    let mut max_runs = 0u64;
    for op in 1..=ops {
        d.allow_long = (op / 20_000) % 2 == 1;
        d.step()?;
        if op % CHECK_EVERY == 0 || op == ops {
            d.whole_check(tap, op)?;
            checks += 1;
            max_runs = max_runs.max(d.map.run_count());
        }
    }
    tap.end(&format!(
        "whole map agrees with the reference at {} checkpoints (check_invariants, every run, pages of each value, run_count; up to {} runs)",
        checks, max_runs
    ));
    for (i, k) in d.kinds.iter().enumerate() {
        for diag in &k.diags {
            tap.check(false, || diag.clone());
        }
        tap.failures = tap.failures.max(k.bad as usize);
        tap.end(&format!("{}: {} random calls agree with the reference", KINDS[i], k.calls));
    }
    Ok(())
}
