/*
 * fuzz_chunked.c: libFuzzer target for the incremental chunked decoder.
 *
 * The first input byte sets the piece size (1 to 16 bytes) and, through its
 * high bit, small line and trailer limits; the rest is the chunked body. The
 * body is decoded twice, fed whole and fed in pieces, and the two runs must
 * agree on the result, on the bytes consumed and on the decoded data (the
 * decoder must not depend on how the input is split). Data spans must lie
 * inside the input just consumed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

extern const char *fuzz_target_name;
const char *fuzz_target_name = "chunked";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	enum chunked_result	r;
	size_t			consumed;
	char			*out;
	size_t			out_len;
};

static void
decode(const char *in, size_t len, size_t piece, bool small, struct run *run)
{
	struct http1_chunked c;
	size_t off = 0, avail = 0, used, dlen;
	const char *d;
	enum chunked_result r = CHUNKED_NEED_MORE;

	http1_chunked_init(&c);
	if (small) {
		c.max_line = 12;
		c.max_trailer = 24;
	}
	run->out = malloc(len + 1);
	CHECK(run->out != NULL);
	run->out_len = 0;
	for (;;) {
		if (r == CHUNKED_NEED_MORE || avail == 0) {
			if (off + avail == len)
				break;
			avail = off + avail + piece > len ? len - off : avail + piece;
		}
		r = http1_chunked_feed(&c, in + off, avail, &used, &d, &dlen);
		CHECK(used <= avail);
		if (r == CHUNKED_DATA) {
			CHECK(dlen > 0 && d >= in + off && d + dlen == in + off + used);
			CHECK(run->out_len + dlen <= len);
			memcpy(run->out + run->out_len, d, dlen);
			run->out_len += dlen;
		} else {
			CHECK(dlen == 0);
		}
		if (r == CHUNKED_NEED_MORE)
			CHECK(used == avail);
		off += used;
		avail -= used;
		if (r == CHUNKED_DONE || r == CHUNKED_ERROR)
			break;
	}
	run->r = r;
	run->consumed = off;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, split;
	bool small;
	size_t piece;

	if (size < 1)
		return 0;
	piece = 1 + (data[0] & 15);
	small = (data[0] & 0x80) != 0;
	decode((const char *)data + 1, size - 1, size - 1 > 0 ? size - 1 : 1, small, &whole);
	decode((const char *)data + 1, size - 1, piece, small, &split);
	CHECK(whole.r == split.r);
	CHECK(whole.out_len == split.out_len);
	CHECK(memcmp(whole.out, split.out, whole.out_len) == 0);
	/* An error is found at the same byte however the input is split. */
	CHECK(whole.consumed == split.consumed);
	free(whole.out);
	free(split.out);
	return 0;
}
