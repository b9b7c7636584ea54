/*
 * tls_server.c - the server side of TLS for smtpd and pop3d: the one server
 * context (mode, protocol minimum, ciphers, certificate chain and key),
 * built as root before the privilege drop, and the handshake that turns a
 * session's io into TLS (STARTTLS, STLS, or implicit TLS).
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "tls_int.h"
#include "tls_server.h"
#include "util.h"

_Static_assert(TLS_V1_0 == TLS1_VERSION && TLS_V1_1 == TLS1_1_VERSION &&
    TLS_V1_2 == TLS1_2_VERSION && TLS_V1_3 == TLS1_3_VERSION,
    "tls_server.h's versions are OpenSSL's");

static SSL_CTX	*ctx;			/* the one server context */
static int	 mode = TLS_NONE;

int
tls_server_init(const struct tls_server_conf *tc, char *err, size_t errsize)
{
	const char *key = tc->key[0] != '\0' ? tc->key : tc->cert;

	switch (tc->mode) {
	case TLS_AUTO:
		mode = tc->cert[0] != '\0' ? TLS_STARTTLS : TLS_NONE;
		break;
	case TLS_NONE:
	case TLS_STARTTLS:
	case TLS_IMPLICIT:
		mode = tc->mode;
		break;
	default:
		str_fmt(err, errsize, "tls: unknown mode %d", tc->mode);
		return -1;
	}
	if (tc->min_version < TLS_V1_0 || tc->min_version > TLS_V1_3) {
		str_fmt(err, errsize, "tls_min_version: unknown version %#x",
		    (unsigned)tc->min_version);
		return -1;
	}
	if (mode == TLS_NONE)
		return 0;
	if (tc->cert[0] == '\0') {
		str_fmt(err, errsize, "tls = %s needs tls_cert",
		    mode == TLS_IMPLICIT ? "implicit" : "starttls");
		goto fail;
	}
	if ((ctx = tls_ctx_new(TLS_server_method(), tc->min_version, err,
	    errsize)) == NULL)
		goto fail;
	SSL_CTX_set_num_tickets(ctx, 0);	/* no TLS 1.3 tickets */
	SSL_CTX_set_dh_auto(ctx, 1);
	if (SSL_CTX_set_cipher_list(ctx, tc->ciphers) != 1) {
		str_fmt(err, errsize, "tls_ciphers: no usable cipher in \"%.60s\"",
		    tc->ciphers);
		goto fail;
	}
	if (SSL_CTX_set_ciphersuites(ctx, tc->ciphersuites) != 1) {
		str_fmt(err, errsize, "tls_ciphersuites: bad list \"%.60s\"",
		    tc->ciphersuites);
		goto fail;
	}
	if (tls_readable("tls_cert", tc->cert, err, errsize) == -1)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, tc->cert) != 1) {
		str_fmt(err, errsize, "tls_cert %s: not a PEM certificate chain: %s",
		    tc->cert, tls_reason());
		goto fail;
	}
	if (tls_readable("tls_key", key, err, errsize) == -1)
		goto fail;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_last_error();

		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
		    ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH))
			str_fmt(err, errsize, "tls_key %s does not match the "
			    "certificate in tls_cert %s", key, tc->cert);
		else
			str_fmt(err, errsize, "tls_key %s: not a PEM private key: %s", key,
		    tls_reason());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		str_fmt(err, errsize, "tls_key %s does not match the certificate "
		    "in tls_cert %s", key, tc->cert);
		goto fail;
	}
	ERR_clear_error();
	return 0;
fail:
	tls_server_free();
	mode = TLS_NONE;
	ERR_clear_error();
	return -1;
}

int
tls_mode(void)
{
	return mode;
}

void
tls_server_free(void)
{
	SSL_CTX_free(ctx);
	ctx = NULL;
}

int
tls_accept(struct io *io, unsigned timeout_s)
{
	struct tls_conn *c;
	const char *why;

	if (ctx == NULL || io->tr != NULL) {
		log_warnx("tls handshake: TLS not configured");
		return -1;
	}
	if ((c = tls_conn_new(ctx, io)) == NULL)
		return -1;
	if (tls_handshake(c, io, 0, timeout_s, &why) == -1) {
		log_info("tls handshake failed reason=\"%s\"", pr(why));
		tls_conn_free(&c);
		ERR_clear_error();
		return -1;
	}
	io->tr = &tls_transport;
	io->trctx = c;
	log_info("tls version=%s cipher=%s", SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl));
	return 0;
}
