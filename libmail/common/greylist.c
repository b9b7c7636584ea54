/*
 * greylist.c - the greylisting triplet store (see greylist.h), on the
 * throttle store's crash-safe table (thr_open_db, thr_begin ... thr_commit).
 *
 * Records: key "NET\tSENDER\tRCPT" (TAB cannot occur in an SMTP path),
 * value v1: state byte (0 waiting, 1 passed), attempts u32, first and last
 * attempt in ms since the epoch (little-endian). Writers sweep records out
 * of effect now and then.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "greylist.h"
#include "log.h"
#include "params.h"
#include "netaddr.h"
#include "throttle.h"
#include "util.h"

#define GREY_DB		"greylist.db"
#define GREY_REC_LEN	(1 + 1 + 4 + 8 + 8)
#define GREY_SWEEP_ONE_IN 64

struct grec {
	int	 passed;
	uint32_t count;
	int64_t	 first, last;	/* ms */
};

static int
rec_decode(const unsigned char *v, size_t len, struct grec *g)
{
	memset(g, 0, sizeof(*g));
	if (len != GREY_REC_LEN || v[0] != 1 || v[1] > 1)
		return -1;
	g->passed = v[1];
	g->count = (uint32_t)get_le(v + 2, 4);
	g->first = (int64_t)get_le(v + 6, 8);
	g->last = (int64_t)get_le(v + 14, 8);
	return 0;
}

static void
rec_encode(const struct grec *g, unsigned char v[GREY_REC_LEN])
{
	v[0] = 1;
	v[1] = (unsigned char)(g->passed != 0);
	put_le(v + 2, g->count, 4);
	put_le(v + 6, (uint64_t)g->first, 8);
	put_le(v + 14, (uint64_t)g->last, 8);
}

/* Still in effect at now (ms)? */
static int
rec_alive(const struct grec *g, int64_t now)
{
	if (g->passed)
		return now - g->last <= (int64_t)conf.greylist_expire;
	return now - g->first <= (int64_t)conf.greylist_retry_window;
}

/* "<>" for the null sender; lower-cased, into out. */
static int
norm_addr(char *out, size_t size, const char *addr)
{
	size_t i;

	if (addr[0] == '\0')
		addr = "<>";
	if (str_copy(out, size, addr) == -1)
		return -1;
	for (i = 0; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return 0;
}

int
grey_exempt(const char *ip)
{
	if (!conf.greylist || conf.greylist_db == NULL ||
	    conf.greylist_db[0] == '\0')
		return 1;
	/* no peer (stdin, smtpd -q): nothing to count; any other
	 * non-address is in no list (netaddr_in fails closed) */
	return strcmp(ip, "pipe") == 0 ||
	    netaddr_in(ip, conf.greylist_exempt, "greylist_exempt");
}

int
grey_open(struct thr **t, int flags)
{
	return thr_open_db(t, conf.greylist_db, GREY_DB, "greylist", flags);
}

static int
sweep_one(const char *key, const unsigned char *v, size_t len, void *arg)
{
	struct grec g;

	(void)key;
	return rec_decode(v, len, &g) == -1 || !rec_alive(&g, *(int64_t *)arg);
}

int64_t
grey_check(const char *ip, const char *sender, const char *rcpt)
{
	static int warned;
	char addr[64], net[80], from[SMTP_PATH_MAX + 3], to[SMTP_PATH_MAX + 3];
	char key[THR_WALK_KEY_MAX], lf[LOG_TEXT_MAX + 8], lt[LOG_TEXT_MAX + 8];
	unsigned char *v, buf[GREY_REC_LEN];
	struct grec g;
	struct thr *t;
	size_t len;
	int64_t now = wall_ms(), wait = 0, el;
	int r, fresh = 0, good;

	if (grey_exempt(ip) ||
	    netaddr_keys(ip, addr, sizeof(addr), net, sizeof(net)) == -1 ||
	    norm_addr(from, sizeof(from), sender) == -1 ||
	    norm_addr(to, sizeof(to), rcpt) == -1 ||
	    str_fmt(key, sizeof(key), "%s\t%s\t%s", net, from, to) == -1)
		return 0;
	printable(from, strlen(from), lf, sizeof(lf));
	printable(to, strlen(to), lt, sizeof(lt));
	if (grey_open(&t, THR_CREATE) == -1) {
		if (!warned++)
			log_warn("greylist: %s: unusable, not greylisting",
			    pr(conf.greylist_db));
		return 0;
	}
	if (thr_begin(t) == -1 || (r = thr_get(t, key, &v, &len)) == -1) {
		thr_close(&t);
		return 0;
	}
	if (r == 0) {
		if (rec_decode(v, len, &g) == -1 || !rec_alive(&g, now))
			fresh = 1;
		free(v);
	} else
		fresh = 1;
	if (fresh) {
		memset(&g, 0, sizeof(g));
		g.first = now;
	}
	g.count++;
	g.last = now;
	el = now - g.first;
	if (!g.passed) {
		if (el >= (int64_t)conf.greylist_delay) {
			g.passed = 1;
			log_info("event=greylist_pass ip=%s from=%s to=%s "
			    "delay=%lld attempts=%u", addr, lf, lt,
			    (long long)(el / 1000), (unsigned)g.count);
		} else
			/* whole seconds, rounded up: never "0 seconds" */
			wait = ((int64_t)conf.greylist_delay - el + 999) /
			    1000;
	}
	rec_encode(&g, buf);
	good = thr_put(t, key, buf, sizeof(buf)) == 0;
	if (good && one_in(GREY_SWEEP_ONE_IN))
		good = thr_walk(t, sweep_one, &now) == 0;
	if (thr_commit(t, good) == -1)
		good = 0;
	thr_close(&t);
	if (wait > 0)
		log_info("event=greylisted ip=%s from=%s to=%s wait=%lld%s",
		    addr, lf, lt, (long long)wait,
		    good ? "" : " store=failed");
	/* a triplet that could not be stored would never pass: fail open */
	return good ? wait : 0;
}

/* ---- listing and clearing (maildb) ---- */

static int
entry_of(const char *key, const unsigned char *v, size_t len,
    struct grey_entry *e)
{
	struct grec g;
	const char *t1, *t2;

	memset(e, 0, sizeof(*e));
	if (rec_decode(v, len, &g) == -1 || !rec_alive(&g, wall_ms()) ||
	    (t1 = strchr(key, '\t')) == NULL ||
	    (t2 = strchr(t1 + 1, '\t')) == NULL ||
	    (size_t)(t1 - key) >= sizeof(e->net) ||
	    (size_t)(t2 - t1 - 1) >= sizeof(e->sender) ||
	    str_copy(e->rcpt, sizeof(e->rcpt), t2 + 1) == -1)
		return 0;
	memcpy(e->net, key, (size_t)(t1 - key));
	memcpy(e->sender, t1 + 1, (size_t)(t2 - t1 - 1));
	e->passed = g.passed;
	e->count = g.count;
	e->first = g.first / 1000;
	e->last = g.last / 1000;
	return 1;
}

struct list_args {
	int	(*fn)(const struct grey_entry *, void *);
	void	*arg;
};

static int
list_one(const char *key, const unsigned char *v, size_t len, void *arg)
{
	struct list_args *a = arg;
	struct grey_entry e;

	if (!entry_of(key, v, len, &e))
		return 0;
	return a->fn(&e, a->arg) != 0 ? -1 : 0;
}

int
grey_list(struct thr *t, int (*fn)(const struct grey_entry *, void *),
    void *arg)
{
	struct list_args a = { fn, arg };

	return thr_walk(t, list_one, &a);
}

struct clear_args {
	char	 net[80];	/* "" = no prefix given */
	char	 addr[SMTP_PATH_MAX + 3];
	int	 all;
	int	 n;
};

static int
clear_one(const char *key, const unsigned char *v, size_t len, void *arg)
{
	struct clear_args *a = arg;
	struct grey_entry e;

	(void)v;
	(void)len;
	if (a->all) {
		a->n++;
		return 1;
	}
	if (!entry_of(key, v, len, &e))
		return 1;	/* out of effect anyway: swept */
	if ((a->net[0] != '\0' && strcmp(e.net, a->net) == 0) ||
	    (a->addr[0] != '\0' && (strcmp(e.sender, a->addr) == 0 ||
	    strcmp(e.rcpt, a->addr) == 0))) {
		a->n++;
		return 1;
	}
	return 0;
}

int
grey_clear(struct thr *t, const char *what)
{
	struct clear_args a;
	char addr[64];
	int ok;

	memset(&a, 0, sizeof(a));
	if (strcmp(what, "all") == 0)
		a.all = 1;
	else if (strchr(what, '/') != NULL) {
		/* a prefix as listed: any address in it names it */
		char ip[64];

		if (str_copy(ip, sizeof(ip), what) == -1)
			return -1;
		ip[strcspn(ip, "/")] = '\0';
		if (netaddr_keys(ip, addr, sizeof(addr), a.net,
		    sizeof(a.net)) == -1)
			return -1;
	} else if (netaddr_keys(what, addr, sizeof(addr), a.net,
	    sizeof(a.net)) == -1 && norm_addr(a.addr, sizeof(a.addr), what) == -1)
		return -1;
	if (thr_begin(t) == -1)
		return -1;
	ok = thr_walk(t, clear_one, &a) == 0;
	if (thr_commit(t, ok) == -1 || !ok)
		return -1;
	return a.n;
}
