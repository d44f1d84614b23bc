/* The example VMM's guest memory layout and doorbell protocol, shared by the guest (guest.S,
 * through cpp), the KVM setup (machine.c) and the VMM (vmm.c). The C port of src/vmm/layout.ts.
 * Plain integers only: the assembler reads this file too.
 *
 * Short names: gpa guest physical address (bytes); gfn gpa / 4096; npages 4 KiB pages;
 * slot a KVM memslot; alias the shared view of a RAM page.
 *
 * ## Why two views of RAM
 * A confidential VM backs one gpa twice (shared memfd, private guest_memfd) and
 * KVM_SET_MEMORY_ATTRIBUTES picks the side the guest sees. The build hosts have no
 * KVM_CAP_MEMORY_ATTRIBUTES, so a gpa cannot switch sides; the VMM gives the guest both sides
 * at two gpas instead, the way TDX puts a "shared bit" in the gpa:
 *
 *   gpa 0 ............ RAM_BYTES              slot 0  guest_memfd (MMAP|INIT_SHARED)  private side
 *   gpa 1 GiB ........ 1 GiB + RAM_BYTES      slot 1  memfd                           shared side (gpa | SHARED_BIT)
 *   gpa 2 GiB - 4 KiB  one page               slot 2  memfd                           mailbox (device page)
 *
 * Page X's private side is guest_memfd offset X * 4096, its shared side memfd offset X * 4096.
 * KVM does not stop the guest from touching the wrong side here (both slots are always mapped);
 * the VMM keeps to its own rule: it writes DMA data only into pages memattr holds shared, and it
 * never copies from guest_memfd into the memfd.
 *
 * ## RAM contents (4 MiB, identity-mapped 0..2 GiB with 2 MiB pages)
 *   0x0000 GDT   0x1000 PML4   0x2000 PDPT   0x3000 PD [0, 1 GiB)   0x4000 PD [1, 2 GiB)
 *   0x5000-0x7fff stack (unused by the guest)   0x8000-0xffff guest code
 *   0x10000 bounce pool (16 pages)              0x20000 private DMA buffer (2 pages)
 * The boot image is gfns [0, 16); all RAM starts private (as after OVMF accepted it).
 *
 * ## The doorbell
 * The guest fills the mailbox, then `out DOORBELL_PORT, al` with al = an OP_*. KVM_RUN is
 * synchronous: the VMM writes `status` before the guest runs again.
 *
 *   mailbox (u64 each, little-endian)
 *   +8  gpa   +16 npages   +24 attrs (MAP_GPA_RANGE_ENCRYPTED = to private, 0 = to shared)
 *   +32 status (VMM -> guest: 0 or a negative errno)   +40 txn (transaction number)
 *   +48 transactions (VMM -> guest before boot)        +56 verified (guest: good payloads)
 *
 * One DMA transaction (OVMF's IoMmu Map/Unmap of a bounce buffer for a device write):
 *   1. OP_MAP_GPA_RANGE, attrs 0:   bounce pages -> shared       (the VMM converts them)
 *   2. OP_DMA_WRITE:                the device writes txn's payload on the shared side
 *   3. the guest copies the bounce pages (through the alias) into its private DMA buffer
 *   4. OP_MAP_GPA_RANGE, ENCRYPTED: bounce pages -> private
 *   5. the guest checks every qword of the copy, counts it in `verified`, and reuses the
 *      bounce pages as private memory (a secret qword everywhere, like a PVALIDATE touch)
 */
#ifndef VMM_LAYOUT_H
#define VMM_LAYOUT_H

#define PAGE_BYTES 4096
#define RAM_BYTES 0x400000
#define RAM_PAGES (RAM_BYTES / PAGE_BYTES)
/* The guest reaches page X's shared side at gpa X | SHARED_BIT. */
#define SHARED_BIT 0x40000000
#define MAILBOX_GPA 0x7ffff000

#define GDT_GPA 0x0000
#define PML4_GPA 0x1000
#define PDPT_GPA 0x2000
#define PD0_GPA 0x3000
#define PD1_GPA 0x4000
#define STACK_TOP_GPA 0x8000
#define CODE_GPA 0x8000
#define CODE_MAX_BYTES 0x8000
#define BOOT_PAGES 16
#define BOUNCE_GPA 0x10000
#define BOUNCE_PAGES 16
#define DMA_BUF_GPA 0x20000

#define SLOT_PRIVATE 0
#define SLOT_SHARED 1
#define SLOT_MAILBOX 2

#define DOORBELL_PORT 0xe0
#define MB_GPA 8
#define MB_NPAGES 16
#define MB_ATTRS 24
#define MB_STATUS 32
#define MB_TXN 40
#define MB_TRANSACTIONS 48
#define MB_VERIFIED 56

/* Doorbell ops: the byte the guest writes with `out`. */
#define OP_MAP_GPA_RANGE 1 /* convert [gpa, +npages) as KVM_HC_MAP_GPA_RANGE would */
#define OP_DMA_WRITE 2     /* device: write txn's payload into the shared pages [gpa, +npages) */
#define OP_DONE 4          /* every transaction done; hlt follows */
#define OP_FAIL 0xff       /* the guest saw an unexpected status or a bad payload at txn; hlt follows */

/* KVM_MAP_GPA_RANGE_ENCRYPTED (arch/x86/include/uapi/asm/kvm_para.h): the request's "to private" bit. */
#define MAP_GPA_RANGE_ENCRYPTED 0x10

/* Every qword of transaction txn's payload is PAYLOAD_TAG << 32 | txn ("PAYL"); every qword the
 * guest writes into its private pages is SECRET_TAG << 32 | txn ("SECR"), which must never be
 * seen on the shared side. */
#define PAYLOAD_TAG 0x5041594c
#define SECRET_TAG 0x53454352

#endif /* VMM_LAYOUT_H */
