// Desktop benchmark (not run in CI): Trousseau next to a blank Tauri 2 app built with the same profile.
//  - cold start: spawn → page loaded in the window ("bench: page-loaded" on stdout), median of N launches;
//  - memory: PSS summed over the whole process tree (app + WebKit web/network processes) after IDLE s idle,
//    window open, and tray-only (Trousseau: window opened then closed, its webview destroyed; blank: --tray),
//    plus Trousseau started directly in the tray (what autostart does) and the blank app opened then closed
//    (--close-after: the part of "window closed" that any one-process Tauri app keeps), and the blank window at
//    Trousseau's size (--size 1120x780: what the window's size costs, apart from the page), also painting on the
//    CPU as Trousseau does (what our page and executable cost, apart from that choice);
//  - where it goes: PSS per process and per mapping kind (smaps.mjs), side by side.
// BENCH_SKIP_START=1 skips the cold starts (memory only); BENCH_TROUSSEAU_ENV="K=V …" sets variables for Trousseau.
// Usage (inside Xvfb and a D-Bus session, see desktop.sh): node desktop.mjs TROUSSEAU_BIN BLANK_BIN [N] [IDLE]

import { spawn } from "node:child_process";
import fs from "node:fs";
import { printComparison, tree, treeBreakdown } from "./smaps.mjs";

const [trousseau, blank, nArg, idleArg] = process.argv.slice(2);
const N = Number(nArg ?? 10);
const IDLE = Number(idleArg ?? 30);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function pssKb(pid) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").match(/^Pss:\s+(\d+) kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
const treePssMb = (pid) => tree(pid).reduce((a, p) => a + pssKb(p), 0) / 1024;

function launch(bin, args, env) {
  const t0 = process.hrtime.bigint();
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "ignore"] });
  const loaded = new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      if (buf.includes("bench: page-loaded")) resolve(Number(process.hrtime.bigint() - t0) / 1e9);
    });
    child.on("exit", (c) => reject(new Error(`${bin} exited (${c}) before its page loaded`)));
    setTimeout(() => reject(new Error(`${bin} ${args.join(" ")}: no page after 30 s`)), 30000).unref();
  });
  return { child, loaded };
}
async function stop(child) {
  for (const p of tree(child.pid).reverse()) {
    try {
      process.kill(p, "SIGTERM");
    } catch {}
  }
  await new Promise((r) => (child.exitCode !== null ? r() : child.on("exit", r)));
  await sleep(300);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function freshEnv() {
  const home = fs.mkdtempSync("/tmp/trousseau-bench-");
  // BENCH_TROUSSEAU_ENV="K=V …" adds variables for Trousseau only (e.g. MALLOC_ARENA_MAX=2 to compare).
  const extra = Object.fromEntries(
    (process.env.BENCH_TROUSSEAU_ENV ?? "").split(/\s+/).filter(Boolean).map((kv) => [kv.split("=")[0], kv.slice(kv.indexOf("=") + 1)]),
  );
  return { TROUSSEAU_HOME: `${home}/home`, TROUSSEAU_NSSDB: `${home}/nssdb`, TROUSSEAU_BENCH: "1", ...extra };
}

async function coldStarts(bin, args, env) {
  const times = [];
  for (let i = 0; i < N; i++) {
    const { child, loaded } = launch(bin, args, env);
    times.push(await loaded);
    process.stdout.write(`  ${bin.split("/").pop()} launch ${i + 1}: ${times[i].toFixed(3)} s\n`);
    await stop(child);
  }
  return times;
}

async function idlePss(bin, args, env, closeWindow) {
  const { child, loaded } = launch(bin, args, env);
  if (args.includes("--close-after")) {
    await loaded; // the blank app destroys its own window (--close-after SECONDS after start)
    await sleep(Number(args[args.indexOf("--close-after") + 1]) * 1000);
  } else if (args.includes("--tray")) {
    loaded.catch(() => {}); // no window, no page: the idle time starts once the process is up
    await sleep(1000);
  } else await loaded;
  if (closeWindow) {
    const c = spawn(bin, ["--close-window"], { env: { ...process.env, ...env }, stdio: "ignore" });
    await new Promise((r) => c.on("exit", r));
  }
  await sleep(IDLE * 1000);
  const mb = treePssMb(child.pid);
  const procs = tree(child.pid).length;
  // PSS splits shared pages between the processes mapping them: another WebKit or Tauri app running at the same
  // time (a second benchmark, someone's e2e run) lowers every figure. Say so rather than print wrong ratios.
  const mine = new Set(tree(child.pid));
  const others = fs
    .readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d) && !mine.has(Number(d)))
    .map((d) => {
      try {
        return fs.readFileSync(`/proc/${d}/comm`, "utf8").trim();
      } catch {
        return "";
      }
    })
    .filter((c) => /^(WebKit|trousseau-deskto|blank$|WebKitWebDriver)/.test(c));
  if (others.length) console.log(`  WARNING: ${others.length} other WebKit/Tauri processes running (${[...new Set(others)].join(", ")}): PSS figures are lowered`);
  const breakdown = treeBreakdown(child.pid);
  // Anonymous PSS (heaps, JS heap, stacks) hardly depends on the page cache or on other processes; file-backed PSS
  // (libraries, our executable) does: fault-around maps whatever neighbouring pages the cache already holds.
  const anon = breakdown.reduce((a, p) => a + (p.rollup.Pss_Anon ?? 0), 0) / 1024;
  await stop(child);
  return { mb, procs, breakdown, anon };
}

const env = freshEnv();
console.log(`desktop benchmark: ${N} cold starts each, PSS after ${IDLE} s idle (${process.env.BENCH_PROFILE || "debug"} profile, Xvfb)`);
// BENCH_SKIP_START=1 measures memory only (quicker when comparing memory changes).
const skipStart = Boolean(process.env.BENCH_SKIP_START);
const tStart = skipStart ? [NaN] : await coldStarts(trousseau, [], env);
const bStart = skipStart ? [NaN] : await coldStarts(blank, [], {});
const tWin = await idlePss(trousseau, [], env, false);
const bWin = await idlePss(blank, [], {}, false);
const bWinSized = await idlePss(blank, ["--size", "1120x780"], {}, false); // Trousseau's window size
// Trousseau has WebKit paint on the CPU (src-tauri/src/memory.rs, choose_rendering): the blank app with the same
// choice, at the same size, tells what our page and executable cost apart from that choice.
const bWinSizedCpu = await idlePss(blank, ["--size", "1120x780"], { WEBKIT_SKIA_ENABLE_CPU_RENDERING: "1" }, false);
const tTray = await idlePss(trousseau, [], env, true);
const bTray = await idlePss(blank, ["--tray"], {}, false);
const bClosed = await idlePss(blank, ["--close-after", "2"], {}, false);
const tTrayStart = await idlePss(trousseau, ["--tray"], env, false);

const f = (x) => x.toFixed(3);
const row = (what, a, b, goal) => console.log(`${what.padEnd(44)} ${a.padStart(10)} ${b.padStart(10)} ${goal}`);
row("", "trousseau", "blank", "goal");
row("cold start to page loaded, median (s)", f(median(tStart)), f(median(bStart)), "≤ 0.3 s");
row("  min / max (s)", `${f(Math.min(...tStart))}/${f(Math.max(...tStart))}`, `${f(Math.min(...bStart))}/${f(Math.max(...bStart))}`, "");
row("PSS, window open (MB)", tWin.mb.toFixed(1), bWin.mb.toFixed(1), `≤ 1.15× → ratio ${(tWin.mb / bWin.mb).toFixed(2)}`);
row("  blank at Trousseau's window size 1120×780", tWin.mb.toFixed(1), bWinSized.mb.toFixed(1), `ratio ${(tWin.mb / bWinSized.mb).toFixed(2)}`);
row("  blank at 1120×780, painting on the CPU too", tWin.mb.toFixed(1), bWinSizedCpu.mb.toFixed(1), `ratio ${(tWin.mb / bWinSizedCpu.mb).toFixed(2)}`);
row("PSS, tray only / window closed (MB)", tTray.mb.toFixed(1), bTray.mb.toFixed(1), `≤ 1.1× → ratio ${(tTray.mb / bTray.mb).toFixed(2)}`);
row("PSS, window opened then closed, both (MB)", tTray.mb.toFixed(1), bClosed.mb.toFixed(1), `ratio ${(tTray.mb / bClosed.mb).toFixed(2)}`);
row("PSS, Trousseau started in the tray (--tray)", tTrayStart.mb.toFixed(1), bTray.mb.toFixed(1), `ratio ${(tTrayStart.mb / bTray.mb).toFixed(2)}`);
const a = (x) => x.anon.toFixed(1);
row("  of which anonymous (Pss_Anon), window open", a(tWin), a(bWin), `ratio ${(tWin.anon / bWin.anon).toFixed(2)}`);
row("  of which anonymous, blank at 1120×780", a(tWin), a(bWinSized), `ratio ${(tWin.anon / bWinSized.anon).toFixed(2)}`);
row("  of which anonymous, window closed / tray", a(tTray), a(bTray), `ratio ${(tTray.anon / bTray.anon).toFixed(2)}`);
row("  of which anonymous, both opened then closed", a(tTray), a(bClosed), `ratio ${(tTray.anon / bClosed.anon).toFixed(2)}`);
row("  of which anonymous, started in the tray", a(tTrayStart), a(bTray), `ratio ${(tTrayStart.anon / bTray.anon).toFixed(2)}`);
row("processes in the tree (window / tray)", `${tWin.procs}/${tTray.procs}`, `${bWin.procs}/${bTray.procs}`, "");

printComparison("Window open: Trousseau vs blank", tWin.breakdown, "trousseau", bWin.breakdown, "blank");
printComparison("Window open: Trousseau vs blank at the same window size (1120×780)", tWin.breakdown, "trousseau", bWinSized.breakdown, "blank");
printComparison("Window open: Trousseau vs blank at 1120×780 painting on the CPU", tWin.breakdown, "trousseau", bWinSizedCpu.breakdown, "blank");
printComparison("Window closed: Trousseau (opened, then closed) vs blank --tray", tTray.breakdown, "trousseau", bTray.breakdown, "blank");
printComparison("Window closed: Trousseau vs blank (opened, then closed)", tTray.breakdown, "trousseau", bClosed.breakdown, "blank");
printComparison("Blank: opened then closed vs tray only", bClosed.breakdown, "closed", bTray.breakdown, "tray");
printComparison("Tray only: Trousseau --tray vs blank --tray", tTrayStart.breakdown, "trousseau", bTray.breakdown, "blank");
