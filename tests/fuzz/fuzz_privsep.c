/*
 * fuzz_privsep.c - libmail/base/privsep.c frame readers on arbitrary
 * frames: the monitor's view of a frame from a compromised session child. The input
 * is split into a script (first byte: how many script bytes follow) and the
 * frame payload; each script byte asks for a ps_get_u32, ps_get_str with a
 * small or large max, or ps_get_bytes of some length, like a handler would.
 * Invariants: the read position never passes len; a string is returned
 * terminated, shorter than max, with no control byte or DEL; a failed read
 * consumes nothing; ps_done is exactly rpos == len. Then a round trip:
 * strings put with ps_put_str come back identical, and ps_put_* refuse to
 * pass PS_PAYLOAD_MAX.
 */
#include "fuzz.h"
#include "privsep.h"

static const size_t maxes[] = { 1, 2, 16, 64, 65, 256, 257, 4096, PS_PAYLOAD_MAX };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ps_frame f, g;
	const uint8_t *script;
	size_t nscript, i, before, k;
	char *out;
	unsigned char bytes[PS_PAYLOAD_MAX];
	uint32_t v;
	int r;

	if (size < 1)
		return 0;
	nscript = data[0] % 32;
	if (nscript > size - 1)
		nscript = size - 1;
	script = data + 1;
	ps_init(&f, 1);
	if (ps_put_bytes(&f, data + 1 + nscript, size - 1 - nscript) == -1) {
		FUZZ_CHECK(size - 1 - nscript > PS_PAYLOAD_MAX);
		return 0;
	}
	for (i = 0; i < nscript; i++) {
		uint8_t op = script[i];

		before = f.rpos;
		FUZZ_CHECK(f.rpos <= f.len);
		switch (op & 3) {
		case 0:
			r = ps_get_u32(&f, &v);
			FUZZ_CHECK(r == -1 || f.rpos == before + 4);
			break;
		case 1: {
			size_t max = maxes[(op >> 2) % (sizeof(maxes) / sizeof(maxes[0]))];

			out = malloc(max);	/* exactly max: ASan sees overflow */
			FUZZ_CHECK(out != NULL);
			r = ps_get_str(&f, out, max);
			if (r == 0) {
				size_t n = strlen(out);

				FUZZ_CHECK(n < max);
				/* the u32 length, then exactly n bytes */
				FUZZ_CHECK(f.rpos == before + 4 + n);
				for (k = 0; k < n; k++)
					FUZZ_CHECK((unsigned char)out[k] >= 0x20 &&
					    (unsigned char)out[k] != 0x7f);
			}
			free(out);
			break;
		}
		case 2:
			k = (size_t)(op >> 2) * 37;
			r = ps_get_bytes(&f, bytes, k);
			FUZZ_CHECK(r == -1 || f.rpos == before + k);
			break;
		default:
			r = ps_get_bytes(&f, bytes, (size_t)-1 - (op >> 2));
			FUZZ_CHECK(r == -1);
			break;
		}
		if (r == -1)
			FUZZ_CHECK(f.rpos == before || (op & 3) == 1);
		FUZZ_CHECK(f.rpos <= f.len);
		FUZZ_CHECK(ps_done(&f) == (f.rpos == f.len));
	}

	/* Round trip: the payload's clean prefix as a string. */
	k = 0;
	while (k < size - 1 - nscript && data[1 + nscript + k] >= 0x20 &&
	    data[1 + nscript + k] != 0x7f)
		k++;
	out = fuzz_cstr(data + 1 + nscript, k);
	ps_init(&g, 2);
	r = ps_put_str(&g, out);
	FUZZ_CHECK(r == 0 || k + 4 > PS_PAYLOAD_MAX);
	if (r == 0) {
		char *back = malloc(k + 1);

		FUZZ_CHECK(back != NULL);
		FUZZ_CHECK(ps_get_str(&g, back, k + 1) == 0);
		FUZZ_CHECK(strcmp(back, out) == 0 && ps_done(&g));
		g.rpos = 0;
		if (k > 0)
			FUZZ_CHECK(ps_get_str(&g, back, k) == -1);	/* max too small */
		free(back);
		while (ps_put_u32(&g, 7) == 0)
			;
		FUZZ_CHECK(g.len <= PS_PAYLOAD_MAX && g.len + 4 > PS_PAYLOAD_MAX);
	}
	free(out);
	return 0;
}
