//! The conversion half of diff_test: random requests (either way, with PRESERVE and
//! JOIN_ANY_PRESERVE now and then), commits, aborts, faults, populates and discards over a guest
//! window with holes, launched halfway, checked against invariants: a request owns exactly the
//! pages settled the other way and leaves its range there or pending there; commit settles the
//! owned pages in the target attribute, abort returns them to the source one; a request aborted
//! at once, and every refused call, leaves the runs exactly as they were; open_count, the pending
//! pages (= what open conversions own) and check_invariants agree every 500 operations.
use crate::{Rng, Tap};
use memattr::{abi, Conversion, Error, Fault, Map, PageRange, Run, Side};

const PRIVATE: u8 = abi::PAGE_PRIVATE;
const PENDING: u8 = abi::PAGE_PENDING;
const PRESERVE: u8 = abi::PAGE_PRESERVE;
const MAX_OPEN: usize = 48;

/// Conversion bits of a page settled in an attribute.
fn settled(private: bool) -> u8 {
    if private {
        PRIVATE
    } else {
        0
    }
}

struct Open {
    conv: Conversion,
    owned: Vec<PageRange>,
}

struct ConvTest {
    map: Map,
    rng: Rng,
    base: u64,
    npages: u64,
    open: Vec<Open>,
    guest_pages: u64,
    // counts for the case names
    opened: u64,
    refused: [u64; 4], // NXIO, BUSY, OPNOTSUPP/PERM, other
    committed: u64,
    aborted: u64,
    aborted_at_once: u64,
    faults: [u64; 4], // spurious, in flight, convert, violation
    backing_calls: u64,
    refused_unchanged: u64,
}

/// Named checks of the conversion test, each a TAP case at the end.
const CONV_CASES: [&str; 8] = ["request", "refused", "commit", "abort", "abort at once", "fault", "backing", "bookkeeping"];

struct ConvChecks {
    failures: Vec<u64>,
    diags: Vec<Vec<String>>,
}

impl ConvChecks {
    fn check(&mut self, case: usize, ok: bool, why: impl FnOnce() -> String) {
        if !ok {
            self.failures[case] += 1;
            if self.diags[case].len() < 5 {
                self.diags[case].push(why());
            }
        }
    }
}

impl ConvTest {
    fn snapshot(&self) -> Result<Vec<Run>, Error> {
        self.map.runs(self.base - 64, self.base + self.npages + 64)
    }

    /// A range around the guest window: mostly small, sometimes large, sometimes over its edges.
    fn range(&mut self) -> (u64, u64) {
        let gfn = self.base - 16 + self.rng.below(self.npages + 32);
        let npages = match self.rng.below(10) {
            0..=5 => 1 + self.rng.below(8),
            6..=8 => 1 + self.rng.below(96),
            _ => 1 + self.rng.below(1024),
        };
        (gfn, npages)
    }

    /// The value of every page of [gfn, gfn + npages) from a snapshot's runs, as runs.
    fn pages_of(runs: &[Run], gfn: u64, npages: u64) -> Vec<Run> {
        let end = gfn + npages;
        runs.iter().filter(|r| r.end > gfn && r.start < end).map(|r| Run { start: r.start.max(gfn), end: r.end.min(end), value: r.value }).collect()
    }

    /// Checks the owned ranges of an open conversion and returns them.
    fn owned_of(&self, checks: &mut ConvChecks, case: usize, conv: &Conversion) -> Result<Vec<PageRange>, Error> {
        let owned = self.map.owned_ranges(conv)?;
        let total: u64 = owned.iter().map(|r| r.npages).sum();
        checks.check(case, owned.len() as u64 == conv.nranges_owned && total == conv.npages_owned, || {
            format!("#{}: owned_ranges {} ranges of {} pages, the conversion says {} of {}", conv.id, owned.len(), total, conv.nranges_owned, conv.npages_owned)
        });
        let inside = owned.iter().all(|r| r.npages > 0 && r.gfn >= conv.gfn && r.gfn + r.npages <= conv.gfn + conv.npages);
        let maximal = owned.windows(2).all(|w| w[0].gfn + w[0].npages < w[1].gfn);
        checks.check(case, inside && maximal, || format!("#{}: owned ranges {:?} not sorted, maximal and inside {}+{}", conv.id, owned, conv.gfn, conv.npages));
        Ok(owned)
    }

    /// Every owned page of `owned` holds conversion bits `bits` now.
    fn owned_bits(&self, owned: &[PageRange], bits: u8) -> Result<Option<Run>, Error> {
        for r in owned {
            for run in self.map.runs(r.gfn, r.gfn + r.npages)? {
                if run.value & abi::PAGE_CONVERSION_MASK != bits {
                    return Ok(Some(run));
                }
            }
        }
        Ok(None)
    }

    fn request(&mut self, checks: &mut ConvChecks, launched: bool) -> Result<(), Error> {
        let (gfn, npages) = self.range();
        let to_private = self.rng.one_in(2);
        let mut flags = if to_private { abi::CONV_TO_PRIVATE } else { 0 };
        if self.rng.one_in(8) {
            flags |= abi::CONV_PRESERVE;
        }
        if self.rng.one_in(16) {
            flags |= abi::CONV_JOIN_ANY_PRESERVE;
        }
        let before = self.snapshot()?;
        match self.map.request(gfn, npages, flags) {
            Ok(conv) => {
                self.opened += 1;
                let preserve = flags & abi::CONV_PRESERVE != 0;
                checks.check(0, !(preserve && (launched || !to_private)), || {
                    format!("#{}: a PRESERVE request opened (launched {}, to private {})", conv.id, launched, to_private)
                });
                checks.check(0, conv.gfn == gfn && conv.npages == npages && conv.flags == flags && conv.to_private() == to_private, || {
                    format!("#{} describes {:?}", conv.id, conv)
                });
                // it owns exactly the guest pages settled in the other attribute
                let want_owned: u64 = Self::pages_of(&before, gfn, npages)
                    .iter()
                    .filter(|r| r.value & abi::PAGE_GUEST != 0 && r.value & PENDING == 0 && (r.value & PRIVATE != 0) != to_private)
                    .map(|r| r.end - r.start)
                    .sum();
                checks.check(0, conv.npages_owned == want_owned, || {
                    format!("#{}: owns {} pages, {} were settled the other way", conv.id, conv.npages_owned, want_owned)
                });
                // afterwards every page is settled in, or pending towards, the target
                let after = self.map.runs(gfn, gfn + npages)?;
                let wrong = after.iter().find(|r| ((r.value & PRIVATE != 0) != (r.value & PENDING != 0)) != to_private);
                checks.check(0, wrong.is_none(), || format!("#{} to private {}: {:?} neither there nor pending there", conv.id, to_private, wrong));
                let owned = self.owned_of(checks, 0, &conv)?;
                let bits = settled(!to_private) | PENDING | if preserve { PRESERVE } else { 0 };
                let off = self.owned_bits(&owned, bits)?;
                checks.check(0, off.is_none(), || format!("#{}: owned page {:?}, wanted conversion bits {:#x}", conv.id, off, bits));
                if self.rng.one_in(6) {
                    // KVM refused at once: the abort must give back exactly the runs of before
                    self.map.abort(&conv)?;
                    self.aborted_at_once += 1;
                    let now = self.snapshot()?;
                    checks.check(4, now == before, || format!("#{}: runs differ after request + abort ({} runs, {} before)", conv.id, now.len(), before.len()));
                } else {
                    self.open.push(Open { conv, owned });
                }
            }
            Err(e) => {
                let slot = match e.code() {
                    abi::E_NXIO => 0,
                    abi::E_BUSY => 1,
                    abi::E_OPNOTSUPP | abi::E_PERM => 2,
                    _ => 3,
                };
                self.refused[slot] += 1;
                checks.check(1, slot < 3, || format!("request({:#x}, {}, {:#x}): unexpected {}", gfn, npages, flags, e));
                let now = self.snapshot()?;
                checks.check(1, now == before, || format!("request({:#x}, {}, {:#x}) refused with {} but changed the runs", gfn, npages, flags, e.name()));
                self.refused_unchanged += 1;
            }
        }
        Ok(())
    }

    fn settle(&mut self, checks: &mut ConvChecks, commit: bool) -> Result<(), Error> {
        let at = self.rng.below(self.open.len() as u64) as usize;
        let o = self.open.swap_remove(at);
        let to_private = o.conv.to_private();
        let r = if commit { self.map.commit(&o.conv) } else { self.map.abort(&o.conv) };
        let case = if commit { 2 } else { 3 };
        checks.check(case, r.is_ok(), || format!("#{}: {:?}", o.conv.id, r));
        // owned pages settle in the target (commit) or return to the source attribute (abort)
        let bits = settled(to_private == commit);
        let off = self.owned_bits(&o.owned, bits)?;
        checks.check(case, off.is_none(), || {
            format!("#{} {}: owned page {:?}, wanted conversion bits {:#x}", o.conv.id, if commit { "commit" } else { "abort" }, off, bits)
        });
        if commit {
            self.committed += 1;
        } else {
            self.aborted += 1;
        }
        // settling it again is refused and changes nothing
        if self.rng.one_in(8) {
            let before = self.snapshot()?;
            let again = if self.rng.one_in(2) { self.map.commit(&o.conv) } else { self.map.abort(&o.conv) };
            checks.check(1, again.map_err(|e| e.code()) == Err(abi::E_NOENT), || format!("#{} settled twice: {:?}", o.conv.id, again));
            checks.check(1, self.snapshot()? == before, || format!("#{}: a refused second settle changed the runs", o.conv.id));
            self.refused_unchanged += 1;
        }
        Ok(())
    }

    fn fault(&mut self, checks: &mut ConvChecks) -> Result<(), Error> {
        let (gfn, npages) = self.range();
        let npages = npages.min(16);
        let to_private = self.rng.one_in(2);
        let before = self.snapshot()?;
        let pages = Self::pages_of(&before, gfn, npages);
        let there = |r: &Run| r.value & abi::PAGE_GUEST != 0 && r.value & PENDING == 0 && (r.value & PRIVATE != 0) == to_private;
        let towards = |r: &Run| r.value & PENDING != 0 && (r.value & PRIVATE != 0) != to_private;
        match self.map.fault(gfn, npages, to_private) {
            Ok(Fault::Convert(conv)) => {
                self.faults[2] += 1;
                checks.check(5, conv.to_private() == to_private && conv.npages_owned > 0, || {
                    format!("fault({:#x}, {}, {}) opened {:?}", gfn, npages, to_private, conv)
                });
                let owned = self.owned_of(checks, 5, &conv)?;
                self.open.push(Open { conv, owned });
            }
            decided => {
                let ok = match decided {
                    Ok(Fault::Spurious) => {
                        self.faults[0] += 1;
                        pages.iter().all(there)
                    }
                    Ok(Fault::InFlight) => {
                        self.faults[1] += 1;
                        pages.iter().any(towards)
                    }
                    Err(e) => {
                        self.faults[3] += 1;
                        e.code() == abi::E_NXIO || e.code() == abi::E_BUSY
                    }
                    Ok(Fault::Convert(_)) => unreachable!(),
                };
                checks.check(5, ok, || format!("fault({:#x}, {}, to private {}) = {:?} over {:?}", gfn, npages, to_private, decided, pages));
                checks.check(5, self.snapshot()? == before, || format!("fault({:#x}, {}) = {:?} changed the runs", gfn, npages, decided));
            }
        }
        Ok(())
    }

    fn backing(&mut self, checks: &mut ConvChecks) -> Result<(), Error> {
        let (gfn, npages) = self.range();
        let side = if self.rng.one_in(2) { Side::Shared } else { Side::Private };
        let before = self.snapshot()?;
        let guest = Self::pages_of(&before, gfn, npages).iter().all(|r| r.value & abi::PAGE_GUEST != 0)
            && gfn >= self.base - 64
            && gfn + npages <= self.base + self.npages + 64;
        let populated = if side == Side::Shared { abi::PAGE_SHARED_POPULATED } else { abi::PAGE_PRIVATE_POPULATED };
        let r = if self.rng.one_in(2) {
            // empty pages are new, or refaults when discarded before
            let discarded = if side == Side::Shared { abi::PAGE_SHARED_DISCARDED } else { abi::PAGE_PRIVATE_DISCARDED };
            let count = |bits: u8| -> u64 {
                Self::pages_of(&before, gfn, npages).iter().filter(|r| r.value & (populated | discarded) == bits).map(|r| r.end - r.start).sum()
            };
            let (new, refault) = (count(0), count(discarded));
            self.map
                .populate(side, gfn, npages)
                .map(|p| (p.new_pages == new && p.refault_pages == refault, format!("{:?}, wanted {} new, {} refaults", p, new, refault)))
        } else {
            let full: u64 = Self::pages_of(&before, gfn, npages).iter().filter(|r| r.value & populated != 0).map(|r| r.end - r.start).sum();
            self.map.discard(side, gfn, npages).map(|freed| (freed == full, format!("freed {}, {} were populated", freed, full)))
        };
        self.backing_calls += 1;
        match r {
            Ok((ok, what)) => {
                checks.check(6, guest && ok, || format!("{:?} {:#x}+{}: {} (guest memory: {})", side, gfn, npages, what, guest));
                let now = self.map.runs(gfn, gfn + npages)?;
                let mask = abi::PAGE_CONVERSION_MASK;
                let wrong = now.iter().find(|r| Self::pages_of(&before, r.start, r.end - r.start).iter().any(|b| b.value & mask != r.value & mask));
                checks.check(6, wrong.is_none(), || format!("{:?} {:#x}+{} changed a conversion state: {:?}", side, gfn, npages, wrong));
            }
            Err(e) => {
                checks.check(6, !guest && e.code() == abi::E_NXIO, || format!("{:?} {:#x}+{}: {} (guest memory: {})", side, gfn, npages, e, guest));
                checks.check(6, self.snapshot()? == before, || format!("a refused {:?} {:#x}+{} changed the runs", side, gfn, npages));
            }
        }
        Ok(())
    }

    fn bookkeeping(&self, checks: &mut ConvChecks, op: u64) -> Result<(), Error> {
        let inv = self.map.check_invariants();
        checks.check(7, inv.is_ok(), || format!("op {}: check_invariants {:?}", op, inv));
        checks.check(7, self.map.open_count() == self.open.len() as u64, || {
            format!("op {}: open_count {}, {} open here", op, self.map.open_count(), self.open.len())
        });
        let owned: u64 = self.open.iter().map(|o| o.conv.npages_owned).sum();
        let pending = self.map.pages_matching(PENDING, PENDING);
        checks.check(7, pending == owned, || format!("op {}: {} pages pending, open conversions own {}", op, pending, owned));
        let guest = self.map.pages_matching(abi::PAGE_GUEST, abi::PAGE_GUEST);
        checks.check(7, guest == self.guest_pages, || format!("op {}: {} guest pages, {} added", op, guest, self.guest_pages));
        Ok(())
    }
}

pub(crate) fn conv_random(tap: &mut Tap, seed: u64, ops: u64) -> Result<(), Error> {
    let base = 1u64 << 18; // 1 GiB
    let mut t = ConvTest {
        map: Map::new()?,
        rng: Rng { state: seed ^ 0x636f_6e76 },
        base,
        npages: 8192,
        open: Vec::new(),
        guest_pages: 0,
        opened: 0,
        refused: [0; 4],
        committed: 0,
        aborted: 0,
        aborted_at_once: 0,
        faults: [0; 4],
        backing_calls: 0,
        refused_unchanged: 0,
    };
    // guest memory with holes: shared, a hole, private, shared; nothing past base + 8000
    for &(from, to, private) in &[(0u64, 3000u64, false), (3100, 6000, true), (6000, 8000, false)] {
        t.map.guest_add(base + from, to - from, private)?;
        t.guest_pages += to - from;
    }
    let mut checks = ConvChecks { failures: vec![0; CONV_CASES.len()], diags: vec![Vec::new(); CONV_CASES.len()] };
    let mut launch_note = String::from("never launched");
    for op in 1..=ops {
        if op == ops / 2 {
            // the launch gate: refused while a preserving conversion is open, then once only
            let preserving = t.open.iter().any(|o| o.conv.preserve());
            let first = t.map.launch();
            if preserving {
                checks.check(7, first.map_err(|e| e.code()) == Err(abi::E_INPROGRESS), || format!("launch with a PRESERVE conversion open: {:?}", first));
                while let Some(at) = t.open.iter().position(|o| o.conv.preserve()) {
                    let o = t.open.swap_remove(at);
                    t.map.commit(&o.conv)?;
                    t.committed += 1;
                }
                t.map.launch()?;
            } else {
                checks.check(7, first.is_ok(), || format!("launch: {:?}", first));
            }
            let again = t.map.launch();
            checks.check(7, again.map_err(|e| e.code()) == Err(abi::E_ALREADY) && t.map.launched(), || format!("second launch: {:?}", again));
            launch_note = format!("launched at op {} ({})", op, if preserving { "EINPROGRESS first" } else { "no PRESERVE open" });
        }
        let launched = op >= ops / 2;
        let pick = t.rng.below(100);
        if t.open.len() >= MAX_OPEN || (pick < 35 && !t.open.is_empty()) {
            let commit = t.rng.one_in(2);
            t.settle(&mut checks, commit)?;
        } else if pick < 70 {
            t.request(&mut checks, launched)?;
        } else if pick < 82 {
            t.fault(&mut checks)?;
        } else {
            t.backing(&mut checks)?;
        }
        if op % 500 == 0 {
            t.bookkeeping(&mut checks, op)?;
        }
    }
    while !t.open.is_empty() {
        t.settle(&mut checks, true)?;
    }
    t.bookkeeping(&mut checks, ops)?;
    let names = [
        format!("request: {} opened own exactly the pages settled the other way, and leave the range there or pending there", t.opened),
        format!(
            "a refused call changes nothing: {} requests (ENXIO {}, EBUSY {}, EOPNOTSUPP/EPERM {}), faults and second settles ({} checked)",
            t.refused.iter().sum::<u64>(),
            t.refused[0],
            t.refused[1],
            t.refused[2],
            t.refused_unchanged
        ),
        format!("commit: {} settle their owned pages in the target attribute", t.committed),
        format!("abort: {} return their owned pages to the source attribute", t.aborted),
        format!("abort at once: {} request + abort pairs leave exactly the runs of before", t.aborted_at_once),
        format!("fault: {} spurious, {} in flight, {} convert, {} violations, as the pages say", t.faults[0], t.faults[1], t.faults[2], t.faults[3]),
        format!("populate/discard: {} calls count the pages they change and keep conversion states", t.backing_calls),
        format!("open_count, pending pages = owned pages of open conversions, check_invariants every 500 ops; {}", launch_note),
    ];
    for (i, name) in names.iter().enumerate() {
        for d in &checks.diags[i] {
            tap.check(false, || d.clone());
        }
        tap.failures = tap.failures.max(checks.failures[i] as usize);
        tap.end(&format!("conversions ({} random ops), {}", ops, name));
    }
    Ok(())
}
