#!/usr/bin/python3
"""The shared harness's POP3 clients (pop3bench.py, pop3load.py) with two
options the harness lacks, for bench/run workload 2:

  pop3wrap.py [--peers-dir DIR] [--tls] [--users U1,U2,...] bench <pop3bench.py arguments>
  pop3wrap.py [--peers-dir DIR] [--tls] [--users U1,U2,...] load  <pop3load.py arguments>

--tls    every connection is TLS from the first byte (POP3S, RFC 8314): the
         harness's pop3load.RawPop3 is replaced by a subclass whose socket is
         wrapped before the greeting is read (a full handshake per session, no
         resumption, the certificate not verified: the sitting's self-signed one).
--users  the concurrent client processes of `sessions` log in as different
         users, worker i as U(i mod n) (same password): inetmail keeps the
         RFC 1939 exclusive maildrop lock for the whole session, so 4
         concurrent sessions of ONE user get -ERR [IN-USE].

Nothing is copied from the harness; its modules are imported from DIR
(default /work/shared/peers) and patched in this process only.  The
multiprocessing workers of pop3load.run_sessions are forked, so they inherit
the patches.
"""
import multiprocessing as mp
import os
import socket
import ssl
import sys


def main():
    argv = sys.argv[1:]
    peers_dir, tls, users = "/work/shared/peers", False, None
    while argv and argv[0].startswith("--"):
        if argv[0] == "--peers-dir":
            peers_dir, argv = argv[1], argv[2:]
        elif argv[0] == "--tls":
            tls, argv = True, argv[1:]
        elif argv[0] == "--users":
            users, argv = argv[1].split(","), argv[2:]
        else:
            sys.exit("pop3wrap.py: unknown option " + argv[0])
    if not argv or argv[0] not in ("bench", "load"):
        sys.exit("usage: pop3wrap.py [--peers-dir DIR] [--tls] [--users U1,U2] bench|load ARGS")
    sys.path.insert(0, peers_dir)
    import pop3bench  # noqa: E402
    import pop3load  # noqa: E402

    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        class TlsRawPop3(pop3load.RawPop3):
            def __init__(self, host, port, timeout=120):
                raw = socket.create_connection((host, port), timeout)
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.s = ctx.wrap_socket(raw, server_hostname=None)
                self.buf = b""
                self.nbytes = 0
                self.greeting = self._line()
                if not self.greeting.startswith(b"+OK"):
                    raise pop3load.ProtoError(self.greeting)

        pop3load.RawPop3 = TlsRawPop3

    if users:
        counter = mp.get_context("fork").Value("i", 0)
        orig_worker = pop3load._worker

        def worker(args, n, ev, q):      # runs in the forked client process
            with counter.get_lock():
                i = counter.value
                counter.value += 1
            args.user = users[i % len(users)]
            orig_worker(args, n, ev, q)

        pop3load._worker = worker

    if argv[0] == "load":
        sys.argv = [os.path.join(peers_dir, "pop3load.py")] + argv[1:]
        pop3load.main()
    else:
        sys.argv = [os.path.join(peers_dir, "pop3bench.py")] + argv[1:]
        pop3bench.main()


if __name__ == "__main__":
    main()
