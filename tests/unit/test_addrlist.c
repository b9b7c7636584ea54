/*
 * test_addrlist.c - netaddr_in(), the address/prefix lists behind
 * trusted_networks, throttle_exempt, greylist_exempt and dnsbl_exempt:
 * plain addresses, prefixes, both families, IPv4-mapped IPv6, bad entries.
 */
#include <stdio.h>

#include "check.h"
#include "conf.h"
#include "netaddr.h"

int
main(void)
{
	conf_defaults();
	CHECK(netaddr_in("127.0.0.1", "127.0.0.1 ::1", "t") == 1,
	    "a plain IPv4 address matches itself");
	CHECK(netaddr_in("127.0.0.2", "127.0.0.1 ::1", "t") == 0,
	    "a plain IPv4 address is not a /24");
	CHECK(netaddr_in("::1", "127.0.0.1 ::1", "t") == 1,
	    "a plain IPv6 address matches itself");
	CHECK(netaddr_in("::2", "127.0.0.1,::1", "t") == 0,
	    "comma-separated, other IPv6 address: no");
	CHECK(netaddr_in("127.9.8.7", "10.0.0.0/8 127.0.0.0/8", "t") == 1,
	    "IPv4 prefix");
	CHECK(netaddr_in("128.0.0.1", "127.0.0.0/8", "t") == 0,
	    "outside the IPv4 prefix");
	CHECK(netaddr_in("2001:db8::5", "2001:db8::/32", "t") == 1,
	    "IPv6 prefix");
	CHECK(netaddr_in("2001:db9::5", "2001:db8::/32", "t") == 0,
	    "outside the IPv6 prefix");
	CHECK(netaddr_in("::ffff:127.0.0.1", "127.0.0.1", "t") == 1,
	    "IPv4-mapped IPv6 counts as IPv4");
	CHECK(netaddr_in("192.0.2.1", "192.0.2.0/33 bogus", "t") == 0,
	    "a /33 and a non-address are ignored");
	CHECK(netaddr_in("192.0.2.1", "192.0.2.0/33 192.0.2.1", "t") == 1,
	    "a bad entry does not hide the good ones after it");
	CHECK(netaddr_in("192.0.2.1", "", "t") == 0, "empty list: nobody");
	CHECK(netaddr_in("pipe", "", "t") == 0 &&
	    netaddr_in("pipe", "127.0.0.0/8 ::1", "t") == 0,
	    "not an address (pipe): in no list (fail closed)");
	CHECK(netaddr_in("", "0.0.0.0/0 ::/0", "t") == 0 &&
	    netaddr_in("127.0.0.1x", "0.0.0.0/0 ::/0", "t") == 0 &&
	    netaddr_in("10.0.0.0/8", "0.0.0.0/0", "t") == 0,
	    "unparsable (empty, trailing junk, a prefix): not even in 0/0");
	CHECK(netaddr_in("10.1.2.3", "0.0.0.0/0", "t") == 1 &&
	    netaddr_in("2001:db8::1", "::/0", "t") == 1,
	    "0/0 holds every address of its family");
	return CHECK_DONE();
}
