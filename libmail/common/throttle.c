/*
 * throttle.c - the shared throttle store (see throttle.h): login failures
 * per address, prefix and user name with decay, connection rate and live
 * connections per address. Storage is a store (store.h, DESIGN.md
 * "Berkeley DB index"): flock(2) on DIR/lock, a private transactional
 * environment recovered only after an unclean stop, WRITE_NOSYNC commits;
 * a damaged one is set aside and started empty. The lock is held for one
 * short transaction, never across a delay or a PAM call.
 *
 * Counters are leaky buckets: a record holds a count and the time it was
 * last updated; a reader subtracts `limit` units per `window` elapsed. So an
 * address may fail auth_fail_limit times in a burst and then about once per
 * window/limit, and an idle record decays to nothing and is swept.
 *
 * Records (keys are text, values little-endian, version byte first):
 *   ip:ADDR net:PREFIX user:NAME rate:ADDR  v1: count*1000, last ms, until s
 *   live:ADDR                               v2: n, then n x (pid, start time)
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "netaddr.h"
#include "store.h"
#include "throttle.h"
#include "user.h"
#include "util.h"

#define THR_DB		"throttle.db"
#define THR_LIVE_MAX	4096	/* pids kept per address: bounds a record */
#define THR_NET_FACTOR	4	/* a prefix is blocked at 4 x auth_fail_limit */
#define THR_DELAY_BASE	500	/* ms: the first step of the growing delay */
#define THR_RATE_WINDOW	60	/* seconds: max_conn_rate_per_ip is per minute */
#define THR_SWEEP_ONE_IN 32	/* writers sweep expired records now and then */
#define THR_KEY_MAX	(sizeof(((struct thr_entry *)0)->key))
#define REC_CNT_LEN	(1 + 8 + 8 + 8)

struct thr {
	struct store *s;	/* THR_DB, or the caller's (thr_open_db) */
};

struct cnt {
	uint64_t milli;		/* count x 1000, as stored */
	int64_t	 last;		/* ms, wall clock */
	int64_t	 until;		/* s, wall clock; 0 = not blocked */
};

/* ---- small helpers ---- */

/* The count after decay at now: limit units leak per window seconds. */
static double
decayed(const struct cnt *c, uint64_t limit, uint64_t window, int64_t now)
{
	double n = (double)c->milli / 1000.0;
	int64_t el = now - c->last;

	if (el > 0 && window > 0)
		n -= (double)el / 1000.0 * (double)limit / (double)window;
	return n > 0 ? n : 0;
}

static void
set_count(struct cnt *c, double n, int64_t now)
{
	c->milli = n <= 0 ? 0 : (uint64_t)(n * 1000.0 + 0.5);
	c->last = now;
}

/* ---- addresses (netaddr.c) ---- */

int
thr_exempt(const char *ip)
{
	if (conf.throttle_db == NULL || conf.throttle_db[0] == '\0')
		return 1;
	/* no peer (stdin, smtpd -q): nothing to count; any other
	 * non-address is in no list (netaddr_in fails closed) */
	return strcmp(ip, "pipe") == 0 ||
	    netaddr_in(ip, conf.throttle_exempt, "throttle_exempt");
}

/* ---- the store (the shared recipe: store.c) ---- */

/* mkdir -p for the parents (0755); the store itself is made 0700 by
 * store_open. */
static int
make_parents(const char *dir)
{
	char buf[PATH_MAX], *p;

	if (str_copy(buf, sizeof(buf), dir) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

int
thr_open(struct thr **tp, const char *dir, int flags)
{
	return thr_open_db(tp, dir, THR_DB, "throttle", flags);
}

int
thr_open_db(struct thr **tp, const char *dir, const char *dbname,
    const char *name, int flags)
{
	struct stat st;
	struct store *s;

	*tp = NULL;
	if ((flags & THR_CREATE) && lstat(dir, &st) == -1 && errno == ENOENT &&
	    make_parents(dir) == -1)
		return -1;
	if ((s = store_open(dir, dbname, name, STORE_PRIVATE | STORE_DISCARD |
	    ((flags & THR_CREATE) ? STORE_CREATE : 0), "starting empty")) == NULL)
		return -1;
	*tp = xcalloc(1, sizeof(**tp));
	(*tp)->s = s;
	return 0;
}

int
thr_close(struct thr **tp)
{
	struct thr *t = *tp;
	int ret;

	if (t == NULL)
		return 0;
	*tp = NULL;
	ret = store_close(&t->s);
	free(t);
	return ret;
}

/* ---- records: text keys ---- */

/* Reads key's value into an owned buffer (read for update): 0 found, 1
 * absent, -1 error. */
static int
get_raw(struct thr *t, const char *key, unsigned char **val, size_t *len)
{
	return store_get(t->s, key, strlen(key), (void **)val, len, STORE_RMW);
}

static int
put_raw(struct thr *t, const char *key, const void *val, size_t len)
{
	return store_put(t->s, key, strlen(key), val, len, 0);
}

static int
del_raw(struct thr *t, const char *key)
{
	return store_del(t->s, key, strlen(key)) == -1 ? -1 : 0;
}

/* ---- the store as a plain table (throttle.h: greylist.c uses it) ---- */

int
thr_begin(struct thr *t)
{
	return store_in_txn(t->s) ? 0 : store_begin(t->s);
}

int
thr_commit(struct thr *t, int ok)
{
	if (!store_in_txn(t->s))
		return 0;
	if (!ok) {
		store_abort(t->s);
		return 0;
	}
	return store_commit(t->s);
}

int
thr_get(struct thr *t, const char *key, unsigned char **val, size_t *len)
{
	return get_raw(t, key, val, len);
}

int
thr_put(struct thr *t, const char *key, const void *val, size_t len)
{
	return put_raw(t, key, val, len);
}

int
thr_del(struct thr *t, const char *key)
{
	return del_raw(t, key);
}

struct walk_args {
	int	(*fn)(const char *, const unsigned char *, size_t, void *);
	void	*arg;
};

/* thr_walk's records: the key as a string, cut at THR_WALK_KEY_MAX - 1. */
static int
walk_one(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct walk_args *a = arg;
	char key[THR_WALK_KEY_MAX];
	size_t n = klen < sizeof(key) - 1 ? klen : sizeof(key) - 1;
	int r;

	memcpy(key, k, n);
	key[n] = '\0';
	if ((r = a->fn(key, v, vlen, a->arg)) < 0)
		return STORE_STOP;
	return r == 1 ? STORE_DEL : STORE_NEXT;
}

int
thr_walk(struct thr *t, int (*fn)(const char *, const unsigned char *,
    size_t, void *), void *arg)
{
	struct walk_args a = { fn, arg };

	return store_walk(t->s, store_in_txn(t->s) ? STORE_RMW : 0, walk_one,
	    &a);
}

static int
cnt_decode(const unsigned char *p, size_t len, struct cnt *c)
{
	memset(c, 0, sizeof(*c));
	if (len != REC_CNT_LEN || p[0] != 1)
		return -1;
	c->milli = get_le(p + 1, 8);
	c->last = (int64_t)get_le(p + 9, 8);
	c->until = (int64_t)get_le(p + 17, 8);
	return 0;
}

/* A counter record; absent or undecodable reads as zero. */
static int
cnt_get(struct thr *t, const char *key, struct cnt *c)
{
	unsigned char *v;
	size_t len;
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = get_raw(t, key, &v, &len)) != 0)
		return r == 1 ? 0 : -1;
	if (cnt_decode(v, len, c) == -1)
		log_warnx("throttle: bad record %s, reset", pr(key));
	free(v);
	return 0;
}

static int
cnt_put(struct thr *t, const char *key, const struct cnt *c)
{
	unsigned char buf[REC_CNT_LEN], *p = buf;

	*p++ = 1;
	p = put_le(p, c->milli, 8);
	p = put_le(p, (uint64_t)c->last, 8);
	put_le(p, (uint64_t)c->until, 8);
	return put_raw(t, key, buf, sizeof(buf));
}

/* A live list: n pairs (pid, start time). */
struct live {
	uint32_t n;
	uint32_t pid[THR_LIVE_MAX];
	uint64_t start[THR_LIVE_MAX];
};

static int
live_get(struct thr *t, const char *key, struct live *l)
{
	unsigned char *v;
	size_t len, i;
	int r;

	l->n = 0;
	if ((r = get_raw(t, key, &v, &len)) != 0)
		return r == 1 ? 0 : -1;
	if (len < 5 || v[0] != 2 || get_le(v + 1, 4) > THR_LIVE_MAX ||
	    len != 5 + 12 * get_le(v + 1, 4)) {
		log_warnx("throttle: bad record %s, reset", pr(key));
		free(v);
		return 0;
	}
	l->n = (uint32_t)get_le(v + 1, 4);
	for (i = 0; i < l->n; i++) {
		l->pid[i] = (uint32_t)get_le(v + 5 + 12 * i, 4);
		l->start[i] = get_le(v + 9 + 12 * i, 8);
	}
	free(v);
	return 0;
}

static int
live_put(struct thr *t, const char *key, const struct live *l)
{
	unsigned char *buf, *p;
	size_t i;
	int r;

	if (l->n == 0)
		return del_raw(t, key);
	p = buf = xmalloc(5 + 12 * (size_t)l->n);
	*p++ = 2;
	p = put_le(p, l->n, 4);
	for (i = 0; i < l->n; i++) {
		p = put_le(p, l->pid[i], 4);
		p = put_le(p, l->start[i], 8);
	}
	r = put_raw(t, key, buf, (size_t)(p - buf));
	free(buf);
	return r;
}

/* Start time of pid (field 22 of /proc/PID/stat); 0 if unknown. */
static uint64_t
proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	uint64_t v;
	ssize_t n;
	int fd, i;

	if (str_fmt(path, sizeof(path), "/proc/%ld/stat", (long)pid) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	/* after ") " come fields 3..: the start time is the 20th of them */
	for (i = 0; i < 19 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return 0;
	v = strtoull(p + 1, NULL, 10);
	return v;
}

/* Is the connection (pid, start) still there? */
static int
live_alive(uint32_t pid, uint64_t start)
{
	uint64_t now;

	if (pid == 0 || kill((pid_t)pid, 0) == -1)
		return pid != 0 && errno == EPERM;
	now = proc_start((pid_t)pid);
	return start == 0 || now == 0 || now == start;
}

static void
live_prune(struct live *l)
{
	uint32_t i, j = 0;

	for (i = 0; i < l->n; i++)
		if (live_alive(l->pid[i], l->start[i])) {
			l->pid[j] = l->pid[i];
			l->start[j++] = l->start[i];
		}
	l->n = j;
}

/* ---- listing and sweeping ---- */

static uint64_t
limit_of(const char *key, uint64_t *window)
{
	*window = conf.auth_fail_window / 1000;
	if (strncmp(key, "rate:", 5) == 0) {
		*window = THR_RATE_WINDOW;
		return conf.max_conn_rate_per_ip;
	}
	if (strncmp(key, "net:", 4) == 0)
		return conf.auth_fail_limit * THR_NET_FACTOR;
	return conf.auth_fail_limit;
}

/* Fills e from one record; 0 when the record has no effect any more. */
static int
entry_of(const void *k, size_t klen, const unsigned char *v, size_t vlen,
    int64_t now, struct thr_entry *e)
{
	struct live *l;
	struct cnt c;
	uint64_t limit, window;
	size_t n = klen < THR_KEY_MAX - 1 ? klen : THR_KEY_MAX - 1;

	memset(e, 0, sizeof(*e));
	memcpy(e->key, k, n);
	e->key[n] = '\0';
	if (strncmp(e->key, "live:", 5) == 0) {
		l = xmalloc(sizeof(*l));
		l->n = 0;
		if (vlen >= 5 && v[0] == 2 && get_le(v + 1, 4) <= THR_LIVE_MAX &&
		    vlen == 5 + 12 * get_le(v + 1, 4)) {
			size_t i;

			l->n = (uint32_t)get_le(v + 1, 4);
			for (i = 0; i < l->n; i++) {
				l->pid[i] = (uint32_t)get_le(v + 5 + 12 * i, 4);
				l->start[i] = get_le(v + 9 + 12 * i, 8);
			}
		}
		live_prune(l);
		e->count = l->n;
		e->last = 0;
		free(l);
		return e->count > 0;
	}
	if (cnt_decode(v, vlen, &c) == -1)
		return 0;
	limit = limit_of(e->key, &window);
	e->count = decayed(&c, limit, window, now);
	e->last = c.last / 1000;
	e->until = c.until > now / 1000 ? c.until : 0;
	return e->count >= 0.001 || e->until != 0;
}

/* One walk for listing (fn set: the entries in effect) and sweeping (fn
 * NULL: the others deleted). */
struct list_args {
	int	(*fn)(const struct thr_entry *, void *);
	void	*arg;
	int64_t	 now;
	int	 ret;
};

static int
list_one(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct list_args *a = arg;
	struct thr_entry e;
	int live = entry_of(k, klen, v, vlen, a->now, &e);

	if (a->fn == NULL)
		return live ? STORE_NEXT : STORE_DEL;
	if (live && (a->ret = a->fn(&e, a->arg)) != 0)
		return STORE_STOP;
	return STORE_NEXT;
}

int
thr_list(struct thr *t, int (*fn)(const struct thr_entry *, void *),
    void *arg)
{
	struct list_args a = { fn, arg, wall_ms(), 0 };

	if (store_walk(t->s, 0, list_one, &a) == -1)
		return -1;
	return a.ret;
}

/* Deletes the records that have no effect any more, in the transaction. */
static int
sweep(struct thr *t)
{
	struct list_args a = { NULL, NULL, wall_ms(), 0 };

	return store_walk(t->s, STORE_RMW, list_one, &a);
}

int
thr_clear(struct thr *t, const char *what)
{
	static const char *const kinds[] = { "ip:", "net:", "user:", "rate:",
	    "live:" };
	char key[THR_KEY_MAX], addr[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 8];
	const char *name = what;
	size_t i;
	int r, n = 0;

	/* an address in any spelling clears its canonical records, and the
	 * block of its prefix (which would still refuse it) */
	if (netaddr_keys(what, addr, sizeof(addr), net, sizeof(net)) == 0)
		name = addr;
	if (store_begin(t->s) == -1)
		return -1;
	if (name == addr && str_fmt(key, sizeof(key), "net:%s", net) == 0) {
		if ((r = store_del(t->s, key, strlen(key))) == -1)
			goto fail;
		n += r == 0;
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (str_fmt(key, sizeof(key), "%s%s", kinds[i], name) == -1)
			continue;
		if ((r = store_del(t->s, key, strlen(key))) == -1)
			goto fail;
		n += r == 0;
	}
	if (store_commit(t->s) == -1)
		return -1;
	return n;
fail:
	store_abort(t->s);
	return -1;
}

/* ---- the daemons' entry points ---- */

/* Opens conf.throttle_db and begins a transaction; NULL when unusable. */
static struct thr *
open_txn(void)
{
	static int warned;
	struct thr *t;

	if (thr_open(&t, conf.throttle_db, THR_CREATE) == -1) {
		if (!warned++)
			log_warn("throttle: %s: unusable, not throttling",
			    pr(conf.throttle_db));
		return NULL;
	}
	if (store_begin(t->s) == -1) {
		thr_close(&t);
		return NULL;
	}
	return t;
}

/* Commits (ok) or aborts, then closes. */
static void
end_txn(struct thr **t, int ok)
{
	thr_commit(*t, ok);
	thr_close(t);
}

static int
user_key(char *key, size_t size, const char *user)
{
	return user != NULL && user[0] != '\0' && user_name_ok(user) ?
	    str_fmt(key, size, "user:%s", user) : -1;
}

static unsigned
steps_delay(double steps)
{
	uint64_t ms, cap = conf.auth_penalty_max;
	int s = (int)(steps + 0.5);	/* decay since the last failure is slow */

	if (s <= 0)
		return 0;
	ms = (uint64_t)THR_DELAY_BASE << (s - 1 > 20 ? 20 : s - 1);
	return (unsigned)(ms < cap ? ms : cap);
}

void
thr_auth_check(const char *ip, const char *user, struct thr_verdict *v)
{
	char addr[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 8];
	char key[THR_KEY_MAX];
	struct cnt ci, cn, cu;
	struct thr *t;
	int64_t now = wall_ms();
	double si, sn, su, s;
	uint64_t lim = conf.auth_fail_limit;

	memset(v, 0, sizeof(*v));
	if (lim == 0 || thr_exempt(ip) ||
	    netaddr_keys(ip, addr, sizeof(addr), net, sizeof(net)) == -1 ||
	    (t = open_txn()) == NULL)
		return;
	memset(&cu, 0, sizeof(cu));
	if ((str_fmt(key, sizeof(key), "ip:%s", addr) == -1 ||
	    cnt_get(t, key, &ci) == -1) ||
	    (str_fmt(key, sizeof(key), "net:%s", net) == -1 ||
	    cnt_get(t, key, &cn) == -1) ||
	    (user_key(key, sizeof(key), user) == 0 &&
	    cnt_get(t, key, &cu) == -1)) {
		end_txn(&t, 0);
		return;
	}
	end_txn(&t, 0);	/* read only */
	if (ci.until > now / 1000 || cn.until > now / 1000) {
		v->refuse = 1;
		v->reason = ci.until > now / 1000 ? "ip_blocked" : "net_blocked";
		v->until = ci.until > cn.until ? ci.until : cn.until;
		log_info("event=throttled ip=%s user=%s reason=%s until=%lld",
		    addr, pr(user), v->reason, (long long)v->until);
		return;
	}
	si = decayed(&ci, lim, conf.auth_fail_window / 1000, now);
	sn = decayed(&cn, lim * THR_NET_FACTOR, conf.auth_fail_window / 1000,
	    now) / THR_NET_FACTOR;
	su = decayed(&cu, lim, conf.auth_fail_window / 1000, now) -
	    (double)lim + 1;
	s = si > sn ? si : sn;
	s = s > su ? s : su;
	if ((v->delay_ms = steps_delay(s)) > 0) {
		v->reason = s == si ? "ip_failures" : s == sn ? "net_failures" :
		    "user_failures";
		log_info("event=throttled ip=%s user=%s reason=%s delay_ms=%u",
		    addr, pr(user), v->reason, v->delay_ms);
	}
}

/* Adds one failure to key's counter; blocks it at block_at (0: never),
 * setting *blocked when this failure started the block. */
static int
count_fail(struct thr *t, const char *key, uint64_t limit,
    uint64_t block_at, int64_t now, struct cnt *c, int *blocked)
{
	double n;

	*blocked = 0;
	if (cnt_get(t, key, c) == -1)
		return -1;
	n = decayed(c, limit, conf.auth_fail_window / 1000, now) + 1;
	/* a cap: however long the attack, it is forgotten two windows on */
	if (n > 2.0 * (double)(limit ? limit : 1))
		n = 2.0 * (double)(limit ? limit : 1);
	set_count(c, n, now);
	/* half a unit of slack: the decay between failures in a burst */
	if (block_at > 0 && n + 0.5 >= (double)block_at &&
	    c->until <= now / 1000) {
		c->until = now / 1000 + (int64_t)(conf.auth_fail_window / 1000);
		*blocked = 1;
	}
	return cnt_put(t, key, c);
}

void
thr_auth_result(const char *ip, const char *user, int ok)
{
	char addr[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 8];
	char key[THR_KEY_MAX];
	struct cnt ci, cn, cu;
	struct thr *t;
	int64_t now = wall_ms();
	uint64_t lim = conf.auth_fail_limit;
	int good = 0, bi = 0, bn = 0, bu;

	if (!ok && netaddr_keys(ip, addr, sizeof(addr), net, sizeof(net)) == 0)
		log_info("event=auth_fail ip=%s user=%s", addr, pr(user));
	else if (!ok)
		log_info("event=auth_fail ip=%s user=%s", pr(ip), pr(user));
	if (lim == 0 || thr_exempt(ip) ||
	    netaddr_keys(ip, addr, sizeof(addr), net, sizeof(net)) == -1 ||
	    (t = open_txn()) == NULL)
		return;
	if (ok) {
		good = str_fmt(key, sizeof(key), "ip:%s", addr) == 0 &&
		    del_raw(t, key) == 0;
		end_txn(&t, good);
		return;
	}
	good = str_fmt(key, sizeof(key), "ip:%s", addr) == 0 &&
	    count_fail(t, key, lim, lim, now, &ci, &bi) == 0 &&
	    str_fmt(key, sizeof(key), "net:%s", net) == 0 &&
	    count_fail(t, key, lim * THR_NET_FACTOR,
	    lim * THR_NET_FACTOR, now, &cn, &bn) == 0;
	if (good && user_key(key, sizeof(key), user) == 0)
		good = count_fail(t, key, lim, 0, now, &cu, &bu) == 0;
	if (good && (bi || bn))
		log_info("event=throttled ip=%s user=%s reason=%s until=%lld",
		    addr, pr(user), bi ? "ip_blocked" : "net_blocked",
		    (long long)(bi ? ci.until : cn.until));
	if (good && one_in(THR_SWEEP_ONE_IN))
		good = sweep(t) == 0;
	end_txn(&t, good);
}

int
thr_conn_enter(const char *ip, pid_t pid, const char **reason)
{
	char addr[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 8];
	char key[THR_KEY_MAX];
	struct live *l = NULL;
	struct cnt c;
	struct thr *t;
	int64_t now = wall_ms();
	uint64_t rate = conf.max_conn_rate_per_ip, max = conf.max_conn_per_ip;
	double n;
	int over = 0, good;

	*reason = NULL;
	if ((rate == 0 && max == 0) || thr_exempt(ip) ||
	    netaddr_keys(ip, addr, sizeof(addr), net, sizeof(net)) == -1 ||
	    (t = open_txn()) == NULL)
		return 0;
	good = 1;
	if (rate > 0) {
		good = str_fmt(key, sizeof(key), "rate:%s", addr) == 0 &&
		    cnt_get(t, key, &c) == 0;
		if (good) {
			n = decayed(&c, rate, THR_RATE_WINDOW, now) + 1;
			if (n > (double)rate) {
				over = 1;
				*reason = "conn_rate";
			}
			/* refused attempts count too, up to a cap */
			set_count(&c, n > 2.0 * (double)rate ? 2.0 * (double)rate
			    : n, now);
			good = cnt_put(t, key, &c) == 0;
		}
	}
	if (good && !over && max > 0) {
		l = xmalloc(sizeof(*l));
		good = str_fmt(key, sizeof(key), "live:%s", addr) == 0 &&
		    live_get(t, key, l) == 0;
		if (good) {
			live_prune(l);
			if (l->n >= max || l->n >= THR_LIVE_MAX) {
				over = 1;
				*reason = "conn_limit";
			} else {
				l->pid[l->n] = (uint32_t)pid;
				l->start[l->n++] = proc_start(pid);
			}
			good = live_put(t, key, l) == 0;
		}
		free(l);
	}
	if (good && one_in(THR_SWEEP_ONE_IN))
		good = sweep(t) == 0;
	end_txn(&t, good);
	if (!good) {
		*reason = NULL;
		return 0;
	}
	if (over)
		log_info("event=throttled ip=%s reason=%s", addr, *reason);
	return over;
}

void
thr_conn_leave(const char *ip, pid_t pid)
{
	char addr[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 8];
	char key[THR_KEY_MAX];
	struct live *l;
	struct thr *t;
	uint32_t i, j = 0;
	int good;

	if (conf.max_conn_per_ip == 0 || thr_exempt(ip) ||
	    netaddr_keys(ip, addr, sizeof(addr), net, sizeof(net)) == -1 ||
	    (t = open_txn()) == NULL)
		return;
	l = xmalloc(sizeof(*l));
	good = str_fmt(key, sizeof(key), "live:%s", addr) == 0 &&
	    live_get(t, key, l) == 0;
	if (good) {
		for (i = 0; i < l->n; i++)
			if (l->pid[i] != (uint32_t)pid) {
				l->pid[j] = l->pid[i];
				l->start[j++] = l->start[i];
			}
		l->n = j;
		live_prune(l);
		good = live_put(t, key, l) == 0;
	}
	free(l);
	end_txn(&t, good);
}
