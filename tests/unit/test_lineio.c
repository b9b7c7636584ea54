/*
 * test_lineio.c - the line reader's CR/LF/NUL policy, limits, raw reads,
 * and the batched writer, over a socketpair.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "lineio.h"
#include "util.h"

static struct io io;
static int peer;

static void
feed(const char *s, size_t n)
{
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	write_all(sv[1], s, n);
	shutdown(sv[1], SHUT_WR);
	io_init(&io, sv[0], sv[0], 2);
	peer = sv[1];
}

static void
done(void)
{
	close(io.rfd);
	close(peer);
	buf_free(&io.out);
}

int
main(void)
{
	char line[16], big[600];
	size_t len;
	unsigned fl;
	int r;

	feed("HELO a\r\nX\nY\rZ\r\nA\0B\r\n", 20);
	r = io_getline(&io, line, 10, &len, &fl);
	CHECK(r == IO_OK && len == 6 && strcmp(line, "HELO a") == 0 && fl == IOL_CRLF,
	    "CRLF line");
	r = io_getline(&io, line, 10, &len, &fl);
	CHECK(r == IO_OK && len == 1 && fl == IOL_BARE_LF, "bare LF ends a line, flagged");
	r = io_getline(&io, line, 10, &len, &fl);
	CHECK(r == IO_OK && len == 3 && memcmp(line, "Y\rZ", 3) == 0 &&
	    fl == (IOL_CRLF | IOL_BARE_CR), "bare CR kept and flagged");
	r = io_getline(&io, line, 10, &len, &fl);
	CHECK(r == IO_OK && len == 3 && fl == (IOL_CRLF | IOL_NUL), "NUL flagged");
	r = io_getline(&io, line, 10, &len, &fl);
	CHECK(r == IO_EOF, "EOF after the last line");
	done();

	/* SMTP: only CR LF ends a line; a bare LF stays inside it. */
	feed("RSET\nMAIL FROM:<a@b>\r\nNOOP\n", 27);
	io.crlf_only = 1;
	r = io_getline(&io, big, 100, &len, &fl);
	CHECK(r == IO_OK && len == 20 && memcmp(big, "RSET\nMAIL FROM:<a@b>", 20) == 0 &&
	    fl == (IOL_CRLF | IOL_BARE_LF), "crlf_only: bare LF inside the line");
	CHECK(io_getline(&io, big, 100, &len, &fl) == IO_EOF,
	    "crlf_only: LF alone does not end a line");
	done();

	/* Exactly max content plus CRLF is not long; one more is. */
	feed("0123456789\r\n0123456789a\r\nnext\r\n", 31);
	r = io_getline(&io, line, 10, &len, &fl);
	CHECK(r == IO_OK && len == 10 && fl == IOL_CRLF, "max octets + CRLF fits");
	r = io_getline(&io, line, 10, &len, &fl);
	CHECK(r == IO_OK && len == 10 && (fl & IOL_LONG) && (fl & IOL_CRLF),
	    "over-long line flagged, consumed to its end");
	r = io_getline(&io, line, 10, &len, &fl);
	CHECK(r == IO_OK && strcmp(line, "next") == 0, "the line after a long one is intact");
	done();

	/* A partial last line at EOF is not a line. */
	feed("QUIT", 4);
	CHECK(io_getline(&io, line, 10, &len, &fl) == IO_EOF, "no line without LF");
	done();

	/* Raw reads see buffered bytes first (BDAT after a command). */
	feed("BDAT 3\r\nabcNOOP\r\n", 17);
	io_getline(&io, line, 10, &len, &fl);
	CHECK(io_pending(&io), "pending input is seen");
	CHECK(io_read(&io, line, 3) == 3 && memcmp(line, "abc", 3) == 0, "raw read");
	io_getline(&io, line, 10, &len, &fl);
	CHECK(strcmp(line, "NOOP") == 0, "line after raw read");
	CHECK(!io_pending(&io), "end of file is not pending input");
	CHECK(io_getline(&io, line, 10, &len, &fl) == IO_EOF, "then EOF");
	done();

	/* Replies are batched until flushed. */
	{
		int sv[2];
		ssize_t n;

		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		io_init(&io, sv[0], sv[0], 2);
		io_printf(&io, "250 one\r\n");
		io_printf(&io, "250 two\r\n");
		CHECK(recv(sv[1], big, sizeof(big), MSG_DONTWAIT) == -1,
		    "nothing written before flush");
		CHECK(io_flush(&io) == 0, "flush");
		n = read(sv[1], big, sizeof(big));
		CHECK(n == 18 && memcmp(big, "250 one\r\n250 two\r\n", 18) == 0,
		    "one write for the group");
		close(sv[0]);
		close(sv[1]);
		buf_free(&io.out);
	}

	/* A timeout is reported, not waited out forever. */
	{
		int sv[2];

		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		io_init(&io, sv[0], sv[0], 1);
		CHECK(io_getline(&io, line, 10, &len, &fl) == IO_TIMEOUT, "read timeout");
		close(sv[0]);
		close(sv[1]);
	}
	return CHECK_DONE();
}
