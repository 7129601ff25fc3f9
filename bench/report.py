#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns the raw rows of bench/run.sh into one table: printed, and written as
Markdown and JSON to the results directory, named by date."""
import argparse
import json
import os
import statistics
import sys

MODES = {"tcp1": "TCP, 1 stream", "tcp4": "TCP, 4 streams", "udp": "UDP flood"}


def load_jsonl(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    return rows


def r(x, nd=2):
    return None if x is None else round(x, nd)


def derive(row, veth):
    """Adds the figures of the table to one raw row."""
    d = dict(row)
    ip = row.get("iperf") or {}
    rec = ip.get("sum_received")
    if row.get("status") != "ok" or not rec:
        return d
    secs = rec.get("seconds") or row.get("seconds") or 0
    nbytes = rec.get("bytes", 0)
    gb = nbytes / 1e9
    d["bytes"] = nbytes
    d["gbps"] = r(nbytes * 8 / secs / 1e9, 3) if secs else None
    if row["mode"] == "udp":
        pk = rec.get("packets", 0) - rec.get("lost_packets", 0)
        d["pps"] = round(pk / secs) if secs else None
        d["udp_loss_pct"] = r(rec.get("lost_percent"), 1)
    sent = ip.get("sum_sent") or {}
    if "retransmits" in sent:
        d["tcp_retransmits"] = sent["retransmits"]
    if row["vpn"] == "veth":
        cu = ip.get("cpu_utilization_percent") or {}
        cpu_s = (cu.get("host_total", 0) + cu.get("remote_total", 0)) / 100 * secs if cu else None
        d["cpu_source"] = "iperf3 client + server"
    elif row.get("cpu_ticks") is not None:
        cpu_s = row["cpu_ticks"] / row["clk_tck"]
        d["cpu_source"] = "VPN processes"
    else:
        cpu_s = None
    d["cpu_s"] = r(cpu_s, 2)
    d["cpu_pct"] = r(cpu_s / secs * 100, 0) if cpu_s is not None and secs else None
    d["cpu_s_per_gb"] = r(cpu_s / gb, 2) if cpu_s is not None and gb > 0 else None
    sc = row.get("syscalls")
    d["syscalls_per_gb"] = round(sc / gb) if sc is not None and gb > 0 and row["vpn"] != "veth" else None
    pings = row.get("ping_ms") or []
    d["rtt_load_ms"] = r(statistics.median(pings), 2) if pings else None
    sent_pings = row.get("ping_sent") or 0
    d["ping_loss_pct"] = r(100 * (1 - len(pings) / sent_pings), 0) if sent_pings else None
    base = veth.get((row.get("ceiling", "hub"), row["mode"]))
    if base and d.get("gbps") and row["vpn"] != "veth":
        d["ratio_to_veth"] = r(d["gbps"] / base, 3)
    elif row["vpn"] == "veth":
        d["ratio_to_veth"] = 1.0
    d.pop("ping_ms", None)
    return d


def derive_cp(c):
    d = dict(c)
    g = c.get("generator") or {}
    n = c.get("n")
    adm = g.get("admitted")
    d["admitted"] = adm
    d["admits_per_s"] = g.get("admits_per_s")
    el = g.get("elapsed_s")
    cpu_s = c.get("server_cpu_ticks", 0) / c["clk_tck"] if c.get("clk_tck") else None
    d["server_cpu_s"] = r(cpu_s, 2)
    if el and cpu_s is not None:
        d["server_cpu_pct"] = r(cpu_s / el * 100, 0)
    if adm and cpu_s:
        d["admits_per_server_cpu_s"] = round(adm / cpu_s)
    if adm and c.get("rss_after_kib") is not None and c.get("rss_before_kib") is not None:
        d["kib_per_client"] = r((c["rss_after_kib"] - c["rss_before_kib"]) / adm, 1)
    for k, name in (("server_fsyncs", "fsyncs_per_admission"),
                    ("server_syscalls", "syscalls_per_admission")):
        if adm and c.get(k) is not None:
            d[name] = r(c[k] / adm, 1)
    d["latency_ms_p50"] = g.get("latency_ms_p50")
    d["latency_ms_p99"] = g.get("latency_ms_p99")
    return d


def fmt(v, nd=None, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float) and nd is not None:
        return ("%." + str(nd) + "f%s") % (v, unit)
    return "%s%s" % (v, unit)


def kpps(v):
    return "—" if v is None else "%.0f k" % (v / 1000)


def data_table(rows):
    head = ["Case", "Load", "Gbit/s", "× veth", "pkt/s", "CPU s/GB", "CPU %", "syscalls/GB",
            "RTT load ms", "RTT idle ms", "Notes"]
    out = []
    for d in rows:
        if d.get("status") != "ok":
            gb = "n/a" if d.get("status") == "n/a" else "failed"
            out.append([d["label"], MODES.get(d["mode"], d["mode"]), gb, "—", "—", "—", "—", "—",
                        "—", "—", d.get("note", "")])
            continue
        notes = []
        if d.get("note"):
            notes.append(d["note"])
        if d.get("ping_loss_pct"):
            notes.append("%d%% of pings lost under load" % d["ping_loss_pct"])
        if d.get("udp_loss_pct") is not None:
            notes.append("UDP loss %.1f%%" % d["udp_loss_pct"])
        label = d["label"]
        out.append([label, MODES.get(d["mode"], d["mode"]), fmt(d.get("gbps"), 2),
                    fmt(d.get("ratio_to_veth"), 3), kpps(d.get("pps")),
                    fmt(d.get("cpu_s_per_gb"), 2), fmt(d.get("cpu_pct"), 0),
                    fmt(d.get("syscalls_per_gb")), fmt(d.get("rtt_load_ms"), 2),
                    fmt(d.get("rtt_idle_ms")), "; ".join(notes)])
    return head, out


def cp_table(cps):
    head = ["Clients", "Admitted", "Admits/s", "Server CPU %", "Admits per server CPU-s",
            "RSS before MiB", "RSS after MiB", "KiB per client", "Latency p50/p99 ms",
            "fsync per admit", "syscalls per admit", "Release all s", "Notes"]
    out = []
    for d in cps:
        g = d.get("generator") or {}
        notes = []
        if d.get("note"):
            notes.append(d["note"])
        if g.get("failed"):
            notes.append("%d failed: %s" % (g["failed"], "; ".join(
                "%s ×%d" % (k, v) for k, v in sorted(g.get("failure_reasons", {}).items(), key=lambda kv: -kv[1])[:3])))
        if g.get("lost_while_held"):
            notes.append("%d dropped while held: %s" % (g["lost_while_held"], "; ".join(
                "%s ×%d" % (k, v) for k, v in g.get("lost_while_held_reasons", {}).items())))
        if d.get("peers_in_status") is not None and d.get("admitted") is not None and d["peers_in_status"] != d["admitted"]:
            notes.append("server status lists %s peers" % d["peers_in_status"])
        mib = lambda k: None if d.get(k) is None else d[k] / 1024
        lat = "—" if d.get("latency_ms_p50") is None else "%s / %s" % (d["latency_ms_p50"], d["latency_ms_p99"])
        out.append([str(d.get("n")), fmt(d.get("admitted")), fmt(d.get("admits_per_s")),
                    fmt(d.get("server_cpu_pct"), 0), fmt(d.get("admits_per_server_cpu_s")),
                    fmt(mib("rss_before_kib"), 1), fmt(mib("rss_after_kib"), 1),
                    fmt(d.get("kib_per_client"), 1), lat, fmt(d.get("fsyncs_per_admission"), 1),
                    fmt(d.get("syscalls_per_admission"), 1), fmt(d.get("teardown_s")),
                    "; ".join(notes) if notes else ("" if d.get("status") == "ok" else d.get("status", ""))])
    return head, out


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def churn_table(churns):
    """Issue 11's measurement: the tunnel quiet, then while the server admits
    and drops clients and reloads every second."""
    head = ["Build", "Phase", "Admits/s (asked)", "Reloads ok/failed", "Ping p50 ms", "p99 ms", "max ms",
            "Ping lost", "TCP Gbit/s", "Server CPU %", "Workers held ms/s (pauses/s)", "Notes"]
    out = []
    for c in churns:
        if c.get("phase") == "setup":
            out.append([c.get("build") or "—", "setup", "—", "—", "—", "—", "—", "—", "—", "—", "—", c.get("note", "")])
            continue
        ping = c.get("ping_ms") or []
        sent = c.get("ping_sent") or 0
        g = c.get("generator") or {}
        rec = (c.get("iperf") or {}).get("sum_received") or {}
        gbit = rec["bytes"] * 8 / rec["seconds"] / 1e9 if rec.get("seconds") else None
        cpu = (100.0 * c["server_cpu_ticks"] / c["clk_tck"] / c["seconds"]) if c.get("seconds") else None
        notes = []
        if g.get("failed"):
            notes.append("%d admissions failed: %s" % (g["failed"], "; ".join(
                "%s ×%d" % (k, v) for k, v in sorted(g.get("failure_reasons", {}).items(), key=lambda kv: -kv[1])[:2])))
        if not c.get("daemons_alive", True):
            notes.append("a daemon exited")
        if gbit is None:
            notes.append("iperf3 failed")
        admits = "—" if not g else "%s (%s)" % (fmt(g.get("admits_per_s"), 0), fmt(g.get("churn_rate"), 0))
        reloads = "—" if c.get("phase") != "churn" else "%d / %d" % (c.get("reloads_ok", 0), c.get("reloads_failed", 0))
        lost = "%d of %d" % (sent - len(ping), sent) if sent else "—"
        h = c.get("workers_held")
        held = "—" if not h or not c.get("seconds") else "%.1f (%.0f)" % (
            h["held_us"] / 1e3 / c["seconds"], h["pauses"] / c["seconds"])
        out.append([c.get("build") or "this build", c.get("phase"), admits, reloads, fmt(pct(ping, 0.5), 2), fmt(pct(ping, 0.99), 2),
                    fmt(max(ping) if ping else None, 2), lost, fmt(gbit, 2), fmt(cpu, 0), held, "; ".join(notes)])
    return head, out


def registry_table(regs):
    """Issue 12's rows: admissions with the leases in etcd, one server and two."""
    head = ["Servers", "Clients", "Admitted", "Admits/s", "p99 ms", "etcd requests",
            "etcd requests per admit", "Notes"]
    out = []
    for r in regs:
        notes = [r["note"]] if r.get("note") else []
        if r.get("failed"):
            notes.append("%d failed: %s" % (r["failed"], "; ".join(
                "%s ×%d" % (k, v) for k, v in sorted((r.get("failure_reasons") or {}).items(), key=lambda kv: -kv[1])[:2])))
        if r.get("status") not in (None, "ok") and not notes:
            notes.append(r["status"])
        out.append([str(r.get("servers")), str(r.get("n")), fmt(r.get("admitted")), fmt(r.get("admits_per_s"), 0),
                    fmt(r.get("latency_ms_p99")), fmt(r.get("etcd_requests")),
                    fmt(r.get("etcd_requests_per_admission"), 1), "; ".join(notes)])
    return head, out


def md_table(head, rows):
    esc = lambda s: str(s).replace("|", "\\|")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        lines.append("| " + " | ".join(esc(c) for c in row) + " |")
    return "\n".join(lines)


def text_table(head, rows, wrap_last=60):
    rows = [[c if i < len(head) - 1 else (c[:wrap_last] + ("…" if len(c) > wrap_last else ""))
             for i, c in enumerate(row)] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    out = [line(head), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    return "\n".join(out)


def read_note(notes, name):
    p = os.path.join(notes, name)
    if os.path.exists(p):
        with open(p) as f:
            return f.read().rstrip()
    return ""


def bounds_section(rows, cps, notes, meta):
    by = {d["key"]: d for d in rows}
    L = ["## What bounds each figure", ""]
    v1 = by.get("veth-tcp1")
    if v1 and v1.get("gbps"):
        L.append("- **veth**: no tunnel, so TCP moves 64 KiB GSO/TSO super-packets and the two iperf3 "
                 "processes are the limit (%s%% CPU between them over the run). Its MTU is 1500 against "
                 "the tunnels' 1400; the UDP row sends the same %d-byte datagrams as every tunnel row."
                 % (fmt(v1.get("cpu_pct"), 0), meta.get("udp_payload", 0) + 28))
    lm = by.get("lanmesh-udp-aes-tcp1")
    sysc = read_note(notes, "syscalls-lanmesh.txt")
    counts, nbytes = {}, 0
    if sysc:
        lines = sysc.splitlines()
        nbytes = int(lines[0].split()[1]) if lines and lines[0].startswith("bytes ") else 0
        for ln in lines[1:]:
            ev, cnt = ln.rsplit(" ", 1)
            counts[ev.replace("syscalls:sys_enter_", "").replace("raw_syscalls:sys_enter", "all")] = int(cnt)
    if lm and lm.get("gbps"):
        # A 1400-byte tunnel MTU carries 1360-byte TCP segments.
        per_seg = lambda n: n / (nbytes / 1360) if nbytes else None
        text = ("- **lanmesh** (ESP/UDP, AES-256-GCM, 1 stream): %s Gbit/s, %s%% of the veth's, with the two "
                "daemons at %s%% CPU between them (%d cores, shared with the iperf3 ends); %s system "
                "calls per GB" % (fmt(lm.get("gbps"), 2), fmt(100 * (lm.get("ratio_to_veth") or 0), 1),
                                 fmt(lm.get("cpu_pct"), 0), meta.get("cores", 0),
                                 fmt(lm.get("syscalls_per_gb"))))
        if counts.get("all") and nbytes:
            tun = counts.get("read", 0) + counts.get("write", 0) + counts.get("readv", 0) + counts.get("writev", 0)
            udp = sum(counts.get(k, 0) for k in ("recvmmsg", "sendmmsg", "recvmsg", "sendmsg", "recvfrom", "sendto"))
            text += (", %.1f per 1360-byte segment carried (both daemons, ACKs included): %.2f TUN "
                     "read/write and %.2f UDP socket calls per segment. "
                     % (per_seg(counts["all"]), per_seg(tun), per_seg(udp)))
            if per_seg(tun) >= 1.5:
                text += ("The TUN side moves one packet per system call on each daemon while the UDP side "
                         "is batched, so the system calls that bound it are the TUN reads and writes "
                         "(no IFF_VNET_HDR/GSO yet), on one thread per daemon.")
            else:
                text += "The TUN side is batched or offloaded."
        else:
            text += "."
        ch = by.get("lanmesh-udp-chacha-tcp1")
        if ch and ch.get("gbps"):
            text += (" ChaCha20-Poly1305 moves %s Gbit/s against AES-256-GCM's %s: the cipher is a "
                     "small share of the cost." % (fmt(ch.get("gbps"), 2), fmt(lm.get("gbps"), 2))
                     if abs(ch["gbps"] - lm["gbps"]) / lm["gbps"] < 0.25 else
                     " ChaCha20-Poly1305 moves %s Gbit/s against AES-256-GCM's %s."
                     % (fmt(ch.get("gbps"), 2), fmt(lm.get("gbps"), 2)))
        L.append(text)
    if sysc:
        L.append("")
        L.append("  System calls of both lanmesh daemons during a separate %s-s run (ESP/UDP, AES-256-GCM, 1 "
                 "stream, %.2f GB moved), counted with `perf stat -e syscalls:sys_enter_*`:"
                 % (os.environ.get("BENCH_PROFILE_SECONDS", "3"), nbytes / 1e9))
        L.append("")
        L.append("  | system call | count | per GB |")
        L.append("  |---|---|---|")
        for ev, cnt in counts.items():
            per = "%.0f" % (cnt / (nbytes / 1e9)) if nbytes else "—"
            L.append("  | %s | %d | %s |" % (ev, cnt, per))
    prof = read_note(notes, "profile-lanmesh.txt")
    dso = read_note(notes, "profile-lanmesh-dso.txt")
    if prof:
        L.append("")
        L.append("  Where the two lanmesh daemons spend their CPU during a separate %s-s run "
                 "(`perf record -F 997`, flat; by object, then symbols over 1%%):"
                 % os.environ.get("BENCH_PROFILE_SECONDS", "3"))
        L.append("")
        L.append("  ```")
        L.extend("  " + ln for ln in dso.splitlines())
        L.append("")
        L.extend("  " + ln for ln in prof.splitlines())
        L.append("  ```")
    if prof and not meta.get("perf_hw_counters"):
        L.append("")
        L.append("  This machine exposes no hardware counters to perf, so it samples on cpu-clock: "
                 "samples pile up where interrupts are re-enabled (`_raw_spin_unlock_irqrestore`, "
                 "`finish_task_switch`), which stand for the kernel work just before them.")
    for key, name in (("openvpn-tcp1", "OpenVPN"), ("wireguard-go-tcp1", "wireguard-go")):
        d = by.get(key)
        if d and d.get("gbps"):
            per_seg = d["syscalls_per_gb"] / (1e9 / 1360) if d.get("syscalls_per_gb") else None
            L.append("- **%s** (1 stream): %s Gbit/s, its two processes at %s%% CPU, %s system calls per "
                     "GB, %s per 1360-byte segment (lanmesh: %s)." % (
                         name, fmt(d.get("gbps"), 2), fmt(d.get("cpu_pct"), 0),
                         fmt(d.get("syscalls_per_gb")), fmt(per_seg, 1),
                         fmt(lm["syscalls_per_gb"] / (1e9 / 1360), 1) if lm and lm.get("syscalls_per_gb") else "—"))
    L.append("- **CPU s/GB** is utime+stime of the VPN's own processes from /proc/PID/stat (all "
             "threads), over the run, per GB delivered to iperf3: lanmeshd server and client (and "
             "the second client in the client<->client rows), both openvpn processes, both "
             "wireguard-go processes; for the veth row the two iperf3 processes as iperf3 reports "
             "them. Kernel work done in softirq "
             "context on behalf of a process is charged to whatever runs at the time, so this "
             "undercounts the kernel side alike for every VPN.")
    L.append("- **RTT under load** is the median of pings every 0.1 s through the tunnel while "
             "iperf3 runs: the queueing in each VPN's socket buffers and TUN queue. For the UDP "
             "flood the sender outruns the tunnel, so pings wait behind (or are dropped with) the "
             "excess.")
    if cps:
        big = max(cps, key=lambda d: d.get("n") or 0)
        text = ("- **Control plane**: one server process; admissions run on its control thread (the data-plane workers idle). The load generator "
                "(%s, at most %s sessions between connect and "
                "CONFIG at once) runs on the other core; where the server's CPU during admission is "
                "well under 100%%, the generator or waiting is the limit and *admits per server CPU-s* "
                "is the server's own capacity."
                % (big.get("generator_name", "bench/cp_load.py, Python asyncio + ssl"),
                   (big.get("generator") or {}).get("concurrency", "?")))
        for d in cps:
            wall = (d.get("generator") or {}).get("elapsed_s")
            run, wait = d.get("server_sched_run_s"), d.get("server_runqueue_wait_s")
            if wall and run is not None and wait is not None:
                busy = (run + wait) / wall
                text += (" N = %s: the server was running or runnable %.0f%% of the time (on a CPU %.0f%%, "
                         "waiting for one %.0f%%), so %s." % (
                             d["n"], 100 * busy, 100 * run / wall, 100 * wait / wall,
                             "its own work is the bound (with the CPU it had to share)" if busy >= 0.85 else
                             "it was not saturated: blocked in fsync or waiting for the generator"))
        text += (" Lease changes are written by the server's 250-ms tick, not per admission: the whole "
                 "lease file is rewritten and fsynced with its directory at most four times a second "
                 "(LeaseStore::flush in src/server/leases.cc): %s fsyncs per admission at N = %s."
                 % (fmt(big.get("fsyncs_per_admission"), 2), big.get("n")))
        if big.get("kib_per_client") is not None:
            text += (" Memory: %s KiB per connected client at N = %s (TLS session, buffers, SAs, lease, "
                     "route entries)." % (fmt(big["kib_per_client"], 1), big.get("n")))
        L.append(text)
        L.append("")
        L.append("  Where the server's wall time went while admitting (main thread, /proc/PID/schedstat: "
                 "on a CPU, runnable but waiting for one, and *blocked*, the rest: in fsync or other "
                 "I/O, or idle because the generator had nothing ready; so *blocked* bounds the fsync "
                 "wait from above):")
        L.append("")
        L.append("  | clients | wall s | on CPU s | waiting for a CPU s | blocked s | fsyncs | blocked ms per fsync, at most |")
        L.append("  |---|---|---|---|---|---|---|")
        for d in cps:
            g = d.get("generator") or {}
            wall = g.get("elapsed_s")
            run = d.get("server_sched_run_s")
            wait = d.get("server_runqueue_wait_s")
            blocked = wall - run - wait if None not in (wall, run, wait) else None
            fs = d.get("server_fsyncs")
            per = blocked * 1000 / fs if fs and blocked is not None else None
            L.append("  | %s | %s | %s | %s | %s | %s | %s |" % (
                d.get("n"), fmt(wall, 1), fmt(r(run, 1), 1), fmt(r(wait, 1), 1),
                fmt(r(blocked, 1), 1), fmt(fs), fmt(r(per, 2), 2)))
        pc = read_note(notes, "profile-cp.txt")
        if pc:
            L.append("")
            L.append("  Where the server spends its CPU while admitting %s clients (`perf record -F 499`, "
                     "flat, entries over 1.5%%):" % big.get("n"))
            L.append("")
            L.append("  ```")
            L.extend("  " + ln for ln in pc.splitlines())
            L.append("  ```")
    return "\n".join(L)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", required=True)
    p.add_argument("--cp", required=True)
    p.add_argument("--churn", default=None)
    p.add_argument("--registry", default=None)
    p.add_argument("--notes", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--stamp", required=True)
    a = p.parse_args()

    with open(a.meta) as f:
        meta = json.load(f)
    raw = load_jsonl(a.rows)
    veth = {}
    for row in raw:
        if row.get("vpn") == "veth" and row.get("status") == "ok":
            rec = (row.get("iperf") or {}).get("sum_received") or {}
            if rec.get("seconds"):
                veth[(row.get("ceiling", "hub"), row["mode"])] = rec["bytes"] * 8 / rec["seconds"] / 1e9
    rows = [derive(row, veth) for row in raw]
    cps = [derive_cp(c) for c in load_jsonl(a.cp)]
    churns = load_jsonl(a.churn) if a.churn else []
    regs = load_jsonl(a.registry) if a.registry else []

    dh, drows = data_table(rows)
    ch, crows = cp_table(cps)
    uh, urows = churn_table(churns)
    rh, rrows = registry_table(regs)

    title = "lanmesh bench, %s" % meta["date"]
    setup = ("%s, %d cores, kernel %s; lanmesh %s%s (%s, built %s); OpenVPN %s; wireguard-go %s; "
             "iperf3 %s. %d s per run; UDP rows send %d-byte payloads (%d-byte IP datagrams, the "
             "tunnels' MTU); load average %s at the start, %s at the end; bench took %d s%s."
             % (meta["cpu"], meta["cores"], meta["kernel"], meta["lanmesh_commit"],
                " with uncommitted changes in src/" if meta.get("lanmesh_src_modified") else "",
                meta.get("lanmeshd", "?"), meta.get("lanmeshd_built", "?"),
                meta.get("openvpn") or "—", meta.get("wireguard_go") or "—", meta.get("iperf3") or "—",
                meta["seconds_per_run"], meta["udp_payload"], meta["udp_payload"] + 28,
                meta.get("loadavg_start", "?"), meta.get("loadavg_end", "?"), meta.get("bench_wall_s", 0), "" if meta.get("complete") else ", INCOMPLETE (stopped early)"))
    path_note = ("Every throughput row runs from namespace `cli` (192.0.2.11) to `srv` (192.0.2.1), two "
                 "hosts on one bridge (tests/netns/lib.sh's hub), except the client<->client rows, whose "
                 "clients sit behind two NAT routers (203.0.113.1 and .65) joined by a router on that "
                 "bridge. Every tunnel has MTU 1400. "
                 "*× veth* compares with the veth row of the same load.")

    md = ["# " + title, "", setup, "", path_note, "", "## Data plane", "", md_table(dh, drows), "",
          "## Control plane", "",
          "A fresh server (Pool = 198.18.0.0/16, Topology = subnet) in a loopback-only namespace; "
          "the load generator opens N TLS 1.3 sessions to 127.0.0.1:4500, each with its own client "
          "certificate (one shared EC key), sends HELLO and counts the session admitted when the "
          "CONFIG frame arrives. Memory is the server's VmRSS with all N connected minus before, "
          "divided by N. *Release all* is the time from the generator closing every session to the "
          "server's status listing no peer.", "",
          md_table(ch, crows), ""]
    if urows:
        md += ["## Data path under control-plane churn", "",
               "alice's tunnel (ESP in UDP, AES-256-GCM) to the server: a TCP iperf3 and a ping every "
               "20 ms, first on a quiet server, then while the load generator admits and drops "
               "clients at the rate asked (each says BYE as soon as its CONFIG arrives) and "
               "`lanmesh reload` runs on the server every second (docs/DESIGN.md §7: how much the "
               "control plane holds the workers shows here as ping p99 and throughput).", "",
               md_table(uh, urows), ""]
    if rrows:
        md += ["## Control plane with the registry (etcd)", "",
               "Leases in etcd ([Registry], docs/DESIGN.md §11): one etcd 3.4 member on 127.0.0.1, "
               "then one server, then two sharing it (server K listens on 127.0.0.K); the load generator "
               "opens N/K sessions to each, at most 24 in their handshake at once (a server keeps 32 pending from one source), each node with its own certificate. *etcd requests* "
               "is etcd's own count of the gRPC calls it handled (KV, Lease, Watch; the JSON gateway "
               "makes one per HTTP request) from the first connection to the last admission, the "
               "servers' lease keepalives and polls during that time included.", "",
               md_table(rh, rrows), ""]
    md += [bounds_section(rows, cps, a.notes, meta), ""]
    os.makedirs(a.out, exist_ok=True)
    base = os.path.join(a.out, a.stamp)
    with open(base + ".md", "w") as f:
        f.write("\n".join(md))
    with open(base + ".json", "w") as f:
        json.dump({"meta": meta, "data_plane": rows, "control_plane": cps, "churn": churns, "registry": regs},
                  f, indent=1)

    print()
    print(title)
    print(setup)
    print()
    print(text_table(dh, drows))
    if crows:
        print()
        print(text_table(ch, crows))
    if urows:
        print()
        print(text_table(uh, urows))
    if rrows:
        print()
        print(text_table(rh, rrows))
    print()
    print("written: %s.md, %s.json" % (base, base))


if __name__ == "__main__":
    sys.exit(main())
