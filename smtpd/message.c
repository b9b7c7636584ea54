/*
 * message.c - the DATA reader and the message writer (see message.h).
 */
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "message.h"
#include "params.h"
#include "util.h"

static void
msgw_flush(struct msgw *w)
{
	if (w->out.len > 0 && !(w->err & E_IO) &&
	    write_all(w->fd, w->out.ptr, w->out.len) == -1)
		w->err |= E_IO;
	buf_reset(&w->out);
}

void
msgw_put(struct msgw *w, const char *p, size_t n)
{
	if (w->err & (E_SIZE | E_IO))
		return;		/* the message is refused; stop storing */
	if (buf_add(&w->out, p, n) == -1) {
		msgw_flush(w);
		if (buf_add(&w->out, p, n) == -1)
			w->err |= E_IO;
	}
	if (w->out.len >= 65536)
		msgw_flush(w);
}

int
msgw_start(struct msgw *w)
{
	memset(w, 0, sizeof(*w));
	buf_init(&w->out, 1 << 17);
	w->in_hdr = 1;
	if ((w->fd = memfd_create("inetmail-msg", MFD_CLOEXEC)) == -1) {
		log_warn("memfd_create");
		return -1;
	}
	return 0;
}

static void
msgw_end_line(struct msgw *w)
{
	if (w->in_hdr) {
		if (w->linelen == 0)
			w->in_hdr = 0;
		else if (w->linelen >= 9 && strncasecmp(w->hdr, "received:", 9) == 0 &&
		    ++w->received >= SMTP_MAX_RECEIVED)
			w->err |= E_LOOP;
	}
	msgw_put(w, "\n", 1);
	w->linelen = 0;
}

/* Feeds received octets (CRLF form). */
void
msgw_feed(struct msgw *w, const char *p, size_t n)
{
	size_t i, start = 0;

	w->size += n;
	if (w->size > conf.max_message_size)
		w->err |= E_SIZE;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\r') {
			if (w->cr)
				w->err |= E_EOL;
			msgw_put(w, p + start, i - start);
			start = i + 1;
			w->cr = 1;
			continue;
		}
		if (c == '\n') {
			if (!w->cr)
				w->err |= E_EOL;
			w->cr = 0;
			msgw_put(w, p + start, i - start);
			start = i + 1;
			msgw_end_line(w);
			continue;
		}
		if (w->cr) {		/* a CR not before LF: keep it, refuse */
			w->err |= E_EOL;
			w->cr = 0;
		}
		if (c == '\0')
			w->err |= E_NUL;
		if (w->linelen < sizeof(w->hdr))
			w->hdr[w->linelen] = c;
		if (++w->linelen > SMTP_TEXT_MAX - 2)
			w->err |= E_LONG;
	}
	msgw_put(w, p + start, n - start);
}

/* Ends the message: a last line without CRLF gets an LF (BDAT). */
void
msgw_finish(struct msgw *w)
{
	if (w->cr)
		w->err |= E_EOL;
	if (w->linelen > 0)
		msgw_put(w, "\n", 1);
	msgw_flush(w);
}

void
msgw_discard(struct msgw *w)
{
	if (w->fd != -1)
		close(w->fd);
	w->fd = -1;
	buf_free(&w->out);
}

int
msgw_read_data(struct msgw *w, struct io *io)
{
	char line[SMTP_TEXT_MAX];
	size_t len;
	unsigned flags;
	int r, prev_crlf = 1;

	for (;;) {
		if ((r = io_getline(io, line, SMTP_TEXT_MAX - 2, &len, &flags)) != IO_OK)
			return r;
		if ((flags & IOL_CRLF) && prev_crlf && len == 1 && line[0] == '.')
			return IO_OK;
		prev_crlf = (flags & IOL_CRLF) != 0;
		if (len > 0 && line[0] == '.')
			msgw_feed(w, line + 1, len - 1);
		else
			msgw_feed(w, line, len);
		if (flags & IOL_LONG)
			w->err |= E_LONG;
		msgw_feed(w, "\r\n", 2);
	}
}
