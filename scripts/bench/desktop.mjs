// Desktop benchmark (not run in CI): Trousseau next to a blank Tauri 2 app built with the same profile.
//  - cold start: spawn → page loaded in the window ("bench: page-loaded" on stdout), median of N launches;
//  - memory: PSS summed over the whole process tree (app + WebKit web/network processes) after IDLE s idle,
//    window open, and tray-only (Trousseau: window opened then closed, its webview destroyed; blank: --tray),
//    plus Trousseau started directly in the tray (what autostart does).
// Usage (inside Xvfb and a D-Bus session, see desktop.sh): node desktop.mjs TROUSSEAU_BIN BLANK_BIN [N] [IDLE]

import { spawn } from "node:child_process";
import fs from "node:fs";

const [trousseau, blank, nArg, idleArg] = process.argv.slice(2);
const N = Number(nArg ?? 10);
const IDLE = Number(idleArg ?? 30);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
function tree(pid) {
  return [pid, ...children(pid).flatMap(tree)];
}
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
  return { TROUSSEAU_HOME: `${home}/home`, TROUSSEAU_NSSDB: `${home}/nssdb`, TROUSSEAU_BENCH: "1" };
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
  if (args.includes("--tray")) {
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
  await stop(child);
  return { mb, procs };
}

const env = freshEnv();
console.log(`desktop benchmark: ${N} cold starts each, PSS after ${IDLE} s idle (debug profile, Xvfb)`);
const tStart = await coldStarts(trousseau, [], env);
const bStart = await coldStarts(blank, [], {});
const tWin = await idlePss(trousseau, [], env, false);
const bWin = await idlePss(blank, [], {}, false);
const tTray = await idlePss(trousseau, [], env, true);
const bTray = await idlePss(blank, ["--tray"], {}, false);
const tTrayStart = await idlePss(trousseau, ["--tray"], env, false);

const f = (x) => x.toFixed(3);
const row = (what, a, b, goal) => console.log(`${what.padEnd(44)} ${a.padStart(10)} ${b.padStart(10)} ${goal}`);
row("", "trousseau", "blank", "goal");
row("cold start to page loaded, median (s)", f(median(tStart)), f(median(bStart)), "≤ 0.3 s");
row("  min / max (s)", `${f(Math.min(...tStart))}/${f(Math.max(...tStart))}`, `${f(Math.min(...bStart))}/${f(Math.max(...bStart))}`, "");
row("PSS, window open (MB)", tWin.mb.toFixed(1), bWin.mb.toFixed(1), `≤ 1.15× → ratio ${(tWin.mb / bWin.mb).toFixed(2)}`);
row("PSS, tray only / window closed (MB)", tTray.mb.toFixed(1), bTray.mb.toFixed(1), `≤ 1.1× → ratio ${(tTray.mb / bTray.mb).toFixed(2)}`);
row("PSS, Trousseau started in the tray (--tray)", tTrayStart.mb.toFixed(1), bTray.mb.toFixed(1), `ratio ${(tTrayStart.mb / bTray.mb).toFixed(2)}`);
row("processes in the tree (window / tray)", `${tWin.procs}/${tTray.procs}`, `${bWin.procs}/${bTray.procs}`, "");
