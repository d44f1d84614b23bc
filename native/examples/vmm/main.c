/* vmm: memattr in a C VMM on the real /dev/kvm. Boots the guest of guest.S once per discard
 * policy, lets it run its DMA transactions, and prints eager against lazy.
 *
 *   vmm [--transactions N] [--policy eager|lazy|both] [--budget BYTES[K|M]] [--timeout SECONDS]
 *       [--kvm PATH] [--dry-run]
 *
 * Exit status: 0 every check passed; 1 a check or a syscall failed; 2 bad arguments;
 * 77 skipped (no KVM device, or a capability missing: one line says which); 124 timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dryrun.h"
#include "layout.h"
#include "machine.h"
#include "vmm.h"

/* The guest (guest.S). */
extern const uint8_t guest_code_start[], guest_code_end[];

struct options {
	uint64_t transactions;
	int policies[2];
	int npolicies;
	uint64_t budget_bytes;
	unsigned timeout_s;
	const char *kvm_path;
	int dry_run;
};

static const char *const policy_names[] = { [POLICY_EAGER] = "eager", [POLICY_LAZY] = "lazy" };
static const char *const end_names[] = {
	[END_RUNNING] = "running", [END_DONE] = "done", [END_FAIL] = "fail", [END_HALTED] = "halted", [END_FATAL] = "stopped",
};

static _Noreturn void usage(const char *why)
{
	fprintf(stderr,
		"vmm: %s\nusage: vmm [--transactions N] [--policy eager|lazy|both] [--budget BYTES[K|M]] [--timeout SECONDS]\n"
		"           [--kvm PATH] [--dry-run]\n",
		why);
	exit(2);
}

/* A count with an optional K or M (×1024) suffix; usage() when it is not one. */
static uint64_t parse_size(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		usage(what);
	if (*end == 'K' || *end == 'k')
		v *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1024 * 1024, end++;
	if (*end)
		usage(what);
	return v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	*o = (struct options){ .transactions = 2000, .policies = { POLICY_EAGER, POLICY_LAZY }, .npolicies = 2,
			       .budget_bytes = 64 * 1024, .timeout_s = 120, .kvm_path = "/dev/kvm" };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--dry-run")) {
			o->dry_run = 1;
			continue;
		}
		if (!value)
			usage("an option without its value");
		i++;
		if (!strcmp(a, "--transactions")) {
			o->transactions = parse_size(value, "--transactions wants a count");
			if (o->transactions > 100000000)
				usage("--transactions is at most 10^8");
		} else if (!strcmp(a, "--budget")) {
			o->budget_bytes = parse_size(value, "--budget wants bytes (64K, 1M, 65536)");
			if (o->budget_bytes < PAGE_BYTES)
				usage("--budget is at least one page (4096)");
		} else if (!strcmp(a, "--timeout")) {
			uint64_t t = parse_size(value, "--timeout wants seconds");
			if (t == 0 || t > 86400)
				usage("--timeout is 1 to 86400 seconds");
			o->timeout_s = (unsigned)t;
		} else if (!strcmp(a, "--kvm")) {
			o->kvm_path = value;
		} else if (!strcmp(a, "--policy")) {
			if (!strcmp(value, "eager"))
				o->policies[0] = POLICY_EAGER, o->npolicies = 1;
			else if (!strcmp(value, "lazy"))
				o->policies[0] = POLICY_LAZY, o->npolicies = 1;
			else if (strcmp(value, "both"))
				usage("--policy is eager, lazy or both");
		} else {
			usage("unknown option");
		}
	}
}

static void on_alarm(int sig)
{
	static const char msg[] = "vmm: timeout: the run took longer than --timeout\n";
	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to say */
	}
	_exit(124);
}

static void row(const char *label, const struct vmm_stats *st, int n, const char *fmt, double (*get)(const struct vmm_stats *))
{
	printf("%-32s", label);
	for (int i = 0; i < n; i++)
		printf(fmt, get(&st[i]));
	printf("\n");
}

#define GETTER(name, expr) \
	static double name(const struct vmm_stats *s) { return (double)(expr); }
GETTER(get_conversions, s->conversions)
GETTER(get_discards, s->discard_calls)
GETTER(get_discarded, s->discarded_pages)
GETTER(get_refaults, s->refault_pages)
GETTER(get_peak, s->peak_double_bytes)
GETTER(get_final, s->final_double_bytes)
GETTER(get_wall, s->wall_ms)
GETTER(get_leaked, s->leaked_words)
GETTER(get_refused, s->refused)

static void print_table(const struct options *o, const struct vmm_stats *st)
{
	int n = o->npolicies;
	if (o->dry_run)
		printf("memattr VMM example, DRY RUN without KVM (guest code in user mode, memfd for guest_memfd)\n");
	else
		printf("memattr VMM example on %s (guest_memfd + memfd alias memslots, one vCPU)\n", o->kvm_path);
	printf("%llu DMA transactions per policy, %d MiB guest, lazy budget %llu bytes\n\n",
	       (unsigned long long)o->transactions, RAM_BYTES >> 20, (unsigned long long)o->budget_bytes);
	printf("%-32s", "");
	for (int i = 0; i < n; i++)
		printf("%14s", policy_names[o->policies[i]]);
	printf("\n");
	row("conversions", st, n, "%14.0f", get_conversions);
	row("refused requests", st, n, "%14.0f", get_refused);
	row("discard syscalls", st, n, "%14.0f", get_discards);
	row("discarded pages", st, n, "%14.0f", get_discarded);
	row("refault pages", st, n, "%14.0f", get_refaults);
	row("peak double allocation (bytes)", st, n, "%14.0f", get_peak);
	row("final double allocation (bytes)", st, n, "%14.0f", get_final);
	row("wall time (ms)", st, n, "%14.1f", get_wall);
	printf("%-32s", "payloads verified");
	for (int i = 0; i < n; i++) {
		char cell[48];
		snprintf(cell, sizeof(cell), "%llu/%llu", (unsigned long long)st[i].verified, (unsigned long long)st[i].transactions);
		printf("%14s", cell);
	}
	printf("\n");
	row("private words on shared side", st, n, "%14.0f", get_leaked);
	printf("%-32s", "guest end");
	for (int i = 0; i < n; i++)
		printf("%14s", end_names[st[i].end]);
	printf("\n\n");
}

int main(int argc, char **argv)
{
	struct options o;
	struct vmm_stats st[2];
	char why[256];
	const uint8_t *code = guest_code_start;
	size_t code_bytes = (size_t)(guest_code_end - guest_code_start);

	parse_options(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: a blocked KVM_RUN returns with EINTR, the handler exits */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		fail_syscall("sigaction(SIGALRM)");
	alarm(o.timeout_s);

	if (!o.dry_run && machine_probe(o.kvm_path, why, sizeof(why)) == EXIT_SKIPPED) {
		printf("vmm: skipped: %s\n", why);
		return EXIT_SKIPPED;
	}
	for (int i = 0; i < o.npolicies; i++) {
		struct vmm v;
		if (o.dry_run) {
			struct dryrun d;
			int rc = dryrun_create(&d, code, code_bytes, why, sizeof(why));
			if (rc != 0) {
				printf("vmm: %s%s\n", rc == EXIT_SKIPPED ? "skipped: " : "", why);
				return rc == EXIT_SKIPPED ? EXIT_SKIPPED : 1;
			}
			vmm_init(&v, &d.mem, o.policies[i], o.budget_bytes, o.transactions);
			dryrun_run(&v, &d);
			vmm_finish(&v);
			dryrun_destroy(&d);
		} else {
			struct machine m;
			machine_create(&m, o.kvm_path, code, code_bytes);
			vmm_init(&v, &m.mem, o.policies[i], o.budget_bytes, o.transactions);
			vmm_run(&v, &m);
			vmm_finish(&v);
			machine_destroy(&m);
		}
		st[i] = v.st;
		vmm_free(&v);
	}

	print_table(&o, st);
	int ok = 1;
	for (int i = 0; i < o.npolicies; i++) {
		if (vmm_ok(&st[i]))
			continue;
		if (ok)
			printf("result: FAILED\n");
		ok = 0;
		printf("  %s: guest %s", policy_names[o.policies[i]], end_names[st[i].end]);
		if (st[i].end == END_FAIL)
			printf(" at transaction %llu", (unsigned long long)st[i].failed_txn);
		printf(", %llu/%llu payloads verified, %llu written, %llu private words on the shared side, %u VMM errors%s%s\n",
		       (unsigned long long)st[i].verified, (unsigned long long)st[i].transactions,
		       (unsigned long long)st[i].dma_writes, (unsigned long long)st[i].leaked_words, st[i].errors,
		       st[i].error[0] ? ": " : "", st[i].error);
	}
	if (ok)
		printf("result: ok (every payload verified, no private word seen on the shared side)\n");
	return ok ? 0 : 1;
}
