/* TAP output for the native tests: each case prints "ok N - name" or "not ok N - name", its
 * failed checks as "# " lines before it, and the program ends with the plan "1..N".
 * test/native/native.test.ts turns every case into a vitest test.
 *
 *	tap_begin();
 *	CHECK(rc == MEMATTR_E_INVAL, "rc %d", rc);
 *	tap_end("set refuses start >= end");
 */
#ifndef MEMATTR_TEST_TAP_H
#define MEMATTR_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_cases;
static int tap_failed_cases;
static int tap_case_failures;

/** Line-buffered stdout, so a crash keeps every line printed before it. */
static inline void tap_init(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static inline void tap_begin(void)
{
	tap_case_failures = 0;
}

static inline int tap_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static inline int tap_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return 1;
	tap_case_failures++;
	printf("#   %s:%d: %s: ", file, line, expr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 0;
}

/** One check of the current case: prints why it failed; evaluates to 1 when cond holds. */
#define CHECK(cond, ...) tap_check(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/** Ends the current case with its name; returns 1 when every check held. */
static inline int tap_end(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int tap_end(const char *fmt, ...)
{
	va_list ap;
	int ok = tap_case_failures == 0;

	tap_cases++;
	if (!ok)
		tap_failed_cases++;
	printf("%sok %d - ", ok ? "" : "not ", tap_cases);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return ok;
}

/** Prints the plan; the program's exit status (1 when a case failed). */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_cases);
	return tap_failed_cases ? 1 : 0;
}

#endif /* MEMATTR_TEST_TAP_H */
