/* memattr's C API against C baselines, in one process and one run (npm run bench:native).
 *
 *   bench_native OUT.json      runs every group, prints progress, writes the results as JSON
 *
 * Contenders (contender.h): memattr (libmemattr.a), a flat byte array, a QEMU-style bitmap and
 * a per-page radix tree stored page by page as KVM does. Workloads: the JS peers suite's
 * (bench/peers.bench.ts, bench/sweep.bench.ts, bench/adversarial.bench.ts) on the same seeded
 * inputs (inputs.c).
 *
 * Method, per group: build every contender on the same commands, check every answer against
 * memattr (gets, isUniform queries, a scan of every page of a window, and the timed loops'
 * own results; any difference aborts the run), then time each contender: a warm-up, then
 * SAMPLES samples, each a loop of many operations between two clock_gettime() calls; the
 * median and the minimum ns per operation are reported. A destructive operation (a
 * whole-guest conversion from 10 000 runs) has its state rebuilt, untimed, before each sample.
 * A contender with max_bulk_pages (the per-page tree) converts a 1 TiB guest only in a
 * measured smaller guest, scaled linearly, and the JSON says so.
 *
 * MEMATTR_BENCH_QUICK=1: short warm-ups, few samples, the adversarial map at 2^20 pages and
 * no 1 TiB per-page tree (a few seconds in all; for tests and CI).
 */
#define _GNU_SOURCE /* open_memstream, getloadavg */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "contender.h"
#include "inputs.h"

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "?"
#endif

#define GiB_PAGES ((uint64_t)1 << 18)
#define TiB_PAGES ((uint64_t)1 << 28)
#define POOL ((size_t)1 << 20) /* random gfns drawn from, as in the JS suite */
#define GETS_PER_BATCH 4096
#define MAX_SAMPLES 64

static const struct contender *const CONTENDERS[] = {
	&contender_memattr, &contender_flat, &contender_bitmap, &contender_pagetree,
};
#define NCONTENDERS (sizeof(CONTENDERS) / sizeof(CONTENDERS[0]))

static struct {
	int quick;
	double warmup_ns;     /* per case, before its samples */
	double sample_ns;     /* a sample repeats batches until it lasts at least this */
	int samples;
	int reset_samples;    /* for cases rebuilt before every sample */
	int reset_warmups;
} cfg;

static volatile uint64_t sink; /* keeps the compiler from dropping a loop whose result is unused */

_Noreturn void bench_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bench-native: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- JSON output ---------------------------------------------------------------------------- */

static FILE *js;
static char *js_buf;
static size_t js_len;
static int js_groups, js_cases;

static void js_str(const char *s)
{
	fputc('"', js);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(js, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(js, "\\u%04x", ch);
		else
			fputc(ch, js);
	}
	fputc('"', js);
}

static void js_key(const char *k)
{
	js_str(k);
	fputc(':', js);
}

/** A finite number (JSON has no NaN). */
static void js_num(double v)
{
	if (!isfinite(v))
		fputs("null", js);
	else if (v == floor(v) && fabs(v) < 1e15)
		fprintf(js, "%.0f", v);
	else
		fprintf(js, "%.6g", v);
}

/* ---- timing --------------------------------------------------------------------------------- */

struct stats {
	double median_ns, min_ns; /* per operation */
	int samples;
	uint64_t ops_per_sample;
};

/** One batch of operations; returns something to sink. */
typedef uint64_t (*batch_fn)(void *arg);

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct stats summarize(double *ns, int n, uint64_t ops_per_sample)
{
	qsort(ns, (size_t)n, sizeof(*ns), cmp_double);
	return (struct stats){
		.median_ns = n % 2 ? ns[n / 2] : (ns[n / 2 - 1] + ns[n / 2]) / 2,
		.min_ns = ns[0],
		.samples = n,
		.ops_per_sample = ops_per_sample,
	};
}

/** Warm-up, then cfg.samples samples of `reps` batches each, reps chosen so a sample lasts cfg.sample_ns. */
static struct stats measure(batch_fn fn, void *arg, uint64_t ops_per_batch)
{
	double ns[MAX_SAMPLES];
	uint64_t batches = 0, reps, acc = 0;
	double t0 = now_ns(), spent;

	do {
		acc += fn(arg);
		batches++;
		spent = now_ns() - t0;
	} while (spent < cfg.warmup_ns || batches < 2);
	reps = (uint64_t)ceil(cfg.sample_ns / (spent / (double)batches));
	if (reps < 1)
		reps = 1;
	for (int s = 0; s < cfg.samples; s++) {
		double t = now_ns();

		for (uint64_t r = 0; r < reps; r++)
			acc += fn(arg);
		ns[s] = (now_ns() - t) / (double)(reps * ops_per_batch);
	}
	sink += acc;
	return summarize(ns, cfg.samples, reps * ops_per_batch);
}

/** For a destructive batch: reset (untimed) before every sample of one batch. */
static struct stats measure_with_reset(void (*reset)(void *arg), batch_fn fn, void *arg, uint64_t ops_per_batch)
{
	double ns[MAX_SAMPLES];
	uint64_t acc = 0;

	for (int s = -cfg.reset_warmups; s < cfg.reset_samples; s++) {
		double t;

		reset(arg);
		t = now_ns();
		acc += fn(arg);
		if (s >= 0)
			ns[s] = (now_ns() - t) / (double)ops_per_batch;
	}
	sink += acc;
	return summarize(ns, cfg.reset_samples, ops_per_batch);
}

/* ---- building and checking ------------------------------------------------------------------ */

struct built {
	const struct contender *c;
	void *s;              /* NULL when skipped */
	const char *skip;
	uint64_t pages;       /* the guest this store holds (smaller than the group's when scaled) */
	double setup_ms;
	uint64_t memory_bytes;
};

static uint64_t checks_gets, checks_queries, checks_loops;

static void build(struct built *b, const struct contender *c, uint64_t pages, const struct cmds *cmds)
{
	double t0 = now_ns();

	*b = (struct built){ .c = c, .pages = pages };
	b->s = c->create(pages);
	c->set_loop(b->s, cmds->a, cmds->n);
	b->setup_ms = (now_ns() - t0) / 1e6;
	b->memory_bytes = c->memory_bytes(b->s);
}

static void unbuild(struct built *b)
{
	if (b->s)
		b->c->destroy(b->s);
	b->s = NULL;
}

/** Why the quick mode leaves a contender out of a guest this big, or NULL. */
static const char *quick_skip(const struct contender *c, uint64_t pages)
{
	if (cfg.quick && c->max_bulk_pages && pages > c->max_bulk_pages)
		return "not in the quick run: a per-page store of 2^28 pages takes seconds to build and ~2 GiB";
	return NULL;
}

static void check_query(const struct built *ref, const struct built *b, uint64_t start, uint64_t end, unsigned value)
{
	int want, got;

	if (end > b->pages)
		end = b->pages;
	if (start >= end || value > b->c->max_value)
		return;
	want = ref->c->is_uniform(ref->s, start, end, value);
	got = b->c->is_uniform(b->s, start, end, value);
	if (want != got)
		bench_fail("%s: is_uniform(%llu, %llu, %u) = %d, memattr says %d", b->c->name, (unsigned long long)start,
			   (unsigned long long)end, value, got, want);
	checks_queries++;
}

/**
 * Every answer of b against ref (memattr on the same commands): gets of gfns and of every page
 * of [0, scan_to), the queries, ranges of 1-512 pages at each of the first 256 gfns and the whole
 * guest for both values, and the timed loops' results on the same inputs. Aborts on a difference.
 */
static void verify(const struct built *ref, const struct built *b, const uint64_t *gfns, size_t ngfns,
		   const struct cmds *queries, uint64_t scan_to)
{
	static const uint64_t LENGTHS[] = { 1, 2, 63, 64, 65, 512 };

	if (!b->s || b == ref)
		return;
	if (ref->pages != b->pages)
		bench_fail("verify: %s holds %llu pages, the reference %llu", b->c->name, (unsigned long long)b->pages,
			   (unsigned long long)ref->pages);
	if (scan_to > b->pages)
		scan_to = b->pages;
	for (size_t i = 0; i < ngfns + scan_to; i++) {
		uint64_t g = i < ngfns ? gfns[i] : i - ngfns;
		int want = ref->c->get(ref->s, g), got = b->c->get(b->s, g);

		if (want != got)
			bench_fail("%s: get(%llu) = %d, memattr says %d", b->c->name, (unsigned long long)g, got, want);
		checks_gets++;
	}
	for (size_t i = 0; queries && i < queries->n; i++)
		check_query(ref, b, queries->a[i].start, queries->a[i].end, queries->a[i].value);
	for (size_t i = 0; i < ngfns && i < 256; i++)
		for (size_t k = 0; k < sizeof(LENGTHS) / sizeof(LENGTHS[0]); k++)
			for (unsigned v = 0; v <= 1; v++)
				check_query(ref, b, gfns[i], gfns[i] + LENGTHS[k], v);
	check_query(ref, b, 0, b->pages, SHARED);
	check_query(ref, b, 0, b->pages, PRIVATE);
	if (ngfns) {
		uint64_t want = ref->c->get_loop(ref->s, gfns, ngfns), got = b->c->get_loop(b->s, gfns, ngfns);

		if (want != got)
			bench_fail("%s: get_loop sum %llu, memattr's %llu", b->c->name, (unsigned long long)got,
				   (unsigned long long)want);
		checks_loops++;
	}
	if (queries) {
		uint64_t want = ref->c->is_uniform_loop(ref->s, queries->a, queries->n);
		uint64_t got = b->c->is_uniform_loop(b->s, queries->a, queries->n);

		if (want != got)
			bench_fail("%s: is_uniform_loop holds %llu, memattr's %llu", b->c->name, (unsigned long long)got,
				   (unsigned long long)want);
		checks_loops++;
	}
}

/** The reference's own batch path against its per-call path. */
static void verify_get_many(const struct built *ref, const uint64_t *gfns, size_t n)
{
	if (!ref->c->get_many_loop)
		return;
	if (ref->c->get_many_loop(ref->s, gfns, n) != ref->c->get_loop(ref->s, gfns, n))
		bench_fail("%s: get_many and get disagree", ref->c->name);
	checks_loops++;
}

static void verify_all(struct built *b, const uint64_t *gfns, size_t ngfns, const struct cmds *queries, uint64_t scan_to)
{
	for (size_t i = 1; i < NCONTENDERS; i++)
		verify(&b[0], &b[i], gfns, ngfns, queries, scan_to);
	verify_get_many(&b[0], gfns, ngfns);
}

/* ---- groups and cases in the JSON ----------------------------------------------------------- */

static void group_begin(const char *id, const char *title, uint64_t pages, const char *op, const char *note)
{
	fputs(js_groups++ ? ",\n{" : "\n{", js);
	js_key("id"), js_str(id), fputc(',', js);
	js_key("title"), js_str(title), fputc(',', js);
	js_key("pages"), js_num((double)pages), fputc(',', js);
	js_key("op"), js_str(op), fputc(',', js);
	js_key("note"), js_str(note), fputc(',', js);
	js_key("cases"), fputc('[', js);
	js_cases = 0;
	checks_gets = checks_queries = checks_loops = 0;
	printf("\n## %s\n", title);
	fflush(stdout);
}

static void group_end(void)
{
	fprintf(js, "],\"verified\":{\"ok\":true,\"gets\":%llu,\"queries\":%llu,\"loops\":%llu}}",
		(unsigned long long)checks_gets, (unsigned long long)checks_queries, (unsigned long long)checks_loops);
}

static void case_begin(const struct contender *c, const char *name)
{
	fputs(js_cases++ ? ",{" : "{", js);
	js_key("key"), js_str(c->key), fputc(',', js);
	js_key("name"), js_str(name), fputc(',', js);
}

static void case_skip(const struct built *b)
{
	case_begin(b->c, b->c->name);
	js_key("skip"), js_str(b->skip), fputc('}', js);
	printf("  %-32s skipped: %s\n", b->c->name, b->skip);
}

/** A timed case; scale > 1 when b holds a smaller guest than the group's and the figures are scaled to it. */
static void case_timed(const struct built *b, const char *name, struct stats st, double scale)
{
	case_begin(b->c, name);
	js_key("medianNs"), js_num(st.median_ns * scale), fputc(',', js);
	js_key("minNs"), js_num(st.min_ns * scale), fputc(',', js);
	js_key("samples"), js_num(st.samples), fputc(',', js);
	js_key("opsPerSample"), js_num((double)st.ops_per_sample), fputc(',', js);
	js_key("memoryBytes"), js_num((double)b->memory_bytes * scale), fputc(',', js);
	js_key("setupMs"), js_num(b->setup_ms * scale);
	if (scale != 1) {
		fputc(',', js);
		js_key("measuredPages"), js_num((double)b->pages), fputc(',', js);
		js_key("scale"), js_num(scale), fputc(',', js);
		js_key("measuredMedianNs"), js_num(st.median_ns), fputc(',', js);
		js_key("measuredMinNs"), js_num(st.min_ns);
	}
	fputc('}', js);
	printf("  %-32s median %12.2f ns/op  min %12.2f%s\n", name, st.median_ns * scale, st.min_ns * scale,
	       scale != 1 ? "  (scaled linearly from a smaller guest)" : "");
	fflush(stdout);
}

/* ---- batches -------------------------------------------------------------------------------- */

struct run {
	const struct built *b;  /* b[0 .. ncopies) for a destructive batch, else b[0] */
	size_t ncopies;
	const uint64_t *pool;   /* POOL gfns */
	size_t at;
	const struct cmds *cmds;
	unsigned value;
};

static uint64_t batch_get(void *arg)
{
	struct run *r = arg;
	uint64_t sum = r->b->c->get_loop(r->b->s, r->pool + r->at, GETS_PER_BATCH);

	r->at = (r->at + GETS_PER_BATCH) & (POOL - 1);
	return sum;
}

static uint64_t batch_get_many(void *arg)
{
	struct run *r = arg;
	uint64_t sum = r->b->c->get_many_loop(r->b->s, r->pool + r->at, GETS_PER_BATCH);

	r->at = (r->at + GETS_PER_BATCH) & (POOL - 1);
	return sum;
}

static uint64_t batch_set(void *arg)
{
	struct run *r = arg;

	r->b->c->set_loop(r->b->s, r->cmds->a, r->cmds->n);
	return 0;
}

static uint64_t batch_is_uniform(void *arg)
{
	struct run *r = arg;

	return r->b->c->is_uniform_loop(r->b->s, r->cmds->a, r->cmds->n);
}

/** The whole guest to the other value (uniform → uniform). */
static uint64_t batch_whole_flip(void *arg)
{
	struct run *r = arg;

	r->value ^= 1;
	r->b->c->set(r->b->s, 0, r->b->pages, r->value);
	return r->value;
}

/** Every copy's whole guest to shared. */
static uint64_t batch_whole_shared(void *arg)
{
	struct run *r = arg;

	for (size_t k = 0; k < r->ncopies; k++)
		r->b[k].c->set(r->b[k].s, 0, r->b[k].pages, SHARED);
	return 0;
}

/** Every copy back to the state cmds build. */
static void reset_to_cmds(void *arg)
{
	struct run *r = arg;

	for (size_t k = 0; k < r->ncopies; k++)
		r->b[k].c->set_loop(r->b[k].s, r->cmds->a, r->cmds->n);
}

/* ---- the groups ----------------------------------------------------------------------------- */

static const char *size_label(uint64_t pages, char *buf, size_t len)
{
	uint64_t bytes = pages * 4096;

	if (bytes >= ((uint64_t)1 << 40))
		snprintf(buf, len, "%llu TiB", (unsigned long long)(bytes >> 40));
	else if (bytes >= ((uint64_t)1 << 30))
		snprintf(buf, len, "%llu GiB", (unsigned long long)(bytes >> 30));
	else
		snprintf(buf, len, "%llu MiB", (unsigned long long)(bytes >> 20));
	return buf;
}

static unsigned log2u(uint64_t x)
{
	return 63 - (unsigned)__builtin_clzll(x);
}

static const char SCALED[] = "A per-page store too slow for this size is timed on a smaller guest of the same shape and "
			     "scaled linearly (measuredPages, scale): its work is one store per page, and caches and the TLB only "
			     "do worse at the full size.";

static const char BOOTED[] = "booted guest: all private, a shared 64 MiB bounce area, 5 000 scattered shared pages (≈10 000 runs)";

/** Random point lookups, as peers' and sweep's get groups. */
static void group_gets(const char *id, uint64_t pages)
{
	char title[160], size[32], note[400];
	struct cmds cmds = booted_guest(pages, 5000, 1);
	struct cmds queries = aligned_queries(pages, 200, 512, PRIVATE, 5);
	uint64_t *check = random_gfns(pages, 2000, 99);
	uint64_t *pool = random_gfns(pages, POOL, 7);
	struct built b[NCONTENDERS];

	snprintf(title, sizeof(title), "random point lookups, %s guest (2^%u 4K pages, 10 000 runs)",
		 size_label(pages, size, sizeof(size)), log2u(pages));
	snprintf(note, sizeof(note), "%s. %d gets per batch from a pool of 2^20 random pages; one op = one get.", BOOTED,
		 GETS_PER_BATCH);
	group_begin(id, title, pages, "one get", note);
	for (size_t i = 0; i < NCONTENDERS; i++) {
		const char *why = quick_skip(CONTENDERS[i], pages);

		if (why)
			b[i] = (struct built){ .c = CONTENDERS[i], .skip = why, .pages = pages };
		else
			build(&b[i], CONTENDERS[i], pages, &cmds);
	}
	verify_all(b, check, 2000, &queries, pages < ((uint64_t)1 << 20) ? pages : (uint64_t)1 << 20);
	for (size_t i = 0; i < NCONTENDERS; i++) {
		struct run r = { .b = &b[i], .pool = pool };

		if (!b[i].s) {
			case_skip(&b[i]);
			continue;
		}
		case_timed(&b[i], b[i].c->name, measure(batch_get, &r, GETS_PER_BATCH), 1);
		if (b[i].c->get_many_loop)
			case_timed(&b[i], b[i].c->get_many_name, measure(batch_get_many, &r, GETS_PER_BATCH), 1);
		unbuild(&b[i]);
	}
	group_end();
	for (size_t i = 0; i < NCONTENDERS; i++)
		unbuild(&b[i]);
	free(pool);
	free(check);
	cmds_free(&queries);
	cmds_free(&cmds);
}

/** A list of sets on a booted 1 GiB guest, applied once everywhere and checked, then timed. */
static void group_sets(const char *id, const char *title, const char *note, struct cmds work)
{
	struct cmds cmds = booted_guest(GiB_PAGES, 5000, 1);
	uint64_t *check = random_gfns(GiB_PAGES, 2000, 99);
	struct built b[NCONTENDERS];

	group_begin(id, title, GiB_PAGES, "one set", note);
	for (size_t i = 0; i < NCONTENDERS; i++) {
		build(&b[i], CONTENDERS[i], GiB_PAGES, &cmds);
		b[i].c->set_loop(b[i].s, work.a, work.n);
	}
	verify_all(b, check, 2000, NULL, GiB_PAGES);
	for (size_t i = 0; i < NCONTENDERS; i++) {
		struct run r = { .b = &b[i], .cmds = &work };

		case_timed(&b[i], b[i].c->name, measure(batch_set, &r, work.n), 1);
	}
	/* a pass leaves every page it covers at its last set's value, however many passes ran
	 * before: one more everywhere, and the stores must agree again */
	for (size_t i = 0; i < NCONTENDERS; i++)
		b[i].c->set_loop(b[i].s, work.a, work.n);
	verify_all(b, check, 2000, NULL, GiB_PAGES);
	group_end();
	for (size_t i = 0; i < NCONTENDERS; i++)
		unbuild(&b[i]);
	free(check);
	cmds_free(&cmds);
	cmds_free(&work);
}

/** isUniform over aligned 2 MiB ranges of a 4 GiB guest, fragmented or mostly uniform. */
static void group_is_uniform(const char *id, int fragmented)
{
	const uint64_t pages = 4 * GiB_PAGES;
	struct cmds cmds = fragmented ? fragmented_guest(pages, 256, 21) : booted_guest(pages, 1000, 22);
	struct cmds queries = aligned_queries(pages, 1024, 512, PRIVATE, 23);
	uint64_t *check = random_gfns(pages, 2000, 99);
	struct built b[NCONTENDERS];
	char title[160], note[300];
	uint64_t held;

	snprintf(title, sizeof(title), "isUniform over aligned 2 MiB (512 pages), %s map, 4 GiB guest (2^20 4K pages)",
		 fragmented ? "fragmented" : "mostly uniform");
	for (size_t i = 0; i < NCONTENDERS; i++)
		build(&b[i], CONTENDERS[i], pages, &cmds);
	held = b[0].c->is_uniform_loop(b[0].s, queries.a, queries.n);
	snprintf(note, sizeof(note),
		 "%s; 1024 queries for \"all private\" per batch, %llu of them true; one op = one query.",
		 fragmented ? "alternating private/shared runs of 1-256 pages" : "all private, a 64 MiB shared area, 1 000 scattered shared pages",
		 (unsigned long long)held);
	group_begin(id, title, pages, "one isUniform query", note);
	verify_all(b, check, 2000, &queries, (uint64_t)1 << 16);
	for (size_t i = 0; i < NCONTENDERS; i++) {
		struct run r = { .b = &b[i], .cmds = &queries };

		case_timed(&b[i], b[i].c->name, measure(batch_is_uniform, &r, queries.n), 1);
		unbuild(&b[i]);
	}
	group_end();
	free(check);
	cmds_free(&queries);
	cmds_free(&cmds);
}

/* A destructive whole-guest op faster than this is timed on WHOLE_COPIES stores per sample. */
#define WHOLE_COPIES 8
#define COPIES_BELOW_NS 50e3

/** The size a contender converts a guest of `pages` in: pages, or its max_bulk_pages (a quarter in quick runs). */
static uint64_t bulk_pages(const struct contender *c, uint64_t pages)
{
	if (!c->max_bulk_pages || pages <= c->max_bulk_pages)
		return pages;
	return cfg.quick ? c->max_bulk_pages / 4 : c->max_bulk_pages;
}

/**
 * Whole-guest conversion: from uniform (the whole guest flips between shared and private) or
 * from 10 000 runs (the booted state rebuilt before each sample, then all of it to shared).
 * A contender that cannot convert this size in reasonable time runs at bulk_pages() against its
 * own memattr reference of that size and is scaled by pages / that.
 */
static void group_whole(const char *id, uint64_t pages, int from_runs)
{
	char title[160], size[32], note[800];
	struct cmds cmds_full = from_runs ? booted_guest(pages, 5000, 1) : (struct cmds){ 0 };
	uint64_t *check = random_gfns(pages, 2000, 97);

	if (!from_runs)
		cmds_push(&cmds_full, 0, pages, PRIVATE);
	snprintf(title, sizeof(title), "convert the whole guest from %s, %s guest (2^%u 4K pages)",
		 from_runs ? "10 000 runs" : "uniform", size_label(pages, size, sizeof(size)), log2u(pages));
	if (from_runs)
		snprintf(note, sizeof(note),
			 "Each op sets every page shared; before each sample (untimed) the %s is rebuilt. A sample times "
			 "the conversion of up to %d copies built alike (one when an op takes over %.0f µs), so the clock's "
			 "own cost is spread. %s",
			 BOOTED, WHOLE_COPIES, COPIES_BELOW_NS / 1e3, SCALED);
	else
		snprintf(note, sizeof(note),
			 "Each op sets every page of the guest, alternately shared and private (uniform → uniform). %s", SCALED);
	group_begin(id, title, pages, "one whole-guest conversion", note);
	for (size_t i = 0; i < NCONTENDERS; i++) {
		const struct contender *c = CONTENDERS[i];
		uint64_t at = bulk_pages(c, pages);
		struct cmds cmds = cmds_full;
		struct built ref = { 0 }, b[WHOLE_COPIES];
		uint64_t *check_at = check;
		struct run r;
		struct stats st;
		size_t ncopies = 1;

		if (at != pages) {
			cmds = from_runs ? booted_guest(at, 5000, 1) : (struct cmds){ 0 };
			if (!from_runs)
				cmds_push(&cmds, 0, at, PRIVATE);
			check_at = random_gfns(at, 2000, 97);
		}
		build(&b[0], c, at, &cmds);
		if (i > 0) { /* memattr itself is the reference */
			build(&ref, &contender_memattr, at, &cmds);
			verify(&ref, &b[0], check_at, 2000, NULL, (uint64_t)1 << 16);
		}
		if (from_runs) { /* a fast op gets copies: one untimed op tells */
			double t0 = now_ns();

			c->set(b[0].s, 0, at, SHARED);
			if (now_ns() - t0 < COPIES_BELOW_NS)
				ncopies = WHOLE_COPIES;
			c->set_loop(b[0].s, cmds.a, cmds.n);
			for (size_t k = 1; k < ncopies; k++)
				build(&b[k], c, at, &cmds);
		}
		r = (struct run){ .b = b, .ncopies = ncopies, .cmds = &cmds, .value = PRIVATE };
		st = from_runs ? measure_with_reset(reset_to_cmds, batch_whole_shared, &r, ncopies)
			       : measure(batch_whole_flip, &r, 1);
		if (i > 0) { /* the same last op on the reference, then the same answers again */
			ref.c->set(ref.s, 0, at, from_runs ? SHARED : r.value);
			for (size_t k = 0; k < ncopies; k++)
				verify(&ref, &b[k], check_at, 2000, NULL, (uint64_t)1 << 16);
			unbuild(&ref);
		}
		case_timed(&b[0], c->name, st, (double)pages / (double)at);
		for (size_t k = 0; k < ncopies; k++)
			unbuild(&b[k]);
		if (at != pages) {
			cmds_free(&cmds);
			free(check_at);
		}
	}
	group_end();
	free(check);
	cmds_free(&cmds_full);
}

/** Memory of two values alternating page by page (every odd page private): the adversarial guest. */
static void group_adversarial_memory(void)
{
	const uint64_t pages = cfg.quick ? (uint64_t)1 << 20 : (uint64_t)1 << 24;
	uint64_t *check = random_gfns(pages, 4000, 96);
	struct built b[NCONTENDERS];
	char title[160], size[32];

	snprintf(title, sizeof(title), "adversarial fragmentation, two values alternating page by page, %s guest (2^%u 4K pages)",
		 size_label(pages, size, sizeof(size)), log2u(pages));
	group_begin("adversarial-memory", title, pages, "memory held (no timing)",
		    "Every odd page private: as many runs as pages. Memory: memattr_memory_bytes (live tree nodes and leaves); "
		    "the flat array and the bitmap, their allocation; the per-page tree, its live nodes. setupMs: one set per private page.");
	for (size_t i = 0; i < NCONTENDERS; i++) {
		const struct contender *c = CONTENDERS[i];
		double t0 = now_ns();

		b[i] = (struct built){ .c = c, .pages = pages, .s = c->create(pages) };
		for (uint64_t g = 1; g < pages; g += 2)
			c->set(b[i].s, g, g + 1, PRIVATE);
		b[i].setup_ms = (now_ns() - t0) / 1e6;
		b[i].memory_bytes = c->memory_bytes(b[i].s);
	}
	verify_all(b, check, 4000, NULL, (uint64_t)1 << 16);
	for (size_t i = 0; i < NCONTENDERS; i++) {
		double bits = (double)b[i].memory_bytes * 8 / (double)pages;

		case_begin(b[i].c, b[i].c->name);
		js_key("memoryBytes"), js_num((double)b[i].memory_bytes), fputc(',', js);
		js_key("bitsPerPage"), js_num(bits), fputc(',', js);
		js_key("setupMs"), js_num(b[i].setup_ms), fputc('}', js);
		printf("  %-32s %12.3f bits/page  (%llu bytes)\n", b[i].c->name, bits, (unsigned long long)b[i].memory_bytes);
		unbuild(&b[i]);
	}
	group_end();
	free(check);
}

/* ---- main ----------------------------------------------------------------------------------- */

static void cpu_model(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(out, len, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(out, len, "%s", colon + 2);
			out[strcspn(out, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
}

static void js_loadavg(const char *key)
{
	double la[3] = { 0, 0, 0 };

	getloadavg(la, 3);
	js_key(key), fprintf(js, "[%.2f,%.2f,%.2f]", la[0], la[1], la[2]);
}

int main(int argc, char **argv)
{
	const char *quick = getenv("MEMATTR_BENCH_QUICK");
	char cpu[256], date[64];
	time_t now = time(NULL);
	FILE *out;

	if (argc != 2)
		bench_fail("usage: %s OUT.json", argv[0]);
	cfg.quick = quick && strcmp(quick, "1") == 0;
	cfg.warmup_ns = cfg.quick ? 5e6 : 200e6;
	cfg.sample_ns = cfg.quick ? 0.5e6 : 5e6;
	cfg.samples = cfg.quick ? 5 : 21;
	cfg.reset_samples = cfg.quick ? 3 : 11;
	cfg.reset_warmups = cfg.quick ? 1 : 2;

	js = open_memstream(&js_buf, &js_len);
	if (!js)
		bench_fail("open_memstream failed");
	cpu_model(cpu, sizeof(cpu));
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	fputc('{', js);
	js_key("suite"), js_str("native"), fputc(',', js);
	js_key("quick"), fputs(cfg.quick ? "true" : "false", js), fputc(',', js);
	js_key("date"), js_str(date), fputc(',', js);
	js_key("machine"), fputc('{', js);
	js_key("cpu"), js_str(cpu), fputc(',', js);
	js_key("cores"), js_num((double)sysconf(_SC_NPROCESSORS_ONLN)), fputc(',', js);
	js_key("memoryGiB"), js_num(round((double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1 << 30)));
	fputs("},", js);
	js_key("compiler"), js_str("gcc " __VERSION__ " " BENCH_CFLAGS), fputc(',', js);
	js_key("method"), fputc('{', js);
	js_key("warmupMs"), js_num(cfg.warmup_ns / 1e6), fputc(',', js);
	js_key("samples"), js_num(cfg.samples), fputc(',', js);
	js_key("sampleMs"), js_num(cfg.sample_ns / 1e6), fputc(',', js);
	js_key("resetSamples"), js_num(cfg.reset_samples), fputs("},", js);
	js_loadavg("loadAverageStart"), fputc(',', js);
	js_key("contenders"), fputc('[', js);
	for (size_t i = 0; i < NCONTENDERS; i++) {
		fputs(i ? ",{" : "{", js);
		js_key("key"), js_str(CONTENDERS[i]->key), fputc(',', js);
		js_key("name"), js_str(CONTENDERS[i]->name), fputc(',', js);
		js_key("what"), js_str(CONTENDERS[i]->what), fputc('}', js);
	}
	fputs("],", js);
	js_key("groups"), fputc('[', js);
	printf("bench-native (%s run): %s\n", cfg.quick ? "quick" : "full", cpu);

	group_gets("get-1g", GiB_PAGES);
	group_gets("get-1t", TiB_PAGES);
	group_sets("flips-1", "1-page flips at 4 hot pages (OVMF pattern), 1 GiB guest (2^18 4K pages, 10 000 runs)",
		   "4096 flips per batch, private → shared → private at 4 hot gfns; one op = one set.",
		   hot_flips(GiB_PAGES, 4096, 1, 4, 31));
	group_sets("conversions", "random conversions of 1–512 pages, 1 GiB guest (2^18 4K pages, 10 000 runs)",
		   "1024 conversions per batch: random start, 1–512 pages, to shared or private at random; one op = one set.",
		   random_conversions(GiB_PAGES, 1024, 512, 33));
	group_is_uniform("uniform-2m-fragmented", 1);
	group_is_uniform("uniform-2m-mostly-uniform", 0);
	group_whole("whole-uniform-1g", GiB_PAGES, 0);
	group_whole("whole-runs-1g", GiB_PAGES, 1);
	group_whole("whole-uniform-1t", TiB_PAGES, 0);
	group_whole("whole-runs-1t", TiB_PAGES, 1);
	group_adversarial_memory();

	fputs("\n],", js);
	js_loadavg("loadAverageEnd"), fputc(',', js);
	js_key("verified"), fputs("true}\n", js); /* reached only when every check above passed */
	fclose(js);

	out = fopen(argv[1], "w");
	if (!out || fwrite(js_buf, 1, js_len, out) != js_len || fclose(out) != 0)
		bench_fail("cannot write %s", argv[1]);
	free(js_buf);
	printf("\nwrote %s (sink %llu)\n", argv[1], (unsigned long long)sink);
	return 0;
}
