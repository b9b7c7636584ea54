/*
 * util.h - small helpers every program uses: allocation that dies on
 * out-of-memory (right for a short-lived per-connection process), checked
 * string copies and formatting, strict number parsing, full reads/writes.
 */
#ifndef INETMAIL_UTIL_H
#define INETMAIL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
/* Frees *pp and sets it to NULL; takes the address of the pointer. */
void	 xfree(void *pp);

/* Copies src into dst (size bytes); -1 if it did not fit (dst still terminated). */
int	 str_copy(char *dst, size_t size, const char *src);
/* snprintf into dst; -1 on truncation or error. */
int	 str_fmt(char *dst, size_t size, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* ASCII case-insensitive prefix test; returns length of prefix on match, else 0. */
size_t	 str_prefix_ci(const char *s, const char *prefix);

/* Strict unsigned decimal: digits only, no sign, no spaces, <= max. 0 ok, -1 bad. */
int	 parse_u64(const char *s, uint64_t max, uint64_t *out);
/* Same with an optional K/M/G suffix (powers of 1024). */
int	 parse_size(const char *s, uint64_t max, uint64_t *out);
/*
 * A duration in milliseconds: digits, then one of the suffixes ms, s, m, h
 * and d, or none (the number counts bare_ms each); <= max_ms.
 */
int	 parse_duration_ms(const char *s, uint64_t bare_ms, uint64_t max_ms,
	    uint64_t *out_ms);
/* The same in whole seconds (a bare number is seconds); <= max and
 * <= UINT64_MAX / 1000. */
int	 parse_duration(const char *s, uint64_t max, uint64_t *out);

/* Write all of buf, retrying on EINTR/short writes. 0 ok, -1 error. */
int	 write_all(int fd, const void *buf, size_t len);
/* Sleep for ms milliseconds, resuming after signals. */
void	 sleep_ms(unsigned ms);
/* Monotonic clock in milliseconds. */
uint64_t now_ms(void);
/* Wall clock (CLOCK_REALTIME) in milliseconds since the epoch: what the
 * stores keep, so it survives a reboot. */
int64_t	 wall_ms(void);
/* True once in n calls, at random (a writer's occasional sweep). */
int	 one_in(unsigned n);
/* n (1..8) bytes little-endian, the byte order of every record we store;
 * put_le returns the position after them. */
unsigned char *put_le(unsigned char *p, uint64_t v, int n);
uint64_t get_le(const unsigned char *p, int n);

#endif
