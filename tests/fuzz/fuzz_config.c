/*
 * fuzz_config.c: libFuzzer target for the config parser (src/config.c).
 *
 * Arbitrary bytes are parsed as a config file. Whatever is accepted is then
 * used the way the daemon uses it (validated, routed, overridden with
 * --origin) and freed; whatever is refused must come back with a
 * "file:line: " message. ASan/UBSan catch the rest. tests/fuzz/replay.c
 * feeds this target its seed corpus under `make check`.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "route.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const char *fuzz_target_name = "config";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = {
		NULL, "", "example.com", "A.Example.COM.:8080", "[::1]:80",
	};
	struct config_overrides o = { .origin = "http://127.0.0.1:8000" };
	struct config *c = NULL;
	char err[512];
	size_t i;

	err[0] = '\0';
	if (config_parse("fuzz.conf", (const char *)data, size, &c, err,
	    sizeof(err)) != 0) {
		ASSERT(c == NULL);
		ASSERT(strncmp(err, "fuzz.conf:", 10) == 0);
		return 0;
	}
	AN(c);
	(void)config_validate(c, err, sizeof(err));
	for (i = 0; i < ARRAY_LEN(hosts); i++)
		(void)route_find(c, hosts[i], "/index.html?q=1");
	AZ(config_apply_overrides(c, &o, err, sizeof(err)));
	AZ(config_validate(c, err, sizeof(err)));
	config_free(c);
	return 0;
}
