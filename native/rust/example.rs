//! A VMM's view of one guest through memattr's Rust wrapper (native/rust/memattr.rs):
//! 1 GiB of guest memory, a firmware request to private that is committed and populated, a DMA
//! buffer's request back to shared that fails in KVM and is aborted. `npm run build:rust` builds
//! it as build/rust/example.
use memattr::{abi, Map, Side};

fn main() -> Result<(), memattr::Error> {
    let mut map = Map::new()?;
    let guest_pages = (1u64 << 30) >> abi::PAGE_SHIFT;
    map.guest_add(0, guest_pages, false)?;
    println!("guest_add: {} pages of guest memory, all shared", guest_pages);

    // The guest asks for 16 pages at 1 MiB as private (KVM_HC_MAP_GPA_RANGE).
    let conv = map.request(0x100, 16, abi::CONV_TO_PRIVATE)?;
    println!("request #{}: {} pages to private, {} owned, state {:#04x} (pending)", conv.id, conv.npages, conv.npages_owned, map.get(0x100)?);
    // KVM_SET_MEMORY_ATTRIBUTES succeeded: commit, then the guest touches the pages.
    map.commit(&conv)?;
    let filled = map.populate(Side::Private, 0x100, 16)?;
    println!(
        "commit #{}: private {}, {} new guest_memfd pages",
        conv.id,
        map.is_uniform(0x100, 0x110, abi::PAGE_GUEST | abi::PAGE_PRIVATE | abi::PAGE_PRIVATE_POPULATED)?,
        filled.new_pages
    );

    // A DMA buffer goes back to shared, but KVM refuses the attribute change: abort restores it.
    let dma = map.request(0x108, 4, 0)?;
    println!("request #{}: 4 pages to shared, {} open", dma.id, map.open_count());
    map.abort(&dma)?;
    println!("abort #{}: {} open, page 0x108 back to {:#04x}", dma.id, map.open_count(), map.get(0x108)?);

    // A second commit of a settled conversion is refused with a typed error.
    if let Err(e) = map.commit(&dma) {
        println!("commit #{} again: {}", dma.id, e);
    }
    for run in map.runs(0, guest_pages + 1)? {
        println!("run [{:#x}, {:#x}) value {:#04x}", run.start, run.end, run.value);
    }
    map.check_invariants()?;
    println!("invariants hold; {} runs, {} bytes of map", map.run_count(), map.memory_bytes());
    Ok(())
}
