/* KVM setup of the example VMM: the ioctl sequence of src/vmm/machine.ts and src/kvm/ (the
 * TypeScript mini-VMM that runs on the build hosts), in C.
 *
 *   open /dev/kvm → KVM_GET_API_VERSION, KVM_CHECK_EXTENSION → KVM_CREATE_VM (default type)
 *   → KVM_CREATE_GUEST_MEMFD (MMAP | INIT_SHARED) + mmap → memfd_create ×2 + ftruncate + mmap
 *   → KVM_SET_USER_MEMORY_REGION2 ×3 (slot 0 with KVM_MEM_GUEST_MEMFD) → boot image into
 *   guest_memfd → KVM_CREATE_VCPU + mmap kvm_run → KVM_GET/SET_SREGS (long mode) → KVM_GET/SET_REGS
 *
 * Long mode is entered by the VMM, not by the guest (as kvmtool and Firecracker boot a 64-bit
 * kernel): a GDT, 4-level page tables identity-mapping 0..2 GiB with 2 MiB pages (PS bit in
 * the PD entries), CR0.PE|PG, CR4.PAE, EFER.LME|LMA, a 64-bit code segment. No IDT: an
 * exception triple-faults and KVM reports a shutdown exit.
 *
 * Short names: gpa guest physical address; slot a memslot; sregs segment and control registers.
 */
#define _GNU_SOURCE
#include "machine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm_compat.h"
#include "layout.h"

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
/* Page-table entry bits: present, writable, page size (2 MiB in a PD). */
#define PTE_P 1ull
#define PTE_RW 2ull
#define PTE_PS 0x80ull

/* The GDT: null, 64-bit code (selector 0x08), data (0x10). */
static const uint64_t gdt[3] = { 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull };

_Noreturn void fail_syscall(const char *call)
{
	int err = errno;
	fprintf(stderr, "vmm: %s failed: %s (errno %d)\n", call, strerror(err), err);
	exit(1);
}

/* ioctl with a pointer argument; exits with the ioctl's name on failure. */
static int xioctl(int fd, unsigned long request, void *arg, const char *name)
{
	int r = ioctl(fd, request, arg);
	if (r < 0)
		fail_syscall(name);
	return r;
}

/* ioctl with an integer argument (KVM_CHECK_EXTENSION, KVM_CREATE_VM, KVM_CREATE_VCPU …). */
static int xioctl_int(int fd, unsigned long request, unsigned long arg, const char *name)
{
	int r = ioctl(fd, request, arg);
	if (r < 0)
		fail_syscall(name);
	return r;
}

static void *map_shared(int fd, size_t bytes, const char *what)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		fail_syscall(what);
	return p;
}

/* memfd_create + ftruncate: a file of `bytes` zeros, nothing allocated yet. */
static int make_memfd(const char *name, size_t bytes)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		fail_syscall("memfd_create");
	if (ftruncate(fd, (off_t)bytes) < 0)
		fail_syscall("ftruncate(memfd)");
	return fd;
}

#define GUEST_MEMFD_FLAGS_NEEDED (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)

/* The capabilities the example needs on fd (/dev/kvm or a VM): 0, or EXIT_SKIPPED with why. */
static int check_caps(int fd, const char *on, char *why, size_t why_bytes)
{
	static const struct { long cap; const char *name; } needed[] = {
		{ KVM_CAP_USER_MEMORY2, "KVM_CAP_USER_MEMORY2 (231)" },
		{ KVM_CAP_GUEST_MEMFD, "KVM_CAP_GUEST_MEMFD (234)" },
	};
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (xioctl_int(fd, KVM_CHECK_EXTENSION, (unsigned long)needed[i].cap, "ioctl(KVM_CHECK_EXTENSION)") <= 0) {
			snprintf(why, why_bytes, "%s lacks %s", on, needed[i].name);
			return EXIT_SKIPPED;
		}
	}
	int flags = xioctl_int(fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS, "ioctl(KVM_CHECK_EXTENSION)");
	if (((unsigned long long)flags & GUEST_MEMFD_FLAGS_NEEDED) != GUEST_MEMFD_FLAGS_NEEDED) {
		snprintf(why, why_bytes,
			 "%s: KVM_CAP_GUEST_MEMFD_FLAGS (244) is %#x, needs GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED (0x3)",
			 on, (unsigned)flags);
		return EXIT_SKIPPED;
	}
	return 0;
}

int machine_probe(const char *kvm_path, char *why, size_t why_bytes)
{
	int kvm = open(kvm_path, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		int err = errno;
		if (err == ENOENT || err == ENODEV || err == ENXIO || err == EACCES || err == EPERM) {
			snprintf(why, why_bytes, "cannot open %s: %s", kvm_path, strerror(err));
			return EXIT_SKIPPED;
		}
		fail_syscall("open(/dev/kvm)");
	}
	int version = xioctl_int(kvm, KVM_GET_API_VERSION, 0, "ioctl(KVM_GET_API_VERSION)");
	int rc = 0;
	if (version != KVM_API_VERSION) {
		snprintf(why, why_bytes, "%s speaks KVM API %d, not %d", kvm_path, version, KVM_API_VERSION);
		rc = EXIT_SKIPPED;
	}
	if (rc == 0)
		rc = check_caps(kvm, kvm_path, why, why_bytes);
	if (rc == 0) {
		/* A VM answers for its own type (KVM_CAP_CHECK_EXTENSION_VM); ask the one we would make. */
		int vm = xioctl_int(kvm, KVM_CREATE_VM, 0, "ioctl(KVM_CREATE_VM)");
		rc = check_caps(vm, "a default-type VM", why, why_bytes);
		close(vm);
	}
	close(kvm);
	return rc;
}

void machine_write_boot_image(uint8_t *ram, const uint8_t *code, size_t code_bytes)
{
	uint64_t *pml4 = (uint64_t *)(ram + PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(ram + PDPT_GPA);
	uint64_t *pd0 = (uint64_t *)(ram + PD0_GPA);
	uint64_t *pd1 = (uint64_t *)(ram + PD1_GPA);

	memcpy(ram + GDT_GPA, gdt, sizeof(gdt));
	pml4[0] = PDPT_GPA | PTE_P | PTE_RW;
	pdpt[0] = PD0_GPA | PTE_P | PTE_RW; /* [0, 1 GiB): RAM */
	pdpt[1] = PD1_GPA | PTE_P | PTE_RW; /* [1, 2 GiB): the shared alias and the mailbox */
	for (uint64_t i = 0; i < 512; i++) {
		pd0[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
		pd1[i] = ((512 + i) << 21) | PTE_P | PTE_RW | PTE_PS;
	}
	memcpy(ram + CODE_GPA, code, code_bytes);
}

static void set_memslot(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t bytes, void *hva, int gmem_fd)
{
	struct kvm_userspace_memory_region2 region;
	memset(&region, 0, sizeof(region)); /* the kernel checks that the pads are zero */
	region.slot = slot;
	region.flags = flags;
	region.guest_phys_addr = gpa;
	region.memory_size = bytes;
	region.userspace_addr = (uint64_t)(uintptr_t)hva;
	region.guest_memfd_offset = 0;
	region.guest_memfd = gmem_fd < 0 ? 0 : (uint32_t)gmem_fd;
	xioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &region, "ioctl(KVM_SET_USER_MEMORY_REGION2)");
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, int long_mode)
{
	struct kvm_segment s;
	memset(&s, 0, sizeof(s));
	s.base = 0;
	s.limit = 0xffffffff;
	s.selector = selector;
	s.type = type; /* 11: code, execute/read, accessed; 3: data, read/write, accessed */
	s.present = 1;
	s.dpl = 0;
	s.db = long_mode ? 0 : 1; /* a 64-bit code segment has L = 1 and D = 0 */
	s.s = 1;
	s.l = long_mode ? 1 : 0;
	s.g = 1;
	return s;
}

void machine_create(struct machine *m, const char *kvm_path, const uint8_t *code, size_t code_bytes)
{
	if (code_bytes > CODE_MAX_BYTES) {
		fprintf(stderr, "vmm: guest code is %zu bytes, the code area %d\n", code_bytes, CODE_MAX_BYTES);
		exit(1);
	}
	memset(m, 0, sizeof(*m));
	m->kvm_fd = open(kvm_path, O_RDWR | O_CLOEXEC);
	if (m->kvm_fd < 0)
		fail_syscall("open(/dev/kvm)");
	m->vm_fd = xioctl_int(m->kvm_fd, KVM_CREATE_VM, 0 /* KVM_X86_DEFAULT_VM */, "ioctl(KVM_CREATE_VM)");

	/* The private side: a guest_memfd the host may mmap, every page starting shared (the
	 * default VM type has no private memory, so INIT_SHARED is allowed and the host can write
	 * the boot image). */
	struct kvm_create_guest_memfd gmem;
	memset(&gmem, 0, sizeof(gmem));
	gmem.size = RAM_BYTES;
	gmem.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	m->mem.private_fd = xioctl(m->vm_fd, KVM_CREATE_GUEST_MEMFD, &gmem, "ioctl(KVM_CREATE_GUEST_MEMFD)");
	m->mem.private_map = map_shared(m->mem.private_fd, RAM_BYTES, "mmap(guest_memfd)");

	m->mem.shared_fd = make_memfd("memattr-vmm-shared", RAM_BYTES);
	m->mem.shared_map = map_shared(m->mem.shared_fd, RAM_BYTES, "mmap(shared memfd)");
	m->mailbox_fd = make_memfd("memattr-vmm-mailbox", PAGE_BYTES);
	m->mem.mailbox = map_shared(m->mailbox_fd, PAGE_BYTES, "mmap(mailbox memfd)");

	set_memslot(m->vm_fd, SLOT_PRIVATE, KVM_MEM_GUEST_MEMFD, 0, RAM_BYTES, m->mem.private_map, m->mem.private_fd);
	set_memslot(m->vm_fd, SLOT_SHARED, 0, SHARED_BIT, RAM_BYTES, m->mem.shared_map, -1);
	set_memslot(m->vm_fd, SLOT_MAILBOX, 0, MAILBOX_GPA, PAGE_BYTES, m->mem.mailbox, -1);
	machine_write_boot_image(m->mem.private_map, code, code_bytes);

	int mmap_bytes = xioctl_int(m->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0, "ioctl(KVM_GET_VCPU_MMAP_SIZE)");
	m->run_bytes = (size_t)mmap_bytes;
	m->vcpu_fd = xioctl_int(m->vm_fd, KVM_CREATE_VCPU, 0, "ioctl(KVM_CREATE_VCPU)");
	m->run = map_shared(m->vcpu_fd, m->run_bytes, "mmap(vcpu)");

	struct kvm_sregs sregs;
	xioctl(m->vcpu_fd, KVM_GET_SREGS, &sregs, "ioctl(KVM_GET_SREGS)");
	sregs.cs = flat_segment(0x08, 11, 1);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(0x10, 3, 0);
	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = sizeof(gdt) - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	xioctl(m->vcpu_fd, KVM_SET_SREGS, &sregs, "ioctl(KVM_SET_SREGS)");

	struct kvm_regs regs;
	xioctl(m->vcpu_fd, KVM_GET_REGS, &regs, "ioctl(KVM_GET_REGS)");
	regs.rip = CODE_GPA;
	regs.rsp = STACK_TOP_GPA;
	regs.rflags = 2; /* bit 1 is always set; IF = 0: no interrupts */
	xioctl(m->vcpu_fd, KVM_SET_REGS, &regs, "ioctl(KVM_SET_REGS)");
}

/* "… at rip 0x…" for a fatal exit's message. */
static void describe(struct machine *m, struct vcpu_exit *exit, const char *what)
{
	struct kvm_regs regs;
	exit->kind = VCPU_EXIT_FATAL;
	if (ioctl(m->vcpu_fd, KVM_GET_REGS, &regs) == 0)
		snprintf(exit->detail, sizeof(exit->detail), "%s at rip %#llx", what, (unsigned long long)regs.rip);
	else
		snprintf(exit->detail, sizeof(exit->detail), "%s", what);
}

void machine_run(struct machine *m, struct vcpu_exit *exit)
{
	struct kvm_run *run = m->run;
	char what[120];

	memset(exit, 0, sizeof(*exit));
	for (;;) {
		if (ioctl(m->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue; /* a signal; the timeout's handler ends the process by itself */
			if (errno == EFAULT && run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
				describe(m, exit, "KVM_EXIT_MEMORY_FAULT");
				return;
			}
			fail_syscall("ioctl(KVM_RUN)");
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *data = (uint8_t *)run + run->io.data_offset; /* the next page of the mapping on x86 */
			if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == DOORBELL_PORT && run->io.size == 1 &&
			    run->io.count == 1) {
				exit->kind = VCPU_EXIT_DOORBELL;
				exit->op = data[0];
				return;
			}
			if (run->io.direction == KVM_EXIT_IO_IN)
				memset(data, 0xff, (size_t)run->io.size * run->io.count); /* no device there: all ones */
			continue;
		}
		case KVM_EXIT_MMIO:
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0xff, sizeof(run->mmio.data)); /* an unbacked gpa reads all ones */
			continue;
		case KVM_EXIT_INTR:
			continue;
		case KVM_EXIT_HLT:
			exit->kind = VCPU_EXIT_HLT;
			return;
		case KVM_EXIT_SHUTDOWN:
			describe(m, exit, "KVM_EXIT_SHUTDOWN (triple fault)");
			return;
		case KVM_EXIT_FAIL_ENTRY:
			snprintf(what, sizeof(what), "KVM_EXIT_FAIL_ENTRY (hardware reason %#llx)",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			describe(m, exit, what);
			return;
		case KVM_EXIT_INTERNAL_ERROR:
			snprintf(what, sizeof(what), "KVM_EXIT_INTERNAL_ERROR (suberror %u)", run->internal.suberror);
			describe(m, exit, what);
			return;
		default:
			snprintf(what, sizeof(what), "exit reason %u", run->exit_reason);
			describe(m, exit, what);
			return;
		}
	}
}

void machine_destroy(struct machine *m)
{
	munmap(m->run, m->run_bytes);
	close(m->vcpu_fd);
	munmap(m->mem.mailbox, PAGE_BYTES);
	close(m->mailbox_fd);
	munmap(m->mem.shared_map, RAM_BYTES);
	close(m->mem.shared_fd);
	munmap(m->mem.private_map, RAM_BYTES);
	close(m->mem.private_fd);
	close(m->vm_fd);
	close(m->kvm_fd);
}
