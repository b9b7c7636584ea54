/*
 * test_dnsbl.c - the pure parts of libmail/common/dnsbl.c, through
 * dnsbl.h: the name queried for an address (RFC 5782 section 2.1 for IPv4,
 * 2.4 for IPv6; IPv4-mapped IPv6 as IPv4), refusals, and which clients are
 * never looked up. No query is sent: the lookups themselves are shown by
 * tests/e2e/abuse_dnsbl.sh against a private name server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"
#include "dnsbl.h"
#include "log.h"
#include "scratch.h"


static void
name_is(const char *ip, const char *zone, const char *want)
{
	char out[256];
	int r;

	out[0] = '\0';
	r = dnsbl_name(ip, zone, out, sizeof(out));
	CHECKF(r == 0 && strcmp(out, want) == 0, "%s in \"%s\": %s%s%s", ip,
	    zone, want, r == 0 && strcmp(out, want) != 0 ? ", got " : "",
	    r == 0 && strcmp(out, want) != 0 ? out : "");
}

int
main(void)
{
	char out[256], zone[20];

	log_open("test_dnsbl", 1);
	conf_defaults();

	/* RFC 5782 2.1 and 2.4, with its own examples */
	name_is("192.0.2.99", "dnsbl.example.net", "99.2.0.192.dnsbl.example.net");
	name_is("192.0.2.99", "", "99.2.0.192");
	name_is("2001:db8:1:2:3:4:567:89ab", "ugly.example.com",
	    "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"
	    ".ugly.example.com");
	name_is("2001:DB8::1", "",
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
	name_is("::ffff:192.0.2.99", "z.test", "99.2.0.192.z.test");
	name_is("10.0.0.1", "z.test", "1.0.0.10.z.test");
	CHECK(dnsbl_name("pipe", "z.test", out, sizeof(out)) == -1,
	    "not an address (pipe): no name");
	CHECK(dnsbl_name("192.0.2.256", "z.test", out, sizeof(out)) == -1,
	    "a bad IPv4 address: no name");
	CHECK(dnsbl_name("2001:db8::1::2", "z.test", out, sizeof(out)) == -1,
	    "a bad IPv6 address: no name");
	CHECK(dnsbl_name("192.0.2.99", "z.test", zone, 10) == -1,
	    "a name longer than the buffer: refused");
	CHECK(dnsbl_name("2001:db8::1", "", out, 64) == 0 &&
	    strlen(out) == 63 && dnsbl_name("2001:db8::1", "", out, 63) == -1,
	    "IPv6: the 63 characters fit in 64 bytes, not in 63");

	CHECK(dnsbl_exempt("192.0.2.99"), "no dnsbl_zones: nobody is looked up");
	set_conf("dnsbl_zones=zen.example, other.example");
	CHECK(!dnsbl_exempt("192.0.2.99"), "with zones: a client is looked up");
	CHECK(dnsbl_exempt("127.0.0.1") && dnsbl_exempt("::1"),
	    "loopback: exempt by default (dnsbl_exempt)");
	CHECK(dnsbl_exempt("pipe"), "no peer (pipe): exempt");
	CHECK(!dnsbl_exempt("127.0.0.1x"), "another non-address: not exempt");
	set_conf("dnsbl_exempt=192.0.2.0/24");
	CHECK(dnsbl_exempt("192.0.2.99") && !dnsbl_exempt("127.0.0.1"),
	    "dnsbl_exempt replaces the default");
	CHECK(dnsbl_check("192.0.2.99") == 0,
	    "an exempt client: not listed, nothing asked");
	CHECK(dnsbl_zone(1, zone, sizeof(zone)) == 0 &&
	    strcmp(zone, "zen.example") == 0 &&
	    dnsbl_zone(2, zone, sizeof(zone)) == 0 &&
	    strcmp(zone, "other.example") == 0,
	    "dnsbl_zone: a zone number back to its name, in order");
	CHECK(dnsbl_zone(3, zone, sizeof(zone)) == -1 &&
	    dnsbl_zone(0, zone, sizeof(zone)) == -1,
	    "dnsbl_zone: no zone 0, none past the last");
	set_conf("dnsbl_zones=a-zone-name-too-long-for-20.example b.test");
	CHECK(dnsbl_zone(1, zone, sizeof(zone)) == 0 && zone[0] == '\0' &&
	    dnsbl_zone(2, zone, sizeof(zone)) == 0 &&
	    strcmp(zone, "b.test") == 0,
	    "dnsbl_zone: a name too long for the buffer is \"\", the next "
	    "keeps its number");
	return CHECK_DONE();
}
