#!/usr/bin/python3
"""Summarise one bench/run-pop3-big sitting: medians [min-max] per (mailbox size,
hash, command, server), inetmail's ratio to the best (fastest) peer, the first
session after new mail (index build), strace -c counts per session.

usage: summarize-pop3-big.py RESULTS_DIR OUT.json   (prints Markdown tables)

Ratio = inetmail median / best peer median: above 1 means inetmail is slower.
"""
import json
import os
import re
import statistics
import sys

R, OUT = sys.argv[1], sys.argv[2]
NAMES = {"inetmailpop3": "inetmail", "dovecot": "Dovecot", "popa3d": "popa3d"}
ORDER = ["inetmailpop3", "dovecot", "popa3d"]


def rows(name):
    p = os.path.join(R, name)
    if not os.path.exists(p):
        return []
    return [json.loads(line) for line in open(p) if line.strip()]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def tagparse(tag):
    m = re.match(r"N(\d+)x\S*\s+hash=(\S+)", tag or "")
    return (int(m.group(1)), m.group(2)) if m else (None, None)


def fmt(x, nd=1):
    if x is None:
        return "-"
    return f"{x:,.{nd}f}"


def cell(st, nd=1):
    if not st:
        return "-"
    return f"{fmt(st['median'], nd)} [{fmt(st['min'], nd)}-{fmt(st['max'], nd)}]"


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


env = {}
if os.path.exists(os.path.join(R, "env.txt")):
    for line in open(os.path.join(R, "env.txt")):
        k, _, v = line.partition(":")
        env[k.strip()] = v.strip()

lat = [r for r in rows("pop3.jsonl") if r.get("mode") == "latency"]
cold = rows("cold.jsonl")
sysc = rows("syscalls.jsonl")
peers = [p for p in ORDER if any(r["peer"] == p for r in lat + cold)]
others = [p for p in peers if p != "inetmailpop3"]

# ---------------------------------------------------------------- warm latency
groups = {}
for r in lat:
    n, h = tagparse(r["tag"])
    groups.setdefault((n, h, r["cmd"], r["peer"]), []).append(r)

latency, ratios = [], {}
keys = sorted({(n, h, c) for (n, h, c, _p) in groups}, key=lambda k: (k[0], k[1] != "sha512", ["STAT", "UIDL", "LIST"].index(k[2])))
out_lines = []
out_lines.append("### Warm latency: connect .. QUIT reply, ms, median [min-max]\n")
out_lines.append("| mailbox | hash | command | " + " | ".join(NAMES[p] for p in peers)
                 + " | best peer | **inetmail / best peer** | server CPU ms/session (" + ", ".join(NAMES[p] for p in peers) + ") | reply bytes (" + " / ".join(NAMES[p] for p in peers) + " if they differ) |")
out_lines.append("|" + "---|" * (6 + len(peers)))
for (n, h, c) in keys:
    st = {}
    for p in peers:
        rs = [r for r in groups.get((n, h, c, p), []) if "total_ms" in r]
        st[p] = stats([r["total_ms"] for r in rs])
        if st[p]:
            e = {"size_msgs": n, "hash": h, "cmd": c, "peer": NAMES[p],
                 "total_ms": st[p], "pass_ms_median": med([r.get("auth_ms") for r in rs]),
                 "cmd_ms_median": med([r.get("cmd_ms") for r in rs]),
                 "server_cpu_ms_median": med([1000 * r["server_cpu_s"] for r in rs if r.get("server_cpu_s") == r.get("server_cpu_s")]),
                 "body_bytes": med([r.get("body_bytes") for r in rs])}
            latency.append(e)
    best = min((p for p in others if st.get(p)), key=lambda p: st[p]["median"], default=None)
    ratio = (st["inetmailpop3"]["median"] / st[best]["median"]) if best and st.get("inetmailpop3") else None
    if ratio is not None:
        ratios[f"N{n} {h} {c}"] = {"best_peer": NAMES[best], "inetmail_over_best_peer": round(ratio, 3),
                                   "inetmail_ms": round(st["inetmailpop3"]["median"], 1),
                                   "best_peer_ms": round(st[best]["median"], 1)}
    cpu = ", ".join(fmt(e["server_cpu_ms_median"], 0) for p in peers for e in latency
                    if e["size_msgs"] == n and e["hash"] == h and e["cmd"] == c and e["peer"] == NAMES[p])
    bodies = [e["body_bytes"] for p in peers for e in latency if e["size_msgs"] == n and e["hash"] == h
              and e["cmd"] == c and e["peer"] == NAMES[p] and e["body_bytes"] is not None]
    body = " / ".join(fmt(b, 0) for b in bodies) if len(set(bodies)) > 1 else (fmt(bodies[0], 0) if bodies else "-")
    out_lines.append(f"| {n:,} × 2 KiB | {h} | {c} | " + " | ".join(
        (f"**{cell(st[p])}**" if p == "inetmailpop3" else cell(st[p])) for p in peers)
        + f" | {NAMES[best] if best else '-'} | **{fmt(ratio, 2)}** | {cpu} | {body} |")

out_lines.append("\nSplit of the warm sessions (medians, ms): PASS = USER+PASS round trips "
                 "(auth; inetmail and popa3d also open the mailbox here), cmd = the command and its reply.\n")
out_lines.append("| mailbox | hash | command | " + " | ".join(f"{NAMES[p]} PASS / cmd" for p in peers) + " |")
out_lines.append("|" + "---|" * (3 + len(peers)))
for (n, h, c) in keys:
    cells = []
    for p in peers:
        e = next((e for e in latency if e["size_msgs"] == n and e["hash"] == h and e["cmd"] == c
                  and e["peer"] == NAMES[p]), None)
        cells.append(f"{fmt(e['pass_ms_median'])} / {fmt(e['cmd_ms_median'])}" if e else "-")
    out_lines.append(f"| {n:,} | {h} | {c} | " + " | ".join(cells) + " |")

# ---------------------------------------------------------------- first session
first = []
out_lines.append("\n### First session after the mailbox was written (login+STAT+QUIT, ms, median [min-max]; "
                 "inetmail and Dovecot move new/ → cur/ and build their index here)\n")
out_lines.append("| mailbox | phase | " + " | ".join(NAMES[p] for p in peers)
                 + " | server CPU s (" + ", ".join(NAMES[p] for p in peers) + ") | STAT reply |")
out_lines.append("|" + "---|" * (4 + len(peers)))
sizes = sorted({tagparse(r["tag"])[0] for r in cold})
for n in sizes:
    for ph, label in (("cold-first-session", "first login (index build)"),
                      ("second-session", "the session right after")):
        st, cpu, statr = {}, [], set()
        for p in peers:
            rs = [r for r in cold if tagparse(r["tag"])[0] == n and r["phase"] == ph and r["peer"] == p]
            st[p] = stats([r.get("total_ms") for r in rs])
            c = med([r.get("server_cpu_s") for r in rs if r.get("server_cpu_s") == r.get("server_cpu_s")])
            cpu.append(fmt(c, 2))
            statr |= {r["stat"] for r in rs if r.get("stat")}
            errs = [r["error"] for r in rs if r.get("error")]
            if st[p] or errs:
                first.append({"size_msgs": n, "phase": ph, "peer": NAMES[p], "total_ms": st[p],
                              "pass_ms_median": med([r.get("auth_ms") for r in rs]),
                              "server_cpu_s_median": c, "errors": errs,
                              "store_reset_s_median": med([r.get("reset_s") for r in rs])})
        out_lines.append(f"| {n:,} × 2 KiB | {label} | " + " | ".join(
            (f"**{cell(st[p])}**" if p == "inetmailpop3" else cell(st[p])) for p in peers)
            + f" | {', '.join(cpu)} | {'; '.join(sorted(statr)) or '-'} |")
        if ph == "cold-first-session" and st.get("inetmailpop3"):
            best = min((p for p in others if st.get(p)), key=lambda p: st[p]["median"], default=None)
            if best:
                ratios[f"N{n} first-session"] = {
                    "best_peer": NAMES[best],
                    "inetmail_over_best_peer": round(st["inetmailpop3"]["median"] / st[best]["median"], 3),
                    "inetmail_ms": round(st["inetmailpop3"]["median"], 1),
                    "best_peer_ms": round(st[best]["median"], 1)}
            if st.get("dovecot"):
                ratios[f"N{n} first-session"]["inetmail_over_dovecot"] = round(
                    st["inetmailpop3"]["median"] / st["dovecot"]["median"], 3)

# ---------------------------------------------------------------- syscalls
SHOW = ["total", "openat", "read", "pread64", "pwrite64", "write", "getdents64", "newfstatat", "fstat",
        "mmap", "munmap", "fdatasync", "fsync", "rename", "renameat2", "clone", "clone3", "execve", "flock", "fcntl"]
if sysc:
    out_lines.append("\n### Syscalls per session (strace -f -c over the server's whole cgroup, 3 sessions; not timed)\n")
    cols = [k for k in SHOW if any(k in r["calls_per_unit"] for r in sysc)]
    out_lines.append("| server | session | " + " | ".join(cols) + " |")
    out_lines.append("|" + "---|" * (2 + len(cols)))
    for r in sysc:
        out_lines.append(f"| {NAMES.get(r['peer'], r['peer'])} | {r['label']} | "
                         + " | ".join(fmt(r["calls_per_unit"].get(k), 0) for k in cols) + " |")

print("\n".join(out_lines))
res = {"env": env, "results_dir": os.path.realpath(R), "latency": latency, "first_session": first,
       "ratios_inetmail_over_best_peer": ratios,
       "syscalls_per_session": [{"peer": NAMES.get(r["peer"], r["peer"]), "label": r["label"],
                                 "calls": {k: r["calls_per_unit"][k] for k in SHOW if k in r["calls_per_unit"]}}
                                for r in sysc],
       "raw": {"cold": cold, "latency": lat}}
with open(OUT, "w") as f:
    json.dump(res, f, indent=1, sort_keys=True)
    f.write("\n")
