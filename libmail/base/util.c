/*
 * util.c - allocation, checked strings, strict numbers, full writes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

void *
xreallocarray(void *old, size_t n, size_t size)
{
	void *p;
	size_t total;

	if (size != 0 && n > SIZE_MAX / size)
		fatalx("allocation overflow");
	total = n * size;
	p = realloc(old, total != 0 ? total : 1);
	if (p == NULL)
		fatalx("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
xfree(void *pp)
{
	void **p = pp;

	free(*p);
	*p = NULL;
}

int
str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (size == 0)
		return -1;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int
str_fmt(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

size_t
str_prefix_ci(const char *s, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i] != '\0'; i++) {
		unsigned char a = (unsigned char)s[i], b = (unsigned char)prefix[i];

		if (a >= 'A' && a <= 'Z')
			a += 'a' - 'A';
		if (b >= 'A' && b <= 'Z')
			b += 'a' - 'A';
		if (a != b)
			return 0;
	}
	return i;
}

int
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

struct unit {
	const char	*suffix;
	uint64_t	 scale;
};

/*
 * Shared by parse_size and the duration parsers: digits, then nothing (the
 * number counts bare each) or one of units' suffixes; the result <= max.
 */
static int
parse_scaled(const char *s, uint64_t bare, const struct unit *units,
    uint64_t max, uint64_t *out)
{
	char digits[21];	/* UINT64_MAX has 20 */
	size_t n = strspn(s, "0123456789");
	uint64_t v, scale = bare;

	if (n == 0 || n >= sizeof(digits))
		return -1;
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (s[n] != '\0') {
		for (; units->suffix != NULL; units++)
			if (strcmp(s + n, units->suffix) == 0)
				break;
		if (units->suffix == NULL)
			return -1;
		scale = units->scale;
	}
	if (parse_u64(digits, UINT64_MAX, &v) == -1 || v > max / scale)
		return -1;
	*out = v * scale;
	return 0;
}

int
parse_size(const char *s, uint64_t max, uint64_t *out)
{
	static const struct unit units[] = { { "k", 1024 }, { "K", 1024 },
	    { "m", 1048576 }, { "M", 1048576 }, { "g", 1073741824 },
	    { "G", 1073741824 }, { NULL, 0 } };

	return parse_scaled(s, 1, units, max, out);
}

int
parse_duration_ms(const char *s, uint64_t bare_ms, uint64_t max_ms,
    uint64_t *out_ms)
{
	static const struct unit units[] = { { "ms", 1 }, { "s", 1000 },
	    { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 }, { NULL, 0 } };

	return parse_scaled(s, bare_ms, units, max_ms, out_ms);
}

int
parse_duration(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t ms;

	if (parse_duration_ms(s, 1000, max > UINT64_MAX / 1000 ? UINT64_MAX :
	    max * 1000, &ms) == -1 || ms % 1000 != 0)
		return -1;
	*out = ms / 1000;
	return 0;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
one_in(unsigned n)
{
	unsigned r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (unsigned)getpid() ^ (unsigned)wall_ms();
	return r % n == 0;
}

unsigned char *
put_le(unsigned char *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

uint64_t
get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}
