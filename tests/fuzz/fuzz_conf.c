/*
 * fuzz_conf.c - libmail/common/conf.c: conf_load() on any file content
 * (written to a memfd and opened as /proc/self/fd/N, no refactoring), and
 * conf_option() on the first line as a "-o key=value". Invariants: no crash, no leak
 * (ASan), an error message is terminated and mentions the path or "-o";
 * after a successful load every string key is printable, host names hold
 * only name characters, numbers are inside their documented ranges, and
 * every choice key holds one of its values.
 */
#include <ctype.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "tls_server.h"

static int mfd = -1;
static char path[64];

static void
check_str(const char *s)
{
	FUZZ_CHECK(s != NULL);
	for (; *s != '\0'; s++)
		FUZZ_CHECK(isprint((unsigned char)*s));
}

static void
check_conf(void)
{
	const char *c;

	check_str(conf.hostname);
	check_str(conf.local_domains);
	check_str(conf.mailbox);
	check_str(conf.unpriv_user);
	check_str(conf.chroot_dir);
	check_str(conf.pam_service);
	check_str(conf.aliases);
	check_str(conf.tls_cert);
	check_str(conf.tls_key);
	for (c = conf.hostname; *c != '\0'; c++)
		FUZZ_CHECK(isalnum((unsigned char)*c) || *c == '.' || *c == '-');
	FUZZ_CHECK(conf.max_message_size >= 1024 && conf.max_message_size <= (1ull << 32));
	FUZZ_CHECK(conf.max_recipients >= 1 && conf.max_recipients <= 10000);
	/* durations in ms; whole seconds where the users count in seconds */
	FUZZ_CHECK(conf.smtp_timeout >= 1000 && conf.smtp_timeout <= 3600000 &&
	    conf.smtp_timeout % 1000 == 0);
	FUZZ_CHECK(conf.pop3_timeout >= 1000 && conf.pop3_timeout <= 3600000 &&
	    conf.pop3_timeout % 1000 == 0);
	FUZZ_CHECK(conf.queue_retry_min >= 1000 && conf.queue_retry_min % 1000 == 0);
	FUZZ_CHECK(conf.greylist_expire >= 3600000);
	FUZZ_CHECK(conf.max_errors >= 1 && conf.max_errors <= 1000);
	FUZZ_CHECK(conf.auth_fail_delay <= 60000);
	FUZZ_CHECK(conf.vrfy == 0 || conf.vrfy == 1);
	FUZZ_CHECK(conf.tls >= TLS_AUTO && conf.tls <= TLS_IMPLICIT);
	FUZZ_CHECK(conf.tls_min_version >= TLS_V1_0 && conf.tls_min_version <= TLS_V1_3);
	FUZZ_CHECK(conf.role == ROLE_MX || conf.role == ROLE_SUBMISSION);
	FUZZ_CHECK(conf.dnsbl_action == DNSBL_REJECT || conf.dnsbl_action == DNSBL_LOG);
	FUZZ_CHECK(conf.relay_tls >= RELAY_TLS_MAY && conf.relay_tls <= RELAY_TLS_VERIFY);
	FUZZ_CHECK(conf.expn == 0 || conf.expn == 1);
	/* conf_is_local_domain walks the list: must terminate */
	(void)conf_is_local_domain("example.test");
	(void)conf_is_local_domain("");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *line;
	size_t n;
	int r;

	if (mfd == -1) {
		if ((mfd = memfd_create("fuzz-conf", MFD_CLOEXEC)) == -1)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
		conf_defaults();
	}
	if (ftruncate(mfd, 0) == -1 || pwrite(mfd, data, size, 0) != (ssize_t)size)
		abort();
	memset(err, 'X', sizeof(err));
	r = conf_load(path, 0, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -1);
	if (r == -1) {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0);
	}
	check_conf();

	/* The first line as a command-line option. */
	n = 0;
	while (n < size && data[n] != '\n')
		n++;
	line = fuzz_cstr(data, n);
	memset(err, 'X', sizeof(err));
	r = conf_option(line, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -1);
	if (r == -1)
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	free(line);
	check_conf();
	/* Back to the defaults now and then, so state does not pile up. */
	if (size > 0 && data[0] == '#')
		conf_defaults();
	return 0;
}
