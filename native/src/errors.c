/* memattr_strerror(): the texts of the core's error table (memattr_abi.h, generated from
 * assembly/abi.ts), so C and TypeScript describe a code the same way. */
#include "internal.h"

const char *memattr_strerror(int code)
{
	if (code == 0)
		return "Success.";
	return memattr_abi_error_text(code); /* "unknown error" for anything not in the table */
}
