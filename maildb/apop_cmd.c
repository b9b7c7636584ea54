/*
 * apop_cmd.c - `maildb apop set USER | rm USER | ls`: the APOP secrets in
 * apop_db (see apop.h for the file and how it is replaced). `set` prompts
 * twice without echo on a terminal, or reads one line from stdin. `ls`
 * prints account names only; no command ever prints a secret.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "apop.h"
#include "common.h"
#include "conf.h"
#include "maildb.h"
#include "user.h"
#include "util.h"

static void
apop_usage(void)
{
	fprintf(stderr, "usage: maildb apop set USER   (secret from the terminal or stdin)\n"
	    "       maildb apop rm USER\n"
	    "       maildb apop ls\n");
	exit(2);
}

/*
 * Reads one line from fd 0 into buf (at most APOP_SECRET_MAX bytes without
 * the line end; a final line without one is accepted). Returns the length,
 * or -1 with a message printed.
 */
static ssize_t
read_line(char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		if ((r = read(0, &c, 1)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "maildb: reading the secret: %s\n", strerror(errno));
			return -1;
		}
		if (r == 0 || c == '\n')
			break;
		if (n + 1 >= size) {
			fprintf(stderr, "maildb: secret longer than %d bytes\n",
			    APOP_SECRET_MAX);
			return -1;
		}
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Prompt on stderr, read with echo off; the terminal is restored. */
static ssize_t
read_noecho(const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	sigset_t block, saved;
	ssize_t n;

	if (tcgetattr(0, &old) == -1) {
		fprintf(stderr, "maildb: tcgetattr: %s\n", strerror(errno));
		return -1;
	}
	/* ^C or ^Z while echo is off would leave the terminal silent */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGTSTP);
	sigprocmask(SIG_BLOCK, &block, &saved);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	/*
	 * Echo goes off before the prompt appears: typing after the prompt
	 * must neither echo nor be flushed away by the mode change.
	 */
	if (tcsetattr(0, TCSAFLUSH, &quiet) == -1) {
		fprintf(stderr, "maildb: tcsetattr: %s\n", strerror(errno));
		sigprocmask(SIG_SETMASK, &saved, NULL);
		return -1;
	}
	fputs(prompt, stderr);
	fflush(stderr);
	n = read_line(buf, size);
	(void)tcsetattr(0, TCSANOW, &old);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	fputc('\n', stderr);
	return n;
}

/* The secret: bytes without NUL, CR or LF, 1..APOP_SECRET_MAX. */
static ssize_t
get_secret(char *buf, size_t size)
{
	char again[APOP_SECRET_MAX + 2];
	ssize_t n, m;

	if (!isatty(0))
		n = read_line(buf, size);
	else {
		n = read_noecho("APOP secret: ", buf, size);
		if (n > 0) {
			m = read_noecho("Again: ", again, sizeof(again));
			if (m != n || memcmp(buf, again, (size_t)n) != 0) {
				if (m >= 0)
					fprintf(stderr, "maildb: the secrets differ\n");
				n = -1;
			}
			explicit_bzero(again, sizeof(again));
		}
	}
	if (n == 0)
		fprintf(stderr, "maildb: empty secret refused\n");
	else if (n > 0 && memchr(buf, '\0', (size_t)n) != NULL) {
		fprintf(stderr, "maildb: NUL byte in secret refused\n");
		n = -1;
	}
	return n <= 0 ? -1 : n;
}

static int
apop_set(const char *user)
{
	char secret[APOP_SECRET_MAX + 2], err[512];
	struct mailuser u;
	ssize_t n;
	int r;

	switch (user_lookup(user, &u)) {
	case 0:
		break;
	case 1:
		fprintf(stderr, "maildb: %s: no such account\n", user);
		return 1;
	default:
		fprintf(stderr, "maildb: %s: account lookup failed\n", user);
		return 1;
	}
	if ((n = get_secret(secret, sizeof(secret))) == -1)
		return 1;
	r = apop_put(conf.apop_db, user, secret, (size_t)n, err, sizeof(err));
	explicit_bzero(secret, sizeof(secret));
	if (r == -1) {
		fprintf(stderr, "maildb: %s\n", err);
		return 1;
	}
	printf("%s: APOP secret set for %s\n", conf.apop_db, user);
	return 0;
}

static int
apop_rm(const char *user)
{
	char err[512];
	int r;

	r = apop_put(conf.apop_db, user, NULL, 0, err, sizeof(err));
	if (r == -1) {
		fprintf(stderr, "maildb: %s\n", err);
		return 1;
	}
	if (r == 1) {
		fprintf(stderr, "maildb: %s: no APOP secret for %s\n", conf.apop_db,
		    user);
		return 1;
	}
	printf("%s: APOP secret removed for %s\n", conf.apop_db, user);
	return 0;
}

struct names {
	char	**v;
	size_t	  n;
};

static void
add_name(const char *name, void *arg)
{
	struct names *l = arg;

	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(name);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
apop_ls(void)
{
	struct names l = { NULL, 0 };
	char err[512];
	size_t i;
	int r;

	r = apop_list(conf.apop_db, add_name, &l, err, sizeof(err));
	if (r == -1)
		fprintf(stderr, "maildb: %s\n", err);
	else {
		qsort(l.v, l.n, sizeof(*l.v), cmp_name);
		for (i = 0; i < l.n; i++)
			printf("%s\n", l.v[i]);
	}
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return r == -1 ? 1 : 0;
}

int
maildb_apop(const struct maildb_cmd *c, int argc, char **argv,
    const struct maildb_args *a)
{
	(void)c, (void)a;
	if (argc == 2 && strcmp(argv[1], "ls") == 0)
		return apop_ls();
	if (argc != 3)
		apop_usage();
	if (strlen(argv[2]) == 0 || strlen(argv[2]) > USER_NAME_MAX) {
		fprintf(stderr, "maildb: bad account name\n");
		return 2;
	}
	if (strcmp(argv[1], "set") == 0) {
		if (!user_name_ok(argv[2])) {
			fprintf(stderr, "maildb: %s: bad account name\n", argv[2]);
			return 2;
		}
		return apop_set(argv[2]);
	}
	if (strcmp(argv[1], "rm") == 0)
		return apop_rm(argv[2]);
	apop_usage();
	return 2;
}
