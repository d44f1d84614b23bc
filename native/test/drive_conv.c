/* A line-driven front end to the conversion part of memattr.h, for test/native/conv-differential.test.ts:
 * the same random sequence runs through the TypeScript Tracker and through this, and every
 * answer and every page is compared. One command per line on stdin, one result line per
 * command on stdout (flushed per line); numbers are decimal, codes negative errnos (MEMATTR_E_*).
 *
 *   reset <gfn> <npages> [<gfn> <npages> ...]   a new map, each region guest memory, shared  -> ok | err <code>
 *   req <gfn> <npages> <flags>                   memattr_conv_request  -> ok <id> <npages_owned> <nranges_owned> | err <code>
 *   commit <k> / abort <k>                       conversion k: the k-th this driver opened since reset (0-based,
 *                                                settled ones included, so settling twice is testable) -> ok | err <code>
 *   fault <gfn> <npages> <to_private>            memattr_fault -> spurious | in-flight | convert <id> <npages_owned> <nranges_owned> | err <code>
 *   pop <side> <gfn> <npages>                    memattr_populate -> ok <new> <refault> | err <code>
 *   disc <side> <gfn> <npages>                   memattr_discard -> ok <freed> | err <code>
 *   launch                                       memattr_launch -> ok | err <code>
 *   owned <k>                                    conversion k's owned ranges (memattr_conv_owned_ranges) -> gfn+npages,... | - (none) | err <code>
 *   runs <start> <end>                           every maximal run of [start, end) -> s:e:v,s:e:v,...
 *   open                                         memattr_conv_open_count -> <n>
 *   check                                        memattr_check_invariants -> ok | err <code>
 *
 * A line it cannot parse, or a k it never handed out, prints "bad <the line>": the test fails on it.
 * It prints no TAP and exits 0 at the end of its input.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memattr.h"

#define MAX_WORDS 64
#define LINE_BYTES 4096

static memattr_map *map;
static struct memattr_conv *convs; /* opened since reset, in order */
static size_t nconvs, convs_cap;

static void remember(const struct memattr_conv *c)
{
	if (nconvs == convs_cap) {
		convs_cap = convs_cap ? 2 * convs_cap : 64;
		convs = realloc(convs, convs_cap * sizeof(*convs));
		if (!convs)
			abort();
	}
	convs[nconvs++] = *c;
}

/* Splits line into words; returns how many. */
static int split(char *line, char **words)
{
	int n = 0;

	for (char *w = strtok(line, " \t\r\n"); w && n < MAX_WORDS; w = strtok(NULL, " \t\r\n"))
		words[n++] = w;
	return n;
}

/* words[i] as a uint64_t into *v; 0 on a malformed number. */
static int num(char **words, int n, int i, uint64_t *v)
{
	char *end;

	if (i >= n)
		return 0;
	*v = strtoull(words[i], &end, 0);
	return *end == 0 && end != words[i];
}

static void print_runs(uint64_t start, uint64_t end)
{
	struct memattr_run runs[256];
	int first = 1;

	while (start < end) {
		int64_t n = memattr_runs(map, start, end, runs, 256);

		if (n < 0) {
			printf("%serr %" PRId64, first ? "" : ",", n);
			break;
		}
		for (int64_t i = 0; i < n; i++) {
			printf("%s%" PRIu64 ":%" PRIu64 ":%u", first ? "" : ",", runs[i].start, runs[i].end, runs[i].value);
			first = 0;
		}
		start = runs[n - 1].end;
	}
	printf("\n");
}

/* Every owned range of conversion c, read 100 at a time. */
static void print_owned(const struct memattr_conv *c)
{
	struct memattr_range ranges[100];
	uint64_t first = 0;
	int64_t n;

	do {
		n = memattr_conv_owned_ranges(map, c, first, ranges, 100);
		if (n < 0) {
			printf("%serr %" PRId64, first ? "," : "", n);
			break;
		}
		for (int64_t i = 0; i < n; i++)
			printf("%s%" PRIu64 "+%" PRIu64, first + (uint64_t)i ? "," : "", ranges[i].gfn, ranges[i].npages);
		first += (uint64_t)n;
	} while (n == 100);
	printf("%s\n", first || n < 0 ? "" : "-");
}

/* Runs one command; 0 when the line was not understood. */
static int run(char **w, int n)
{
	uint64_t a, b, c;
	struct memattr_conv conv;
	int64_t rc;

	if (n == 0)
		return 0;
	if (!strcmp(w[0], "reset") && n % 2 == 1) {
		memattr_map_free(map);
		map = NULL;
		nconvs = 0;
		rc = memattr_map_new(&map);
		for (int i = 1; rc == 0 && i < n; i += 2) {
			if (!num(w, n, i, &a) || !num(w, n, i + 1, &b))
				return 0;
			rc = memattr_guest_add(map, a, b, 0);
		}
		rc ? printf("err %" PRId64 "\n", rc) : printf("ok\n");
		return 1;
	}
	if (!map)
		return 0;
	if (!strcmp(w[0], "req") && n == 4 && num(w, n, 1, &a) && num(w, n, 2, &b) && num(w, n, 3, &c)) {
		rc = memattr_conv_request(map, a, b, (unsigned)c, &conv);
		if (rc) {
			printf("err %" PRId64 "\n", rc);
			return 1;
		}
		remember(&conv);
		printf("ok %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", conv.id, conv.npages_owned, conv.nranges_owned);
		return 1;
	}
	if ((!strcmp(w[0], "commit") || !strcmp(w[0], "abort")) && n == 2 && num(w, n, 1, &a)) {
		if (a >= nconvs)
			return 0;
		rc = w[0][0] == 'c' ? memattr_conv_commit(map, &convs[a]) : memattr_conv_abort(map, &convs[a]);
		rc ? printf("err %" PRId64 "\n", rc) : printf("ok\n");
		return 1;
	}
	if (!strcmp(w[0], "fault") && n == 4 && num(w, n, 1, &a) && num(w, n, 2, &b) && num(w, n, 3, &c)) {
		rc = memattr_fault(map, a, b, (int)c, &conv);
		if (rc == MEMATTR_FAULT_SPURIOUS) {
			printf("spurious\n");
		} else if (rc == MEMATTR_FAULT_IN_FLIGHT) {
			printf("in-flight\n");
		} else if (rc == MEMATTR_FAULT_CONVERT) {
			remember(&conv);
			printf("convert %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", conv.id, conv.npages_owned, conv.nranges_owned);
		} else {
			printf("err %" PRId64 "\n", rc);
		}
		return 1;
	}
	if (!strcmp(w[0], "pop") && n == 4 && num(w, n, 1, &a) && num(w, n, 2, &b) && num(w, n, 3, &c)) {
		uint64_t refaults = 0;

		rc = memattr_populate(map, (int)a, b, c, &refaults);
		rc < 0 ? printf("err %" PRId64 "\n", rc) : printf("ok %" PRId64 " %" PRIu64 "\n", rc, refaults);
		return 1;
	}
	if (!strcmp(w[0], "disc") && n == 4 && num(w, n, 1, &a) && num(w, n, 2, &b) && num(w, n, 3, &c)) {
		rc = memattr_discard(map, (int)a, b, c);
		rc < 0 ? printf("err %" PRId64 "\n", rc) : printf("ok %" PRId64 "\n", rc);
		return 1;
	}
	if (!strcmp(w[0], "launch") && n == 1) {
		rc = memattr_launch(map);
		rc ? printf("err %" PRId64 "\n", rc) : printf("ok\n");
		return 1;
	}
	if (!strcmp(w[0], "owned") && n == 2 && num(w, n, 1, &a)) {
		if (a >= nconvs)
			return 0;
		print_owned(&convs[a]);
		return 1;
	}
	if (!strcmp(w[0], "runs") && n == 3 && num(w, n, 1, &a) && num(w, n, 2, &b)) {
		print_runs(a, b);
		return 1;
	}
	if (!strcmp(w[0], "open") && n == 1) {
		printf("%" PRId64 "\n", memattr_conv_open_count(map));
		return 1;
	}
	if (!strcmp(w[0], "check") && n == 1) {
		rc = memattr_check_invariants(map);
		rc ? printf("err %" PRId64 "\n", rc) : printf("ok\n");
		return 1;
	}
	return 0;
}

int main(void)
{
	static char line[LINE_BYTES], copy[LINE_BYTES];
	char *words[MAX_WORDS];

	setvbuf(stdout, NULL, _IOLBF, 0); /* one line per answer, as soon as it is known */
	while (fgets(line, sizeof(line), stdin)) {
		strcpy(copy, line);
		if (!run(words, split(line, words)))
			printf("bad %s%s", copy, strchr(copy, '\n') ? "" : "\n");
	}
	memattr_map_free(map);
	free(convs);
	return 0;
}
