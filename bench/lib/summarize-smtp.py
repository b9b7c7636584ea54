#!/usr/bin/python3
"""Summarise one bench/run-smtp sitting: medians per (peer, workload), the
inetmail/Postfix ratios, the strace -c counts per message.

usage: summarize-smtp.py RESULTS_DIR OUT.json   (prints a Markdown table)
"""
import json
import os
import statistics
import sys

R, OUT = sys.argv[1], sys.argv[2]


def rows(name):
    p = os.path.join(R, name)
    if not os.path.exists(p):
        return []
    return [json.loads(line) for line in open(p) if line.strip()]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


env = {}
for line in open(os.path.join(R, "env.txt")):
    k, _, v = line.partition(":")
    env[k.strip()] = v.strip()

smtp = rows("smtp.jsonl")
summary = {}
for r in smtp:
    key = (r["peer"], r["workload"])
    summary.setdefault(key, []).append(r)

table = {}
for (peer, wl), rs in summary.items():
    good = [r for r in rs if r["ok"]]
    msgs = rs[0]["msgs"]
    mps = [r["msgs_per_s"] for r in good]
    cpu = [1000 * r["server_cpu_s"] / r["msgs"] for r in good]
    table.setdefault(wl, {})[peer] = {
        "runs": len(rs), "runs_ok": len(good), "msgs": msgs, "size": rs[0]["size"],
        "cmd": rs[0]["cmd"],
        "msgs_per_s_median": med(mps), "msgs_per_s_min": min(mps) if mps else None,
        "msgs_per_s_max": max(mps) if mps else None,
        "msgs_per_s_runs": [round(x, 1) for x in mps],
        "e2e_s_median": med([r["e2e_s"] for r in good]),
        "accept_msgs_per_s_median": med([r["accept_msgs_per_s"] for r in good]),
        "server_cpu_s_per_1000_median": med(cpu),
        "server_cpu_user_s_per_1000_median": med([1000 * r["server_cpu_user_s"] / r["msgs"] for r in good]),
        "server_cpu_sys_s_per_1000_median": med([1000 * r["server_cpu_sys_s"] / r["msgs"] for r in good]),
        "client_cpu_s_median": med([r["client_cpu_s"] for r in good]),
        "foreign_busy_s_max": max([r.get("foreign_busy_s") or 0 for r in good], default=None),
        "listen_overflows_total": sum(sum(r["listen_overflows"].values()) for r in rs),
    }

ratios = {}
for wl, peers in table.items():
    a, b = peers.get("inetmail"), peers.get("postfix")
    if a and b and a["msgs_per_s_median"] and b["msgs_per_s_median"]:
        ratios[wl] = {
            "throughput_inetmail_over_postfix": round(a["msgs_per_s_median"] / b["msgs_per_s_median"], 3),
            "cpu_per_msg_inetmail_over_postfix": round(
                a["server_cpu_s_per_1000_median"] / b["server_cpu_s_per_1000_median"], 3)
            if b["server_cpu_s_per_1000_median"] else None,
        }

sysc = {}
for r in rows("syscalls.jsonl"):
    sysc.setdefault(r["peer"], {})[r["label"]] = r["calls_per_unit"]

out = {"env": env, "results_dir": R, "workloads": table, "ratios": ratios,
       "syscalls_per_msg": sysc, "raw": smtp}
with open(OUT, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write("\n")

N = smtp[0]["msgs"] if smtp else 0
WL = {"single": f"(a) {N} msgs, 1 session (-d -s 1)", "conc10": f"(b) {N} msgs, 10 concurrent, new conn/msg (-s 10)"}


def f(x, d=0):
    return "-" if x is None else f"{x:.{d}f}"


print("| workload | peer | msgs/s median [min-max] | server CPU s / 1000 msgs | ok runs |")
print("|---|---|---|---|---|")
for wl in ("single", "conc10"):
    for peer in ("inetmail", "postfix"):
        t = table.get(wl, {}).get(peer)
        if not t:
            continue
        print(f"| {WL.get(wl, wl)} | {peer} | {f(t['msgs_per_s_median'])} "
              f"[{f(t['msgs_per_s_min'])}-{f(t['msgs_per_s_max'])}] | "
              f"{f(t['server_cpu_s_per_1000_median'], 2)} | {t['runs_ok']}/{t['runs']} |")
    if wl in ratios:
        print(f"| {WL.get(wl, wl)} | **inetmail/postfix** | **{ratios[wl]['throughput_inetmail_over_postfix']:.2f}** | "
              f"{f(ratios[wl]['cpu_per_msg_inetmail_over_postfix'], 2)} | |")
if sysc:
    keys = ["fsync", "fdatasync", "execve", "clone", "clone3", "fork", "openat", "rename", "link", "linkat",
            "unlink", "pwrite64", "write", "read", "total"]
    print()
    print("syscalls per message (strace -f -c, 100 msgs):")
    for peer, labs in sysc.items():
        for lab, c in labs.items():
            print(f"  {peer:9s} {lab:18s} " + " ".join(f"{k}={c[k]}" for k in keys if k in c))
