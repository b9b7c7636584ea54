/*
 * fuzz_aliases.c - libmail/common/aliases.c alias_parse() on any
 * aliases(5) text.
 * Invariants checked in the callback for every entry it reports: the name
 * is 1..64 characters of [a-z0-9._+-] (lower case), the targets are a
 * non-empty comma-separated list of at most ALIAS_TARGETS_MAX names or
 * addresses (no file, pipe, :include: or quote): a local part of
 * [a-z0-9._+-], then optionally '@' and a domain of [a-z0-9.-] or an
 * address literal "[...]" of [a-z0-9.:]; the line number is within the
 * input. On failure the
 * error message is terminated and starts "line N:".
 */
#include <ctype.h>

#include "aliases.h"
#include "conf.h"
#include "fuzz.h"
#include "params.h"

struct ctx {
	int	maxline;
	int	entries;
};

static int
cb(const char *name, const char *targets, int lineno, void *arg)
{
	struct ctx *c = arg;
	const char *p, *t;
	size_t n = strlen(name);
	int count = 1;

	FUZZ_CHECK(n >= 1 && n <= SMTP_LOCAL_MAX);
	for (p = name; *p != '\0'; p++)
		FUZZ_CHECK((isalnum((unsigned char)*p) && !isupper((unsigned char)*p)) ||
		    strchr("._+-", *p) != NULL);
	FUZZ_CHECK(lineno >= 1 && lineno <= c->maxline);
	FUZZ_CHECK(*targets != '\0' && *targets != ',');
	FUZZ_CHECK(targets[strlen(targets) - 1] != ',');
	for (t = targets; *t != '\0'; t++) {
		FUZZ_CHECK(isalnum((unsigned char)*t) || strchr("._+-@,[]:", *t) != NULL);
		FUZZ_CHECK(!isupper((unsigned char)*t));
		if (*t == ',') {
			count++;
			FUZZ_CHECK(t[1] != ',' && t[1] != '\0');
		}
	}
	for (t = targets; t != NULL; t = strchr(t, ',')) {
		const char *e, *at;

		if (*t == ',')
			t++;
		FUZZ_CHECK(*t != '|' && *t != '/' && *t != ':' && *t != '"');
		e = strchr(t, ',');
		n = e ? (size_t)(e - t) : strlen(t);
		FUZZ_CHECK(n >= 1 && n <= SMTP_PATH_MAX - 2);
		at = NULL;
		for (p = t; p < t + n; p++)
			if (*p == '@')
				at = p;
		for (p = t; p < (at ? at : t + n); p++)
			FUZZ_CHECK(isalnum((unsigned char)*p) || strchr("._+-", *p) != NULL);
		if (at != NULL) {
			const char *d = at + 1, *end = t + n;

			FUZZ_CHECK(at > t && d < end);
			if (*d == '[') {
				FUZZ_CHECK(end - d >= 3 && end[-1] == ']');
				for (p = d + 1; p < end - 1; p++)
					FUZZ_CHECK(isalnum((unsigned char)*p) || *p == '.' || *p == ':');
			} else
				for (p = d; p < end; p++)
					FUZZ_CHECK(isalnum((unsigned char)*p) || *p == '.' || *p == '-');
		}
	}
	FUZZ_CHECK(count <= ALIAS_TARGETS_MAX);
	c->entries++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct ctx c = { 1, 0 };
	char err[200], *text;
	size_t i;
	int r;

	if (!init) {
		char e[128];

		conf_defaults();
		if (conf_option("hostname=mx.test", e, sizeof(e)) == -1 ||
		    conf_option("local_domains=localhost example.test", e, sizeof(e)) == -1)
			abort();
		init = 1;
	}
	for (i = 0; i < size; i++)
		if (data[i] == '\n')
			c.maxline++;
	/*
	 * Exactly len bytes, no terminator: alias_parse takes (text, len).
	 * BUG-3 (report): a continuation line at the start calls strspn() on
	 * the unterminated line; alias_compile's buffer happens to carry a NUL
	 * after the text, so with FUZZ_KNOWN_BUG_ALIAS_STRSPN the copy does too.
	 */
#ifdef FUZZ_KNOWN_BUG_ALIAS_STRSPN
	text = fuzz_cstr(data, size);
#else
	text = malloc(size ? size : 1);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
#endif
	memset(err, 'X', sizeof(err));
	r = alias_parse(text, size, cb, &c, err, sizeof(err));
	free(text);
	FUZZ_CHECK(r == 0 || r == -1);
	if (r == -1) {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FUZZ_CHECK(strncmp(err, "line ", 5) == 0);
	}
	return 0;
}
