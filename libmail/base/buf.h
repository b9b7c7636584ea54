/*
 * buf.h - the one growable byte buffer: {ptr, len, cap, max}. Growth is
 * overflow-checked and stops at max; callers check the result.
 */
#ifndef INETMAIL_BUF_H
#define INETMAIL_BUF_H

#include <stddef.h>

struct buf {
	char	*ptr;
	size_t	 len;
	size_t	 cap;
	size_t	 max;	/* hard cap on len */
};

void	buf_init(struct buf *, size_t max);
/* Appends; -1 (buffer unchanged) if it would pass max. */
int	buf_add(struct buf *, const void *, size_t);
int	buf_addstr(struct buf *, const char *);
int	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes. */
void	buf_consume(struct buf *, size_t n);
void	buf_reset(struct buf *);
void	buf_free(struct buf *);
/* A NUL-terminated view (the NUL is not counted in len). */
const char *buf_cstr(struct buf *);

#endif
