/*
 * fuzz_lineio.c - libmail/base/lineio.c io_getline(), the one line reader every
 * network byte goes through, against an independent byte-at-a-time model
 * of its documented policy (lineio.h): a line ends at LF, with crlf_only
 * only at CR LF (a bare LF stays in the line); one CR before the LF is
 * stripped, a bare CR is kept and flagged; NUL is kept and flagged; past
 * max the rest of the line is dropped and IOL_LONG set; a partial last line
 * is dropped at EOF. Raw io_read() calls (BDAT) are interleaved.
 *
 * Input: byte 0 = mode (bit 0 crlf_only, bit 1 transport, bits 2..5 the
 * max), byte 1 = chunking seed, the rest the stream. The stream reaches the
 * reader either through a socketpair (written whole, then shut down) or a
 * transport that hands it out in seeded small chunks, so that CR and LF fall
 * on every buffer boundary. Invariants: every line and flag set equals the
 * model's; len <= max and line[len] == NUL (exact-size buffer); with
 * crlf_only no line ever contains CR LF, and without it no line contains LF.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "lineio.h"

static const size_t maxes[] = { 0, 1, 2, 3, 4, 7, 16, 64, 253, 510, 998,
	1000, 4096, 16383, 16384, 20000 };

struct chunker {
	const uint8_t	*p;
	size_t		 left;
	uint32_t	 seed;
};

static uint32_t
rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

static ssize_t
ch_read(void *ctx, void *buf, size_t len)
{
	struct chunker *c = ctx;
	size_t n = 1 + rnd(&c->seed) % 9;

	if (rnd(&c->seed) % 16 == 0)
		n = 1 + rnd(&c->seed) % 5000;
	if (n > c->left)
		n = c->left;
	if (n > len)
		n = len;
	memcpy(buf, c->p, n);
	c->p += n;
	c->left -= n;
	return (ssize_t)n;
}

static ssize_t
ch_write(void *ctx, const void *buf, size_t len)
{
	(void)ctx, (void)buf;
	return (ssize_t)len;
}

static int
ch_pending(void *ctx)
{
	return ((struct chunker *)ctx)->left > 0;
}

static const struct io_transport chunked = { ch_read, ch_write, ch_pending };

/* The model: one line from d[*pos..n); IO_OK or IO_EOF. */
static int
model(const uint8_t *d, size_t n, size_t *pos, int crlf_only, size_t max,
    char *line, size_t *len, unsigned *flags)
{
	size_t i, l = 0;
	unsigned fl = 0;
	int prev_cr = 0;

#define PUT(ch) do { if (l < max) line[l++] = (char)(ch); else fl |= IOL_LONG; } while (0)
	for (i = *pos; i < n; i++) {
		uint8_t c = d[i];

		if (c == '\n') {
			if (prev_cr) {
				fl |= IOL_CRLF;
				goto eol;
			}
			fl |= IOL_BARE_LF;
			if (!crlf_only)
				goto eol;
			PUT('\n');
			continue;
		}
		if (prev_cr) {
			fl |= IOL_BARE_CR;
			PUT('\r');
		}
		prev_cr = c == '\r';
		if (prev_cr)
			continue;
		if (c == '\0')
			fl |= IOL_NUL;
		PUT(c);
	}
#undef PUT
	*pos = n;
	return IO_EOF;
eol:
	*pos = i + 1;
	line[l] = '\0';
	*len = l;
	*flags = fl;
	return IO_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int hup[2] = { -1, -1 };
	struct chunker ch;
	struct io *io;
	const uint8_t *s;
	size_t n, max, pos = 0, len, mlen, i;
	unsigned flags, mflags;
	char *line, *mline;
	int crlf_only, sv[2] = { -1, -1 }, r, mr;
	uint32_t seed;

	if (size < 2 || size > 60000)
		return 0;
	crlf_only = data[0] & 1;
	max = maxes[(data[0] >> 2) & 15];
	seed = data[1];
	s = data + 2;
	n = size - 2;
	line = malloc(max + 1);		/* exactly max+1: ASan sees overflow */
	mline = malloc(max + 1);
	io = malloc(sizeof(*io));
	FUZZ_CHECK(line != NULL && mline != NULL && io != NULL);

	if (data[0] & 2) {
		if (hup[0] == -1) {	/* a readable-at-EOF fd for poll() */
			if (pipe(hup) == -1)
				abort();
			close(hup[1]);
		}
		io_init(io, hup[0], hup[0], 5);
		ch.p = s;
		ch.left = n;
		ch.seed = seed;
		io->tr = &chunked;
		io->trctx = &ch;
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
			abort();
		if (n > 0 && write(sv[1], s, n) != (ssize_t)n)
			abort();
		shutdown(sv[1], SHUT_WR);
		io_init(io, sv[0], sv[0], 5);
	}
	io->crlf_only = crlf_only;

	for (;;) {
		/* now and then a raw read, as BDAT does between commands */
		if ((rnd(&seed) & 7) == 0 && pos < n) {
			unsigned char raw[64];
			ssize_t got = io_read(io, raw, 1 + rnd(&seed) % sizeof(raw));

			FUZZ_CHECK(got > 0 && (size_t)got <= n - pos);
			FUZZ_CHECK(memcmp(raw, s + pos, (size_t)got) == 0);
			pos += (size_t)got;
			continue;
		}
		mr = model(s, n, &pos, crlf_only, max, mline, &mlen, &mflags);
		memset(line, 0xA5, max + 1);
		r = io_getline(io, line, max, &len, &flags);
		FUZZ_CHECK(r == mr);
		if (r != IO_OK)
			break;
		FUZZ_CHECK(len <= max && line[len] == '\0');
		FUZZ_CHECK(flags == mflags);
		FUZZ_CHECK(len == mlen && memcmp(line, mline, len) == 0);
		FUZZ_CHECK(!!(flags & IOL_CRLF) != !!(flags & IOL_BARE_LF) ||
		    crlf_only);
		if (crlf_only) {
			FUZZ_CHECK(flags & IOL_CRLF);
			for (i = 0; i + 1 < len; i++)
				FUZZ_CHECK(!(line[i] == '\r' && line[i + 1] == '\n'));
			if (!(flags & IOL_LONG))
				FUZZ_CHECK(!!memchr(line, '\n', len) == !!(flags & IOL_BARE_LF));
		} else
			FUZZ_CHECK(memchr(line, '\n', len) == NULL);
		if (!(flags & IOL_LONG)) {
			FUZZ_CHECK(!!memchr(line, '\0', len) == !!(flags & IOL_NUL));
			FUZZ_CHECK(!memchr(line, '\r', len) == !(flags & IOL_BARE_CR));
		}
	}
	FUZZ_CHECK(r == IO_EOF);
	buf_free(&io->out);
	if (sv[0] != -1) {
		close(sv[0]);
		close(sv[1]);
	}
	free(io);
	free(line);
	free(mline);
	return 0;
}
