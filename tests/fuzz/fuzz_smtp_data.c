/*
 * fuzz_smtp_data.c - the SMTP DATA reader and message writer (smtpd/
 * message.c) against a model of RFC 5321's end of data:
 *   - the message ends exactly at the first CR LF "." CR LF (the CR LF that
 *     DATA itself ended with counts as the first one), and nowhere else:
 *     no smuggling sequence (bare LF or CR around the dot, NUL) ends it;
 *   - the reader consumes exactly up to that end and no further, so the
 *     next command is intact;
 *   - when the writer reports no error, it stored the lines dot-unstuffed
 *     with LF line ends, byte for byte; any bare CR, bare LF or NUL before
 *     the end is reported as an error.
 * The first input byte picks the flavour: even = DATA, odd = the same
 * bytes as BDAT chunks fed to the writer (no dot handling, no end).
 */
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "lineio.h"
#include "message.h"

#define MAX_INPUT	60000	/* fits a socketpair buffer: no blocking */

/* The stored message: read back from the memfd. */
static size_t
stored(struct msgw *w, char *out, size_t size)
{
	ssize_t n = pread(w->fd, out, size, 0);

	FUZZ_CHECK(n >= 0);
	return (size_t)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *model, *got;
	static int init;
	const uint8_t *in;
	struct msgw w;
	struct io io;
	size_t n, i, end = (size_t)-1, mlen = 0, glen;
	int sv[2], r, bdat, bad = 0;

	if (!init) {
		conf_defaults();
		conf.max_message_size = 1u << 20;
		model = malloc(MAX_INPUT * 2);
		got = malloc(MAX_INPUT * 2);
		FUZZ_CHECK(model != NULL && got != NULL);
		init = 1;
	}
	if (size < 1 || size > MAX_INPUT)
		return 0;
	bdat = data[0] & 1;
	in = data + 1;
	n = size - 1;
	FUZZ_CHECK(msgw_start(&w) == 0);

	if (bdat) {
		/* Chunks of varying size; bare CR, bare LF and NUL are errors. */
		for (i = 0; i < n; ) {
			size_t k = 1 + (in[i] % 7);

			if (k > n - i)
				k = n - i;
			msgw_feed(&w, (const char *)in + i, k);
			i += k;
		}
		msgw_finish(&w);
		for (i = 0; i < n; i++) {
			if (in[i] == '\0' ||
			    (in[i] == '\r' && (i + 1 == n || in[i + 1] != '\n')) ||
			    (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')))
				bad = 1;
		}
		if (bad)
			FUZZ_CHECK(w.err & (E_EOL | E_NUL));
		msgw_discard(&w);
		return 0;
	}

	/* The model: the first "\r\n.\r\n" in "\r\n" + input. */
	for (i = 0; i + 3 <= n; i++)
		if ((i == 0 || (i >= 2 && in[i - 2] == '\r' && in[i - 1] == '\n')) &&
		    in[i] == '.' && in[i + 1] == '\r' && in[i + 2] == '\n') {
			end = i;
			break;
		}

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	FUZZ_CHECK(n == 0 || write(sv[1], in, n) == (ssize_t)n);
	shutdown(sv[1], SHUT_WR);
	io_init(&io, sv[0], sv[0], 5);
	io.crlf_only = 1;
	r = msgw_read_data(&w, &io);
	if (end == (size_t)-1) {
		FUZZ_CHECK(r == IO_EOF);
	} else {
		/* Ended exactly after ".\r\n", nothing more consumed. */
		FUZZ_CHECK(r == IO_OK);
		FUZZ_CHECK(io.bytes_in - (io.inlen - io.inpos) == end + 3);
		msgw_finish(&w);
		/* Expected content: lines up to the end, unstuffed, LF ends. */
		for (i = 0; i < end; ) {
			size_t j = i;

			while (!(in[j] == '\r' && in[j + 1] == '\n'))
				j++;
			if (in[i] == '.')
				i++;
			memcpy(model + mlen, in + i, j - i);
			mlen += j - i;
			model[mlen++] = '\n';
			i = j + 2;
		}
		for (i = 0; i < end; i++)
			if (in[i] == '\0' ||
			    (in[i] == '\r' && in[i + 1] != '\n') ||
			    (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')))
				bad = 1;
		if (bad)
			FUZZ_CHECK(w.err & (E_EOL | E_NUL));
		if (w.err == 0) {
			glen = stored(&w, got, MAX_INPUT * 2);
			FUZZ_CHECK(glen == mlen && memcmp(got, model, mlen) == 0);
		}
	}
	msgw_discard(&w);
	buf_free(&io.out);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
