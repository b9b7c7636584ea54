/*
 * maildir.c - Maildir delivery (tmp/, fsync, link into new/, fsync new/)
 * and the message scanner that gives the index its sizes, line count and
 * headers. The Maildir is the truth: once a message is linked into new/
 * and the directory is synced it is safe. Delivery does not touch the
 * index: opening its transactional store cost more than the rest of a
 * delivery together (bench/RESULTS.md), and the next reader's idx_sync
 * indexes new/ anyway (it changed new/'s mtime), reading only the header
 * since the sizes are in the name. This file calls nothing in index.c:
 * the index is a cache of the Maildir, so index.c (idx_sync, idx_undo)
 * calls here and never the reverse.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildir.h"
#include "util.h"

#define IO_CHUNK	65536
#define HDR_LINE_MAX	1024	/* of one unfolded header kept for parsing */
#define HDR_READ_MAX	(1024 * 1024)	/* header bytes read by a name-sized sync */
#define HOST_MAX	64	/* of the sanitised host name in a file name */

static const char *const subdirs[] = { "tmp", "new", "cur" };

/* ---- message scanner ---- */

struct scan {
	struct idx_rec	*rec;
	uint64_t	 size;
	uint64_t	 nlf;
	int		 last;		/* last byte, -1 if none */
	int		 in_hdr;	/* before the first empty line */
	int		 at_bol;
	int		 have;		/* a header line is being collected */
	unsigned	 got;		/* fields already set: first one wins */
	size_t		 llen;
	char		 line[HDR_LINE_MAX];
};

static void
scan_init(struct scan *s, struct idx_rec *rec)
{
	memset(s, 0, sizeof(*s));
	s->rec = rec;
	s->last = -1;
	s->in_hdr = 1;
	s->at_bol = 1;
	rec->from[0] = rec->to[0] = rec->subject[0] = rec->date[0] =
	    rec->msgid[0] = '\0';
}

/* Value made printable (tab to space, other bytes outside 0x20..0x7e to
 * '?'), trimmed, cut to IDX_HDR_MAX. */
static void
hdr_value(char *dst, const char *v, size_t n)
{
	size_t i, o = 0;

	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	for (i = 0; i < n && o < IDX_HDR_MAX; i++) {
		unsigned char c = (unsigned char)v[i];

		dst[o++] = c == '\t' ? ' ' : (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

static void
scan_flush(struct scan *s)
{
	static const char *const names[] = { "from", "to", "subject", "date",
	    "message-id" };
	char *fields[5];
	const char *colon;
	size_t n, i;

	if (!s->have)
		return;
	s->have = 0;
	fields[0] = s->rec->from;
	fields[1] = s->rec->to;
	fields[2] = s->rec->subject;
	fields[3] = s->rec->date;
	fields[4] = s->rec->msgid;
	if ((colon = memchr(s->line, ':', s->llen)) == NULL)
		return;
	n = (size_t)(colon - s->line);
	while (n > 0 && (s->line[n - 1] == ' ' || s->line[n - 1] == '\t'))
		n--;
	for (i = 0; i < 5; i++) {
		if (strlen(names[i]) != n || (s->got & (1u << i)))
			continue;
		if (str_prefix_ci(s->line, names[i]) != n)
			continue;
		hdr_value(fields[i], colon + 1,
		    s->llen - (size_t)(colon + 1 - s->line));
		s->got |= 1u << i;
		break;
	}
}

static void
scan_hdr_byte(struct scan *s, unsigned char c)
{
	if (c == '\r')
		return;
	if (s->at_bol) {
		if (c == '\n') {
			scan_flush(s);
			s->in_hdr = 0;
			return;
		}
		s->at_bol = 0;
		if (c == ' ' || c == '\t') {
			/* continuation: unfolding drops the line break only */
			if (s->have && s->llen < sizeof(s->line))
				s->line[s->llen++] = (char)c;
			return;
		}
		scan_flush(s);
		s->have = 1;
		s->llen = 0;
		s->line[s->llen++] = (char)c;
		return;
	}
	if (c == '\n')
		s->at_bol = 1;
	else if (s->have && s->llen < sizeof(s->line))
		s->line[s->llen++] = (char)c;
}

static void
scan_feed(struct scan *s, const void *buf, size_t n)
{
	const unsigned char *p = buf, *end = p + n, *q;
	size_t i;

	if (n == 0)
		return;
	s->size += n;
	s->last = p[n - 1];
	for (q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
		s->nlf++;
	for (i = 0; i < n && s->in_hdr; i++)
		scan_hdr_byte(s, p[i]);
}

static void
scan_end(struct scan *s)
{
	int open_line = s->last != -1 && s->last != '\n';

	if (s->in_hdr)
		scan_flush(s);
	s->rec->size = s->size;
	/* POP3 sends an unterminated last line with a CRLF added */
	s->rec->wsize = s->size + s->nlf + (open_line ? 2 : 0);
	s->rec->lines = (uint32_t)(s->nlf + (open_line ? 1 : 0));
}

/* Reads fd from offset 0 into s; headers_only stops after the header. */
static int
scan_fd(int fd, struct scan *s, int headers_only)
{
	char *buf = xmalloc(IO_CHUNK);
	off_t off = 0;
	ssize_t n;

	for (;;) {
		if (headers_only && (!s->in_hdr || off >= HDR_READ_MAX))
			break;
		n = pread(fd, buf, IO_CHUNK, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			int saved = errno;

			free(buf);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		scan_feed(s, buf, (size_t)n);
		off += n;
	}
	free(buf);
	return 0;
}

int
maildir_scan_message(int fd, struct idx_rec *rec)
{
	struct scan *s = xmalloc(sizeof(*s));
	int r;

	scan_init(s, rec);
	if ((r = scan_fd(fd, s, 0)) == 0)
		scan_end(s);
	free(s);
	return r;
}

/* ---- names ---- */

int
maildir_name_sizes(const char *name, uint64_t *size, uint64_t *wsize)
{
	size_t end = strcspn(name, ":"), i, n;
	char num[24];

	*size = *wsize = UINT64_MAX;
	for (i = strcspn(name, ",:"); i < end; i += n) {
		i++;	/* past ',' */
		n = strcspn(name + i, ",:");
		if (n < 3 || n - 2 >= sizeof(num) || name[i + 1] != '=' ||
		    (name[i] != 'S' && name[i] != 'W'))
			continue;
		memcpy(num, name + i + 2, n - 2);
		num[n - 2] = '\0';
		if (parse_u64(num, UINT64_MAX - 1, name[i] == 'S' ? size :
		    wsize) == -1) {
			if (name[i] == 'S')
				*size = UINT64_MAX;
			else
				*wsize = UINT64_MAX;
		}
	}
	return *size != UINT64_MAX && *wsize != UINT64_MAX ? 0 : -1;
}

/* Host name as Maildir wants it: '/' -> \057, ':' -> \072 (and ',' ->
 * \054, since ',' starts our size fields), cut to HOST_MAX. */
static const char *
host_part(void)
{
	static char host[HOST_MAX + 1];
	char raw[256];
	size_t i, o = 0;

	if (host[0] != '\0')
		return host;
	if (gethostname(raw, sizeof(raw)) == -1 || raw[0] == '\0')
		str_copy(raw, sizeof(raw), "localhost");
	raw[sizeof(raw) - 1] = '\0';
	for (i = 0; raw[i] != '\0'; i++) {
		unsigned char c = (unsigned char)raw[i];
		const char *esc = c == '/' ? "\\057" : c == ':' ? "\\072" :
		    c == ',' ? "\\054" : NULL;
		size_t need = esc ? 4 : 1;

		if (o + need > HOST_MAX)
			break;
		if (esc) {
			memcpy(host + o, esc, 4);
			o += 4;
		} else
			host[o++] = (c > 0x20 && c < 0x7f) ? (char)c : '_';
	}
	host[o] = '\0';
	return host;
}

static unsigned long deliveries;

static int
unique_name(char *buf, size_t size, struct timeval *tv)
{
	gettimeofday(tv, NULL);
	return str_fmt(buf, size, "%lld.M%06ldP%ldQ%lu.%s", (long long)tv->tv_sec,
	    (long)tv->tv_usec, (long)getpid(), ++deliveries, host_part());
}

/* ---- directories ---- */

static int
open_dir(int at, const char *name)
{
	return openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int
maildir_create(const char *path)
{
	struct stat st;
	size_t i;
	int fd, saved;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	if (lstat(path, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
		return -1;
	}
	if ((fd = open_dir(AT_FDCWD, path)) == -1)
		return -1;
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (mkdirat(fd, subdirs[i], 0700) == -1 && errno != EEXIST)
			goto fail;
		if (fstatat(fd, subdirs[i], &st, AT_SYMLINK_NOFOLLOW) == -1)
			goto fail;
		if (!S_ISDIR(st.st_mode)) {
			errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
			goto fail;
		}
	}
	close(fd);
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* ---- delivery ---- */

/* Writes header and msgfd into fd, scanning as it goes. */
static int
copy_in(int fd, const char *header, int msgfd, struct scan *s)
{
	char *buf;
	off_t off = 0;
	ssize_t n;
	int saved;

	if (header != NULL && header[0] != '\0') {
		scan_feed(s, header, strlen(header));
		if (write_all(fd, header, strlen(header)) == -1)
			return -1;
	}
	buf = xmalloc(IO_CHUNK);
	for (;;) {
		n = pread(msgfd, buf, IO_CHUNK, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		scan_feed(s, buf, (size_t)n);
		if (write_all(fd, buf, (size_t)n) == -1)
			goto fail;
		off += n;
	}
	free(buf);
	return 0;
fail:
	saved = errno;
	free(buf);
	errno = saved;
	return -1;
}

/* Moves tmp/uniq to new/final without ever replacing a file. */
static int
publish(int tfd, const char *uniq, int nfd, const char *final)
{
	if (linkat(tfd, uniq, nfd, final, 0) == 0) {
		if (unlinkat(tfd, uniq, 0) == -1)
			log_warn("maildir: unlink tmp/%s", pr(uniq));
		return 0;
	}
	/* file systems without hard links */
	if (errno != EPERM && errno != EXDEV && errno != ENOSYS &&
	    errno != EOPNOTSUPP && errno != EMLINK)
		return -1;
	if (renameat2(tfd, uniq, nfd, final, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL)
		return -1;
	return renameat(tfd, uniq, nfd, final);	/* no NOREPLACE support */
}

int
maildir_deliver(const char *path, const char *header, int msgfd,
    struct idx_rec *rec)
{
	struct scan *s = NULL;
	struct timeval tv;
	char uniq[IDX_NAME_MAX], final[IDX_NAME_MAX];
	int mfd = -1, tfd = -1, nfd = -1, fd = -1, tries, saved;
	int in_tmp = 0;

	memset(rec, 0, sizeof(*rec));
	if (maildir_create(path) == -1)
		return -1;
	if ((mfd = open_dir(AT_FDCWD, path)) == -1 ||
	    (tfd = open_dir(mfd, "tmp")) == -1 ||
	    (nfd = open_dir(mfd, "new")) == -1)
		goto fail;
	for (tries = 0; tries < 10; tries++) {
		if (unique_name(uniq, sizeof(uniq) - 48, &tv) == -1) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		fd = openat(tfd, uniq, O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_WRONLY | O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	if (fd == -1)
		goto fail;
	in_tmp = 1;
	s = xmalloc(sizeof(*s));
	scan_init(s, rec);
	if (copy_in(fd, header, msgfd, s) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	scan_end(s);
	if (str_fmt(final, sizeof(final), "%s,S=%llu,W=%llu", uniq,
	    (unsigned long long)rec->size, (unsigned long long)rec->wsize) == -1) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (publish(tfd, uniq, nfd, final) == -1)
		goto fail;
	in_tmp = 0;
	if (fsync(nfd) == -1) {
		saved = errno;
		unlinkat(nfd, final, 0);
		errno = saved;
		goto fail;
	}
	str_copy(rec->name, sizeof(rec->name), final);
	maildir_uidl(final, rec->uidl);
	rec->dir = IDX_NEW;
	rec->arrival = (int64_t)tv.tv_sec;
	free(s);
	close(nfd);
	close(tfd);
	close(mfd);
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	if (in_tmp)
		unlinkat(tfd, uniq, 0);
	free(s);
	if (nfd != -1)
		close(nfd);
	if (tfd != -1)
		close(tfd);
	if (mfd != -1)
		close(mfd);
	memset(rec, 0, sizeof(*rec));
	errno = saved;
	return -1;
}

/* Removes from dirfd the file name, or one with the same unique part. */
static int
remove_unique(int dfd, const char *name)
{
	struct dirent *de;
	size_t n = strcspn(name, ":,");
	DIR *d;
	int fd, r = -1;

	if (unlinkat(dfd, name, 0) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if ((fd = dup(dfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, name, n) != 0 ||
		    strcspn(de->d_name, ":,") != n)
			continue;
		r = unlinkat(dfd, de->d_name, 0);
		break;
	}
	closedir(d);
	if (r == -1 && de == NULL)
		errno = ENOENT;
	return r;
}

int
maildir_undo(const char *path, const char *name)
{
	int mfd, dfd = -1, i, r = -1, saved;

	if (strchr(name, '/') != NULL || name[0] == '.' || name[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	if ((mfd = open_dir(AT_FDCWD, path)) == -1)
		return -1;
	for (i = 1; i <= 2 && r == -1; i++) {
		if (dfd != -1)
			close(dfd);
		if ((dfd = open_dir(mfd, subdirs[i])) == -1)
			break;
		if ((r = remove_unique(dfd, name)) == -1 && errno != ENOENT)
			break;
		if (r == 0 && fsync(dfd) == -1)
			r = -1;
	}
	saved = errno;
	if (dfd != -1)
		close(dfd);
	close(mfd);
	if (r == -1) {
		errno = saved;
		return -1;
	}
	return 0;
}

/* ---- UIDL ---- */

/* SHA-256 (FIPS 180-4), for UIDLs of long or odd unique parts. */
static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROR(x, n)	(((x) >> (n)) | ((x) << (32 - (n))))

static void
sha256_block(uint32_t h[8], const unsigned char b[64])
{
	uint32_t w[64], a, bb, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		    (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10)) +
		    w[i - 7] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^
		    (w[i - 15] >> 3)) + w[i - 16];
	a = h[0]; bb = h[1]; c = h[2]; d = h[3];
	e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
		    ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
		    ((a & bb) ^ (a & c) ^ (bb & c));
		hh = g; g = f; f = e; e = d + t1;
		d = c; c = bb; bb = a; a = t1 + t2;
	}
	h[0] += a; h[1] += bb; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void
sha256(const void *data, size_t len, unsigned char out[32])
{
	uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	const unsigned char *p = data;
	unsigned char b[128];
	size_t rest, padlen, i;

	for (; len - (size_t)(p - (const unsigned char *)data) >= 64; p += 64)
		sha256_block(h, p);
	rest = len % 64;
	memset(b, 0, sizeof(b));
	memcpy(b, p, rest);
	b[rest] = 0x80;
	padlen = rest < 56 ? 64 : 128;
	put_le(b + padlen - 8, 0, 8);
	for (i = 0; i < 8; i++)
		b[padlen - 1 - i] = (unsigned char)(((uint64_t)len * 8) >> (8 * i));
	sha256_block(h, b);
	if (padlen == 128)
		sha256_block(h, b + 64);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(h[i] >> 8);
		out[4 * i + 3] = (unsigned char)h[i];
	}
}

/* Length of the unique part of a Maildir name: up to ':' or the first ','. */
/*
 * A unique part is its own UIDL when it is 1..UIDL_MAX bytes of 0x21..0x7e
 * not starting with '~'; otherwise the UIDL is "~" and 64 hex digits of its
 * SHA-256. The '~' keeps the two forms from ever colliding.
 */
void
maildir_uidl(const char *name, char *uidl)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strcspn(name, ":,"), i;
	unsigned char md[32];
	int plain = n > 0 && n <= UIDL_MAX && name[0] != '~';

	for (i = 0; plain && i < n; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			plain = 0;
	if (plain) {
		memcpy(uidl, name, n);
		uidl[n] = '\0';
		return;
	}
	sha256(name, n, md);
	uidl[0] = '~';
	for (i = 0; i < 32; i++) {
		uidl[1 + 2 * i] = hex[md[i] >> 4];
		uidl[2 + 2 * i] = hex[md[i] & 15];
	}
	uidl[65] = '\0';
}

/* ---- sync support ---- */

/* Unix time at the start of a Maildir name ("1700000000.M..."), or -1. */
static int64_t
name_time(const char *name)
{
	char num[24];
	size_t n = strspn(name, "0123456789");
	uint64_t v;

	if (n == 0 || n >= sizeof(num) || name[n] != '.')
		return -1;
	memcpy(num, name, n);
	num[n] = '\0';
	if (parse_u64(num, INT64_MAX, &v) == -1)
		return -1;
	return (int64_t)v;
}

int
maildir_index_file(int dirfd, const char *name, int dir, struct idx_rec *rec)
{
	struct scan *s;
	struct stat st;
	uint64_t S, W;
	unsigned char last = '\n';
	int fd, sized, r = 0, saved;

	memset(rec, 0, sizeof(*rec));
	if (str_copy(rec->name, sizeof(rec->name), name) == -1 ||
	    strcspn(name, ":,") == 0)
		return 1;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return (errno == ENOENT || errno == ELOOP) ? 1 : -1;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return 1;
	}
	rec->dir = (uint8_t)dir;
	maildir_uidl(name, rec->uidl);
	rec->arrival = name_time(name);
	if (rec->arrival < 0)
		rec->arrival = (int64_t)st.st_mtim.tv_sec;

	s = xmalloc(sizeof(*s));
	scan_init(s, rec);
	sized = maildir_name_sizes(name, &S, &W) == 0 &&
	    (uint64_t)st.st_size == S && W >= S;
	if (sized && S > 0 && pread(fd, &last, 1, (off_t)(S - 1)) != 1)
		sized = 0;
	if (sized && S > 0 && last != '\n' && W - S < 2)
		sized = 0;	/* W= does not follow our rule: count */
	if (sized && W - S > UINT32_MAX)
		sized = 0;
	if (sized) {
		r = scan_fd(fd, s, 1);
		if (r == 0) {
			scan_flush(s);
			rec->size = S;
			rec->wsize = W;
			rec->lines = (uint32_t)(S == 0 ? 0 :
			    last == '\n' ? W - S : W - S - 1);
		}
	} else if ((r = scan_fd(fd, s, 0)) == 0)
		scan_end(s);
	saved = errno;
	free(s);
	close(fd);
	errno = saved;
	return r;
}
