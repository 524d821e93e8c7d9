// Where the memory of a process tree goes: PSS from /proc/PID/smaps, per process and per mapping kind.
// Used by desktop.mjs after each idle measurement; also runs alone: node scripts/bench/smaps.mjs PID [PID...]
// (each PID with its whole process tree).

import fs from "node:fs";

/** Kind of one mapping, from its path (smaps header) — the rows of the breakdown. */
export function kindOf(path, exe) {
  if (!path) return "anon (malloc arenas, JSC heap, stacks)";
  if (path === "[heap]") return "[heap] (brk)";
  if (path === "[stack]" || path.startsWith("[anon:")) return "anon (malloc arenas, JSC heap, stacks)";
  if (path.startsWith("[")) return "kernel ([vdso], [vvar]…)";
  if (exe && path === exe) return "our executable";
  if (path.startsWith("/memfd:") || path.startsWith("/dev/") || path.startsWith("/SYSV") || path.includes("(deleted)"))
    return "shared memory / GPU buffers";
  const base = path.split("/").pop();
  if (/^lib(webkit2gtk|javascriptcoregtk|WPE|wpe)/.test(base) || path.includes("/webkit2gtk-")) return "WebKit + JSC libraries";
  if (/^lib(softokn3|freeblpriv3|freebl3|nss|nssutil3|smime3|ssl3|plc4|plds4|nspr4|sqlite3|nssckbi|nssdbm3)/.test(base))
    return "NSS libraries (softokn, nss3, sqlite)";
  if (/^lib(gtk|gdk|glib|gio|gobject|gmodule|gthread|cairo|pango|harfbuzz|atk|atspi|epoxy|fontconfig|freetype|pixman|X|xcb|ayatana|appindicator|dbusmenu|soup|gst|EGL|GL|gbm|drm|wayland|icu|xml2|xslt|enchant|hyphen|woff|webp|jpeg|png|jxl|avif|gcrypt|gnutls|secret|manette|lcms)/.test(base))
    return "GTK / GLib / media / ICU libraries";
  if (/^(libc|libm|ld-linux|libstdc\+\+|libgcc_s|libpthread|libdl|librt)[.-]/.test(base)) return "libc / libstdc++";
  if (/\.so(\.|$)/.test(base)) return "other libraries";
  return "data files (fonts, caches, locale)";
}

function procName(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
}

function children(pid) {
  const out = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {}
  }
  return out;
}
export const tree = (pid) => [pid, ...children(pid).flatMap(tree)];

/** PSS (kB) of one process per mapping kind, plus its totals: { name, pss, kinds: Map, rollup: {…} }. */
export function processBreakdown(pid) {
  const kinds = new Map();
  let exe = null;
  try {
    exe = fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {}
  let smaps = "";
  try {
    smaps = fs.readFileSync(`/proc/${pid}/smaps`, "utf8");
  } catch {}
  let kind = null;
  let total = 0;
  for (const line of smaps.split("\n")) {
    const header = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/);
    if (header) {
      kind = kindOf(header[1].trim(), exe);
      continue;
    }
    const pss = line.match(/^Pss:\s+(\d+) kB/);
    if (pss && kind) {
      const kb = Number(pss[1]);
      kinds.set(kind, (kinds.get(kind) ?? 0) + kb);
      total += kb;
    }
  }
  const rollup = {};
  try {
    for (const m of fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").matchAll(/^(\w+):\s+(\d+) kB/gm))
      rollup[m[1]] = Number(m[2]);
  } catch {}
  let threads = 0;
  try {
    threads = fs.readdirSync(`/proc/${pid}/task`).length;
  } catch {}
  return { pid, name: procName(pid), pss: total, kinds, rollup, threads };
}

/** Breakdown of a whole process tree. */
export function treeBreakdown(root) {
  return tree(root).map(processBreakdown);
}

const mb = (kb) => (kb / 1024).toFixed(1);

/** Prints two breakdowns side by side (per process role, then per mapping kind over the tree). */
export function printComparison(title, a, aLabel, b, bLabel) {
  const role = (p, i) => (i === 0 ? "main process" : p.name);
  const byRole = (procs) => {
    const m = new Map();
    procs.forEach((p, i) => {
      const r = role(p, i);
      const cur = m.get(r) ?? { pss: 0, n: 0, threads: 0 };
      m.set(r, { pss: cur.pss + p.pss, n: cur.n + 1, threads: cur.threads + p.threads });
    });
    return m;
  };
  const byKind = (procs, onlyMain) => {
    const m = new Map();
    (onlyMain ? procs.slice(0, 1) : procs).forEach((p) => p.kinds.forEach((v, k) => m.set(k, (m.get(k) ?? 0) + v)));
    return m;
  };
  const line = (what, x, y) =>
    console.log(`  ${what.padEnd(44)} ${x.padStart(10)} ${y.padStart(10)} ${(typeof x === "string" && typeof y === "string" && !isNaN(x) && !isNaN(y) ? (Number(x) - Number(y)).toFixed(1) : "").padStart(8)}`);
  console.log(`\n${title} — PSS in MB`);
  line("", aLabel, bLabel);
  const ra = byRole(a);
  const rb = byRole(b);
  for (const r of new Set([...ra.keys(), ...rb.keys()])) {
    const x = ra.get(r);
    const y = rb.get(r);
    line(`${r} (procs, threads ${x ? `${x.n}/${x.threads}` : "-"} vs ${y ? `${y.n}/${y.threads}` : "-"})`, x ? mb(x.pss) : "-", y ? mb(y.pss) : "-");
  }
  for (const [scope, onlyMain] of [["main process", true], ["whole tree", false]]) {
    console.log(`  per mapping kind, ${scope}:`);
    const ka = byKind(a, onlyMain);
    const kb = byKind(b, onlyMain);
    const keys = [...new Set([...ka.keys(), ...kb.keys()])].sort((x, y) => (kb.get(y) ?? 0) + (ka.get(y) ?? 0) - (kb.get(x) ?? 0) - (ka.get(x) ?? 0));
    for (const k of keys) line(`  ${k}`, mb(ka.get(k) ?? 0), mb(kb.get(k) ?? 0));
  }
  const rollup = (procs, field) => procs.slice(0, 1).reduce((s, p) => s + (p.rollup[field] ?? 0), 0);
  line("main process Pss_Anon (rollup)", mb(rollup(a, "Pss_Anon")), mb(rollup(b, "Pss_Anon")));
  line("main process Pss_File (rollup)", mb(rollup(a, "Pss_File")), mb(rollup(b, "Pss_File")));
  line("main process Pss_Shmem (rollup)", mb(rollup(a, "Pss_Shmem")), mb(rollup(b, "Pss_Shmem")));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const pid of process.argv.slice(2).map(Number)) {
    const procs = treeBreakdown(pid);
    for (const p of procs) {
      console.log(`${p.pid} ${p.name}: ${mb(p.pss)} MB, ${p.threads} threads`);
      for (const [k, v] of [...p.kinds].sort((x, y) => y[1] - x[1])) console.log(`    ${k.padEnd(44)} ${mb(v).padStart(8)}`);
    }
  }
}
