#!/usr/bin/python3
"""Summarize one bench/run sitting: the table of every workload with each
figure as a ratio to the best peer, the physical limits next to it, the
per-message breakdown, the machine, the date and the commands.

  summarize.py RESULTS_DIR                 writes RESULTS_DIR/results.json and RESULTS_DIR/RESULTS.md
  summarize.py --publish RESULTS_DIR REPO  also: REPO/bench/results.json, and the generated
                                           section of REPO/bench/RESULTS.md (between the
                                           markers; the hand-written text around it stays)

Medians over runs/reps; [min-max] in the JSON.  Server names: the cgroups
inetmailsmtp / inetmailpop3 are "inetmail".
"""
import json
import os
import statistics
import sys

BEGIN = "<!-- bench/run: generated section begin (bench/lib/summarize.py rewrites it) -->"
END = "<!-- bench/run: generated section end -->"
SERVERS = ["inetmail", "postfix", "dovecot", "popa3d"]
DISPLAY = {"inetmail": "inetmail", "postfix": "Postfix", "dovecot": "Dovecot", "popa3d": "popa3d"}


def load(R, name):
    p = os.path.join(R, name)
    if not os.path.exists(p):
        return []
    out = []
    for line in open(p):
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def server(name):
    return "inetmail" if name.startswith("inetmail") else name


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def kb(s):
    try:
        return int(str(s).split()[0])
    except (ValueError, IndexError):
        return None


class Table:
    def __init__(self):
        self.rows = []

    def add(self, wl, label, metric, unit, better, samples, nd=1, note=""):
        """samples: {server: [values]} (a missing server = not measured; None = n/a)."""
        vals, rng, n = {}, {}, {}
        for s, xs in samples.items():
            if xs is None:
                vals[s] = None
                continue
            xs = [x for x in xs if x is not None]
            if not xs:
                continue
            vals[s] = med(xs)
            rng[s] = [min(xs), max(xs)]
            n[s] = len(xs)
        peers = {s: v for s, v in vals.items() if s != "inetmail" and v is not None}
        best = None
        if peers:
            pick = max if better == "higher" else min
            best = pick(peers, key=lambda s: peers[s])
        im = vals.get("inetmail")
        ratio = (im / peers[best]) if (im is not None and best and peers[best]) else None
        ahead = None
        if ratio is not None:
            ahead = ratio >= 1 if better == "higher" else ratio <= 1
        self.rows.append({"workload": wl, "row": label, "metric": metric, "unit": unit, "better": better,
                          "median": vals, "min_max": rng, "n": n, "best_peer": best,
                          "best_peer_value": peers.get(best) if best else None,
                          "ratio_inetmail_to_best_peer": ratio, "inetmail_ahead": ahead,
                          "digits": nd, "note": note})


def fmt(v, nd):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        nd = 0
    return f"{v:,.{nd}f}"


def build(R):
    env = {}
    for line in open(os.path.join(R, "env.txt")):
        k, _, v = line.partition(":")
        env[k.strip()] = v.strip()
    command = open(os.path.join(R, "command.txt")).read().strip() if os.path.exists(os.path.join(R, "command.txt")) else ""
    T = Table()

    # ---------------------------------------------------------------- 1. SMTP
    smtp = load(R, "smtp.jsonl")
    wl_names = {"single": "1 session, {m} msgs", "conc10": "10 concurrent, new connection per msg, {m} msgs"}
    smtp_cmds = {}
    for wl in ("single", "conc10"):
        rs = [r for r in smtp if r["workload"] == wl]
        if not rs:
            continue
        m = rs[0]["msgs"]
        by = {}
        for r in rs:
            by.setdefault(server(r["peer"]), []).append(r)
            smtp_cmds[wl] = "smtp-source " + r["cmd"].rsplit(" ", 1)[0] + " 127.0.0.1:PORT"
        ok = {s: [r for r in v if r.get("ok")] for s, v in by.items()}
        label = wl_names[wl].format(m=m)
        T.add("1 SMTP delivery 4 KiB", label, "msgs/s", "msgs/s", "higher",
              {s: [r["msgs_per_s"] for r in v] for s, v in ok.items()})
        T.add("1 SMTP delivery 4 KiB", label, "server CPU per 1000 msgs", "s", "lower",
              {s: [1000 * r["server_cpu_s"] / r["msgs"] for r in v] for s, v in ok.items()}, nd=2)
    smtp_bad = [r for r in smtp if not r.get("ok")]

    # ---------------------------------------------------------------- 2. POP3 sessions
    pop = load(R, "pop3.jsonl")
    sess = [r for r in pop if r.get("mode") == "sessions"]
    for tag in ("plain hash=sha512", "tls hash=sha512", "plain hash=yescrypt"):
        for conc in (1, 4):
            rs = [r for r in sess if r.get("tag") == tag and r.get("conc") == conc]
            if not rs:
                continue
            by = {}
            for r in rs:
                by.setdefault(server(r["peer"]), []).append(r)
            if tag.startswith("tls"):
                by.setdefault("popa3d", None)   # no TLS in popa3d
            tr, h = tag.split(" hash=")
            label = (f"{'sequential' if conc == 1 else f'{conc} concurrent'}, {tr.upper() if tr == 'tls' else tr}, "
                     f"{h} hash, {rs[0]['per_client'] * conc} sessions")
            T.add("2 POP3 session rate", label, "sessions/s", "sessions/s", "higher",
                  {s: (None if v is None else [r["sessions_per_s"] for r in v if not r.get("errors")])
                   for s, v in by.items()})
            T.add("2 POP3 session rate", label, "server CPU per session", "ms", "lower",
                  {s: (None if v is None else [r["server_cpu_ms_per_session"] for r in v if not r.get("errors")])
                   for s, v in by.items()}, nd=2)
    sess_err = [r for r in sess if r.get("errors")]

    # ---------------------------------------------------------------- 3. big mailbox
    lat = [r for r in pop if r.get("mode") == "latency"]
    first = load(R, "pop3-first.jsonl")
    tags = sorted({r["tag"] for r in lat if r.get("tag", "").startswith("B")},
                  key=lambda t: int(t[1:].split("x")[0]))
    for tag in tags:
        n = int(tag[1:].split("x")[0])
        wl = "3 POP3 big mailbox (2 KiB msgs)"
        fr = [r for r in first if r.get("tag") == tag]
        if fr:
            T.add(wl, f"{n:,} msgs: first login+STAT+QUIT after the mailbox was written (index build; 1 sample)",
                  "time", "ms", "lower",
                  {server(r["peer"]): [r["total_ms"]] for r in fr}, note="one sample")
        for cmd, what in (("STAT", "login+STAT+QUIT"), ("UIDL", "login+UIDL+QUIT"), ("LIST", "login+LIST+QUIT")):
            rs = [r for r in lat if r.get("tag") == tag and r.get("cmd") == cmd]
            by = {}
            for r in rs:
                by.setdefault(server(r["peer"]), []).append(r["total_ms"])
            T.add(wl, f"{n:,} msgs: {what}", "time", "ms", "lower", by)

    # ---------------------------------------------------------------- 4. RETR
    retr = [r for r in pop if r.get("mode") == "retr"]
    for tag in sorted({r["tag"] for r in retr}):
        rs = [r for r in retr if r["tag"] == tag]
        by = {}
        for r in rs:
            by.setdefault(server(r["peer"]), []).append(r["MBps"])
        T.add("4 POP3 RETR throughput", f"RETR 1..{rs[0]['msgs']} of 100 KiB, one session", "throughput", "MB/s",
              "higher", by)

    # ---------------------------------------------------------------- 5. memory
    rss = load(R, "rss.jsonl")
    launchers = {"inetd", "unshare", "tcpserver"}
    for proto in ("smtp", "pop3"):
        rs = [r for r in rss if r.get("proto") == proto]
        if not rs:
            continue
        tree_pss, tree_hwm, all_pss = {}, {}, {}
        for r in rs:
            s = server(r["peer"])
            h = r.get("holders") or []
            if s in ("inetmail", "popa3d"):
                # per-connection tree: every process of the server but the launcher
                tree = [p for p in r.get("peer_procs", []) if p.get("Name") not in launchers]
            else:
                tree = h      # the session process; the daemons it uses are in "all processes"
            tree_pss.setdefault(s, []).append(sum(kb(p.get("Pss")) or 0 for p in tree) / 1024)
            tree_hwm.setdefault(s, []).append(sum(kb(p.get("VmHWM")) or 0 for p in tree) / 1024)
            all_pss.setdefault(s, []).append(r.get("peer_total_pss_kB", 0) / 1024)
        P = proto.upper()
        wl = "5 memory of one session"
        T.add(wl, f"{P}: peak RSS (VmHWM) of the session's process tree", "sum of VmHWM", "MB", "lower", tree_hwm, nd=2,
              note="inetmail/popa3d: every process but the launcher; Postfix/Dovecot: the processes holding the socket")
        T.add(wl, f"{P}: Pss of the session's process tree", "Pss", "MB", "lower", tree_pss, nd=2)
        T.add(wl, f"{P}: Pss of all the server's processes (launcher, daemons)", "Pss", "MB", "lower", all_pss, nd=2)

    # ---------------------------------------------------------------- limits, breakdown
    limits = load(R, "limits.jsonl")
    lim = {(r["kind"], r["label"]): r for r in limits}
    breakdown = load(R, "breakdown.jsonl")

    return {"env": env, "command": command, "rows": T.rows, "limits": limits, "breakdown": breakdown,
            "smtp_commands": smtp_cmds, "problems": {
                "smtp_runs_not_ok": [{k: r.get(k) for k in ("peer", "workload", "run", "delivered", "client_stderr")}
                                     for r in smtp_bad],
                "pop3_runs_with_errors": [{k: r.get(k) for k in ("peer", "tag", "conc", "run", "errors", "error_samples")}
                                          for r in sess_err]},
            "raw": {"smtp": smtp, "pop3": pop, "pop3_first": first,
                    "rss": [{k: v for k, v in r.items() if k != "peer_procs"} for r in rss]},
            "results_dir": R}, lim


def limits_md(d, lim):
    out = []
    g = lambda k, lb: lim.get((k, lb))  # noqa: E731
    out.append("### Physical limits of this machine (measured in the same sitting)\n")
    out.append("| limit | measured | what it bounds |")
    out.append("|---|---|---|")
    names = {"rewrite": "fsync of one 4 KiB block", "maildir": "bare Maildir delivery, 1 writer",
             "maildir4": "bare Maildir delivery, 4 writers"}
    for lb, what in (("rewrite", "fsync of a rewritten 4 KiB block (pwrite + fsync, one file): the disk's flush rate"),
                     ("maildir", "minimal Maildir delivery (create tmp/, write 4 KiB, fsync, link to new/, unlink, fsync new/), 1 writer"),
                     ("maildir4", "the same from 4 writers at once (journal commits shared)")):
        r = g("fsync", lb)
        if r:
            out.append(f"| {names[lb]} | {r['per_s']:,.0f}/s ({r['median_ms']:.3f} ms median) | {what} |")
    for lb, what in (("/bin/true", "fork + exec + exit + wait of /bin/true: the process model's floor"),
                     ("smtpd -V", "the same for inetmail's smtpd binary (dynamic linking of libssl, libcrypto, libpam, libdb...)"),
                     ("pop3d -V", "the same for pop3d")):
        r = g("forkexec", lb)
        if r:
            out.append(f"| fork+exec `{lb}` | {r['per_s']:,.0f}/s ({r['us_each'] / 1000:.2f} ms each) | {what} |")
    for lb in ("sha512", "yescrypt"):
        r = g("hash", lb)
        if r:
            out.append(f"| one {lb} password hash (`{r['prefix']}`, crypt(3)) | {r['median_ms']:.2f} ms ({r['per_s']:,.0f}/s per CPU) "
                       f"| the cost of one login (pam_unix computes it once per PASS) |")
    out.append("")
    # how close
    rows = {(r["workload"], r["row"], r["metric"]): r for r in d["rows"]}
    notes = []
    ncpu = 2
    try:
        ncpu = int(d["env"].get("cpus", "2").split()[0])
    except ValueError:
        pass
    md1 = g("fsync", "maildir")
    md4 = g("fsync", "maildir4")
    fe_s = g("forkexec", "smtpd -V")
    fe_p = g("forkexec", "pop3d -V")
    for r in d["rows"]:
        im = r["median"].get("inetmail")
        if im is None:
            continue
        if r["workload"].startswith("1 SMTP") and r["metric"] == "msgs/s":
            if r["row"].startswith("1 session") and md1:
                notes.append(f"- SMTP, {r['row']}: inetmail {im:,.0f} msgs/s = **{100 * im / md1['per_s']:.0f} %** of the "
                             f"bare Maildir-delivery rate of one writer ({md1['per_s']:,.0f}/s, 2 fsyncs, no process, no index).")
            if r["row"].startswith("10 concurrent") and md4:
                lim_ = md4["per_s"]
                extra = ""
                if fe_s:
                    # per message: one exec of smtpd; the CPUs bound the exec rate
                    extra = (f"; exec'ing smtpd alone allows {fe_s['per_s'] * ncpu:,.0f}/s on {ncpu} CPUs "
                             f"({fe_s['us_each'] / 1000:.2f} ms each)")
                notes.append(f"- SMTP, {r['row']}: inetmail {im:,.0f} msgs/s = **{100 * im / lim_:.0f} %** of "
                             f"4 concurrent bare Maildir deliveries ({lim_:,.0f}/s){extra}.")
        if r["workload"].startswith("2 POP3") and r["metric"] == "sessions/s":
            h = "sha512" if "sha512" in r["row"] else "yescrypt"
            hr = g("hash", h)
            if not (hr and fe_p):
                continue
            per = hr["median_ms"] + fe_p["us_each"] / 1000
            conc = 1 if r["row"].startswith("sequential") else ncpu
            lim_ = conc * 1000 / per
            notes.append(f"- POP3, {r['row']}: inetmail {im:,.1f} sessions/s = **{100 * im / lim_:.0f} %** of "
                         f"{conc} CPU(s) x 1 / (hash {hr['median_ms']:.2f} ms + exec of pop3d {fe_p['us_each'] / 1000:.2f} ms) "
                         f"= {lim_:,.0f}/s (TLS handshakes, PAM, TCP not counted: a loose upper bound).")
    if notes:
        out.append("How close inetmail is to them (the limits ignore the client's own cost on the same 2 CPUs):\n")
        out += notes
        out.append("")
    return out


def breakdown_md(d):
    out = []
    if not d["breakdown"]:
        return out
    out.append("### Workload 6: where an inetmail message / session goes\n")
    out.append("Not timed runs (`bench/lib/breakdown.py`): `strace -f -c -w` attached to inetd and everything it "
               "forks (wall time inside system calls; strace slows every call, so read the blocking ones: "
               "fsync, fdatasync, wait4, flock), then `perf record -a -g` (cpu-clock) of the same client, each "
               "sample of inetmail's processes put into exactly one category (first matching rule in "
               "breakdown.py: fsync, exec, fork, exit, mmap, page faults in the kernel; then the DSO of the "
               "leaf frame).\n")
    # wall time per unit from the timed workloads, to read the CPU figures against
    walls = []
    for r in d["rows"]:
        im = r["median"].get("inetmail")
        if r["metric"] in ("msgs/s", "sessions/s") and im and (
                r["row"].startswith("1 session") or r["row"].startswith("sequential")):
            others = ", ".join(f"{DISPLAY[s]} {1000 / v:.2f} ms" for s, v in r["median"].items()
                               if s != "inetmail" and v)
            walls.append(f"- {r['workload'][2:]}, {r['row']}: **{1000 / im:.2f} ms** per "
                         f"{'message' if r['metric'] == 'msgs/s' else 'session'} end to end"
                         + (f" ({others})" if others else ""))
    if walls:
        out.append("Wall time per unit in the timed runs above (1 / rate):\n")
        out += walls
        out.append("")
    for b in d["breakdown"]:
        out.append(f"**{b['label']}** ({b['per']} units, `{b['cmd'][:110]}`)\n")
        s = b.get("strace", {}).get("per_unit", {})
        if s:
            keys = [k for k in ("execve", "clone", "clone3", "wait4", "fsync", "fdatasync", "flock", "openat",
                                "read", "write", "sendmsg", "recvmsg", "mmap", "munmap") if k in s]
            tot = s.get("total", {})
            out.append("| system call | " + " | ".join(keys) + " | all calls |")
            out.append("|---" * (len(keys) + 2) + "|")
            out.append("| calls per unit | " + " | ".join(f"{s[k]['calls']:g}" for k in keys) +
                       f" | {tot.get('calls', 0):g} |")
            out.append("| wall ms per unit (under strace; summed over processes) | " +
                       " | ".join(f"{s[k]['wall_ms']:.3f}" for k in keys) + " | |")
            out.append("")
        p = b.get("perf")
        if p:
            cats = p["categories_ms_per_unit"]
            tot = p["daemon_cpu_ms_per_unit"] or 1
            out.append(f"CPU of inetmail's processes: **{p['daemon_cpu_ms_per_unit']:.2f} ms per unit** "
                       f"(perf, {p['freq']} Hz):\n")
            out.append("| category | CPU ms per unit | share |")
            out.append("|---|---|---|")
            for k, v in sorted(cats.items(), key=lambda kv: -kv[1]):
                out.append(f"| {k} | {v:.3f} | {100 * v / tot:.0f} % |")
            other = {k: v for k, v in p["comm_ms_per_unit"].items() if k.startswith(("jbd2", "kworker"))}
            if other:
                out.append("| *(elsewhere)* " + ", ".join(f"{k} {v:.3f} ms" for k, v in other.items()) + " | | |")
            out.append("")
    return out


def render(d, lim):
    out = [BEGIN, ""]
    env = d["env"]
    out.append("## bench/run: inetmail side by side with Postfix, Dovecot and popa3d (issue 9)\n")
    quick = "QUICK=1" in d.get("command", "")
    if quick:
        out.append("**QUICK=1 smoke run: tiny counts, one run each. These figures are not results.**\n")
    out.append(f"- **Date:** {env.get('date', '?')}; run time {env.get('duration', '?')}.")
    out.append(f"- **Machine:** {env.get('cpus', '?').replace(' (', ' CPUs (', 1)}, {env.get('mem', '?')} RAM, {env.get('os', '?')}, kernel "
               f"{env.get('kernel', '?')}; mail stores on `{env.get('fs', '?')}`.")
    la = [r.get("loadavg1_before") for r in d["raw"]["smtp"] + d["raw"]["pop3"] if r.get("loadavg1_before") is not None]
    lam = f"; 1-minute load average before each measured run: median {med(la):.2f}, max {max(la):.2f}" if la else ""
    out.append(f"- **Load average** at start: {env.get('loadavg at start', '?')}; at end: "
               f"{env.get('loadavg at end', '?')}{lam} (the benchmark itself adds up to ~1-2 while it runs; "
               f"more means other work shared the CPUs).")
    out.append(f"- **Versions:** Postfix {env.get('postfix', '?')}, Dovecot {env.get('dovecot', '?')}, "
               f"{env.get('popa3d', '?')} (under ucspi-tcp {env.get('ucspi-tcp', '?')} tcpserver -D), "
               f"{env.get('inetd', '?')}, {env.get('openssl', '?').split(' (')[0]}; "
               f"inetmail {env.get('inetmail', '?')}, {env.get('build', '')}.")
    out.append(f"- **Command:** `{d.get('command', '')}`; raw data in `{d['results_dir']}`.")
    out.append("")
    out.append("Each figure is the median over runs (sessions, SMTP) or repetitions (latency, RETR), the servers "
               "interleaved run by run; **inetmail / best peer** divides inetmail's figure by the best peer's "
               "(↑ higher is better: ≥ 1 means inetmail is at least as good; ↓ lower is better: ≤ 1 means the same). "
               "n/a: not applicable (popa3d has no TLS) or not measured.\n")
    out.append("| workload | row | metric | inetmail | Postfix | Dovecot | popa3d | best peer | inetmail / best peer |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in d["rows"]:
        m = r["median"]
        cells = [fmt(m[s], r["digits"]) if s in m else "" for s in SERVERS]
        arrow = "↑" if r["better"] == "higher" else "↓"
        ratio = r["ratio_inetmail_to_best_peer"]
        rt = "n/a" if ratio is None else f"**{ratio:.2f}**" + (" ✓" if r["inetmail_ahead"] else "")
        best = DISPLAY.get(r["best_peer"], "-") if r["best_peer"] else "-"
        metric = r["metric"] if r["metric"] == r["unit"] + "/s" or r["metric"] == r["unit"] else \
            f"{r['metric']} ({r['unit']})"
        out.append(f"| {r['workload']} | {r['row']} | {metric} {arrow} | " + " | ".join(cells) +
                   f" | {best} | {rt} |")
    out.append("")
    prob = d["problems"]
    if prob["smtp_runs_not_ok"] or prob["pop3_runs_with_errors"]:
        out.append("**Problems in this sitting** (those runs are left out of the medians): "
                   f"{len(prob['smtp_runs_not_ok'])} SMTP runs not fully delivered, "
                   f"{len(prob['pop3_runs_with_errors'])} POP3 runs with session errors; see results.json `problems`.\n")
    out += limits_md(d, lim)
    out += breakdown_md(d)
    out.append("### How the figures are made\n")
    out.append("- **Set-up:** `bench/run` (as root) installs what is missing, builds inetmail into a scratch "
               "directory, and starts every server on 127.0.0.1 only: Postfix (private instance of the shared "
               "harness's `lib.sh`, `home_mailbox=Maildir/`), Dovecot (private instance, `mail_location="
               "maildir:~/Maildir`, PAM, plus a pop3s listener with the sitting's self-signed RSA-2048 "
               "certificate), popa3d 1.0.3 (mbox `/var/mail/benchu`, under `tcpserver -D`), inetmail smtpd, "
               "pop3d and `pop3d -o tls=implicit` under openbsd-inetd (`inetd -d -E -R 100000`, one process "
               "tree per connection). All check passwords of the same account through PAM/pam_unix.")
    for wl, c in d.get("smtp_commands", {}).items():
        out.append(f"- **Workload 1 ({wl}):** `{c}`; the clock stops when the last file appears in "
                   "`~benchu/Maildir/new` (inotify); CPU = the server's cgroup (every process of the daemon "
                   "tree, user+sys), journal/write-back kernel threads not included. inetmail answers 250 only "
                   "after the message file and `new/` are fsynced.")
    out.append("- **Workload 2:** the harness's `pop3bench.py sessions` (raw-socket client, TCP_NODELAY, one "
               "command at a time): USER/PASS, STAT, UIDL, RETR 1, QUIT on a mailbox of 100 x 4 KiB; "
               "4 concurrent = 4 client processes logged in as 4 different users (benchu, benchu2..4, identical "
               "mailboxes; `bench/lib/pop3wrap.py --users`), for every server: inetmail keeps the RFC 1939 "
               "exclusive maildrop lock for the whole session and answers a second concurrent session of the "
               "same user `-ERR [IN-USE]`. TLS: the same client with the socket wrapped in TLS from the "
               "first byte (`bench/lib/pop3tls.py`), a full handshake per session.")
    out.append("- **Workload 3:** `pop3bench.py latency`: connect .. QUIT reply of login+STAT/UIDL/LIST; the "
               "fixture (`mkmail.py`) is written into Maildir/new (Dovecot), the mbox (popa3d) and a "
               "hard-linked copy for inetmail (`-o mailbox=~/Maildir-inetmail`); the first session after it "
               "(new/ → cur/, index build) is shown once, then 3 s pass and one unrecorded session per server.")
    out.append("- **Workload 4:** `pop3bench.py retr`: one session, RETR of every message, MB/s of the RETR loop.")
    out.append("- **Workload 5:** the harness's `rssprobe.py`: a session is held open (SMTP after DATA, POP3 after "
               "RETR 1) and /proc of every process of the server is read; peak RSS = VmHWM, Pss from smaps_rollup.")
    out.append("- **Limits:** `bench/lib/limits.py` (fsync loops in a temporary directory in benchu's home, "
               "`bench/lib/forkexec.c`, crypt(3) of benchu's hash from /etc/shadow).")
    out.append("")
    out.append(END)
    return "\n".join(out) + "\n"


def main():
    args = sys.argv[1:]
    publish = False
    if args and args[0] == "--publish":
        publish, args = True, args[1:]
    R = args[0]
    d, lim = build(R)
    with open(os.path.join(R, "results.json"), "w") as f:
        json.dump(d, f, indent=1, sort_keys=True)
        f.write("\n")
    md = render(d, lim)
    with open(os.path.join(R, "RESULTS.md"), "w") as f:
        f.write(md)
    if not publish:
        print(md)
        return
    repo = args[1]
    with open(os.path.join(repo, "bench", "results.json"), "w") as f:
        json.dump(d, f, indent=1, sort_keys=True)
        f.write("\n")
    path = os.path.join(repo, "bench", "RESULTS.md")
    old = open(path).read() if os.path.exists(path) else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + md.rstrip("\n") + old[old.index(END) + len(END):]
    else:
        new = "# inetmail benchmarks\n\n" + md + ("\n# Earlier focused sittings\n\n" + old if old else "")
    with open(path + ".tmp", "w") as f:
        f.write(new)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
