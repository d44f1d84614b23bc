/* `vmm --dry-run`: the example without KVM, for tests on hosts that have no /dev/kvm. Never
 * a stand-in for the real run: the table says DRY RUN, and `vmm` without the flag never falls
 * back to it.
 *
 * The guest's bytes run in this process, in user mode, with guest memory mapped at virtual
 * addresses equal to its gpas (the page tables of the real run are an identity map too). `out`
 * and `hlt` are privileged in user mode, so they trap (SIGSEGV) and the handler does what
 * machine_run does with KVM's exits: the doorbell goes to the same vmm_on_doorbell and the
 * guest continues after its `out`; `hlt` ends the run. memfds stand in for guest_memfd.
 *
 * What this checks: the guest code, the doorbell protocol, memattr tracking, both policies and
 * the table. What it cannot: the KVM ioctls, guest_memfd and the long-mode setup (machine.c).
 */
#define _GNU_SOURCE
#include "dryrun.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "layout.h"

#define OPCODE_OUT_IMM8_AL 0xe6
#define OPCODE_HLT 0xf4

/* The run in progress, for the signal handler (one run at a time, one thread). */
static struct vmm *running;
static const uint8_t *code;
static size_t code_bytes;
static struct vcpu_exit stop;
static sigjmp_buf stopped;

static void *map_at(void *where, size_t bytes, int prot, int flags, int fd, off_t offset, const char *what,
		    char *why, size_t why_bytes)
{
	void *p = mmap(where, bytes, prot, flags, fd, offset);
	if (p == MAP_FAILED || (where && p != where)) {
		snprintf(why, why_bytes, "dry run: cannot map %s at %p: %s", what, where, strerror(errno));
		return NULL;
	}
	return p;
}

int dryrun_create(struct dryrun *d, const uint8_t *guest_code, size_t guest_code_bytes, char *why, size_t why_bytes)
{
	int fixed = MAP_SHARED | MAP_FIXED_NOREPLACE;
	memset(d, 0, sizeof(*d));
	d->mem.private_fd = memfd_create("dryrun-private", MFD_CLOEXEC);
	d->mem.shared_fd = memfd_create("dryrun-shared", MFD_CLOEXEC);
	d->mailbox_fd = memfd_create("dryrun-mailbox", MFD_CLOEXEC);
	if (d->mem.private_fd < 0 || d->mem.shared_fd < 0 || d->mailbox_fd < 0)
		fail_syscall("memfd_create");
	if (ftruncate(d->mem.private_fd, RAM_BYTES) < 0 || ftruncate(d->mem.shared_fd, RAM_BYTES) < 0 ||
	    ftruncate(d->mailbox_fd, PAGE_BYTES) < 0)
		fail_syscall("ftruncate(memfd)");
	/* The VMM's views, anywhere. */
	d->mem.private_map = map_at(NULL, RAM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, d->mem.private_fd, 0, "RAM", why, why_bytes);
	d->mem.shared_map = map_at(NULL, RAM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, d->mem.shared_fd, 0, "RAM", why, why_bytes);
	d->mem.mailbox = map_at(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, d->mailbox_fd, 0, "mailbox", why, why_bytes);
	if (!d->mem.private_map || !d->mem.shared_map || !d->mem.mailbox)
		return -1;
	/* The guest's views at its gpas: RAM from the bounce pool up (the loop touches nothing
	 * below it; VA 0 cannot be mapped), the shared alias, the mailbox. */
	d->guest_ram = map_at((void *)BOUNCE_GPA, RAM_BYTES - BOUNCE_GPA, PROT_READ | PROT_WRITE, fixed, d->mem.private_fd,
			      BOUNCE_GPA, "guest RAM", why, why_bytes);
	d->guest_alias = map_at((void *)SHARED_BIT, RAM_BYTES, PROT_READ | PROT_WRITE, fixed, d->mem.shared_fd, 0,
				"the shared alias", why, why_bytes);
	d->guest_mailbox = map_at((void *)MAILBOX_GPA, PAGE_BYTES, PROT_READ | PROT_WRITE, fixed, d->mailbox_fd, 0,
				  "the mailbox", why, why_bytes);
	if (!d->guest_ram || !d->guest_alias || !d->guest_mailbox)
		return EXIT_SKIPPED;
	d->code = map_at(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, "code", why, why_bytes);
	if (!d->code)
		return -1;
	memcpy(d->code, guest_code, guest_code_bytes);
	if (mprotect(d->code, PAGE_BYTES, PROT_READ | PROT_EXEC) < 0)
		fail_syscall("mprotect(code)");
	d->code_bytes = guest_code_bytes;
	machine_write_boot_image(d->mem.private_map, guest_code, guest_code_bytes); /* as the real run loads it */
	return 0;
}

static void on_trap(int sig, siginfo_t *info, void *context)
{
	greg_t *regs = ((ucontext_t *)context)->uc_mcontext.gregs;
	const uint8_t *ip = (const uint8_t *)regs[REG_RIP];
	int in_guest = ip >= code && ip < code + code_bytes;

	if (sig == SIGSEGV && in_guest && ip[0] == OPCODE_OUT_IMM8_AL && ip + 2 <= code + code_bytes) {
		if (ip[1] == DOORBELL_PORT)
			vmm_on_doorbell(running, (uint8_t)regs[REG_RAX]);
		regs[REG_RIP] += 2; /* past `out imm8, al`, as KVM completes the instruction */
		return;
	}
	if (sig == SIGSEGV && in_guest && ip[0] == OPCODE_HLT) {
		stop.kind = VCPU_EXIT_HLT;
		siglongjmp(stopped, 1);
	}
	stop.kind = VCPU_EXIT_FATAL;
	snprintf(stop.detail, sizeof(stop.detail), "%s at %s offset %#lx, address %p", sig == SIGSEGV ? "SIGSEGV" : "SIGBUS",
		 in_guest ? "guest code" : "VMM code (not the guest)", (unsigned long)(in_guest ? ip - code : 0), info->si_addr);
	if (!in_guest) {
		signal(sig, SIG_DFL); /* a bug of the VMM itself: crash as usual */
		return;
	}
	siglongjmp(stopped, 1);
}

void dryrun_run(struct vmm *v, struct dryrun *d)
{
	struct sigaction sa, old_segv, old_bus;
	struct timespec t0, t1;
	void (*entry)(void);
	void *entry_address = d->code;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	running = v;
	code = d->code;
	code_bytes = d->code_bytes;
	memset(&stop, 0, sizeof(stop));
	if (sigaction(SIGSEGV, &sa, &old_segv) < 0 || sigaction(SIGBUS, &sa, &old_bus) < 0)
		fail_syscall("sigaction");
	memcpy(&entry, &entry_address, sizeof(entry));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (sigsetjmp(stopped, 1) == 0)
		entry(); /* never returns: the guest ends in hlt (or faults), and the handler jumps back */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	v->st.wall_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	vmm_on_stop(v, &stop);
}

static void unmap(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

void dryrun_destroy(struct dryrun *d)
{
	unmap(d->code, PAGE_BYTES);
	unmap(d->guest_mailbox, PAGE_BYTES);
	unmap(d->guest_alias, RAM_BYTES);
	unmap(d->guest_ram, RAM_BYTES - BOUNCE_GPA);
	unmap(d->mem.mailbox, PAGE_BYTES);
	unmap(d->mem.shared_map, RAM_BYTES);
	unmap(d->mem.private_map, RAM_BYTES);
	close(d->mailbox_fd);
	close(d->mem.shared_fd);
	close(d->mem.private_fd);
}
