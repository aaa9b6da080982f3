#!/usr/bin/env node
/*
 * End-to-end test of the dashboards in a real browser: Debian's chromium,
 * driven by playwright-core (package.json), against `pitwall run` on the
 * simulator, started here on a free loopback port with its own data dir
 * and token, and stopped at the end.
 *
 *   node tests/dashboards/e2e.js        (from the repository root)
 *   env: PITWALL_BIN (default bin/pitwall), CHROMIUM (default /usr/bin/chromium),
 *        SCREENSHOTS (default build/screenshots)
 *
 * Checks: every page loads with no console errors and its values change
 * over time; the pressure alert appears (page banner and on-air bug) when
 * the simulated game produces a sack (sim.seed=16: the first play is a
 * sack, about 11 s into a run); the pressure pages reconnect on their own
 * after the server restarts; an overlay renders on a transparent
 * background; a page without the chart library still loads, with a note.
 * Saves a screenshot of every page.
 * Prints one JSON summary on stdout (what tests/dashboards/test_dashboards.c
 * asserts on) and exits 0 when everything passed, 1 otherwise. Every wait
 * is bounded; the whole run is cut at 120 s (about 50 s on an idle machine).
 */
"use strict";
const { spawn } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");

const ROOT = path.resolve(__dirname, "..", "..");
const BIN = path.resolve(ROOT, process.env.PITWALL_BIN || "bin/pitwall");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = path.resolve(ROOT, process.env.SCREENSHOTS || "build/screenshots");
const SACK_SEED = 16; /* ing_simgame with this seed: play 1 ends in a sack */
const RATE = 20000;    /* race points/s: a fifth of the default, for small CI machines */
const t0 = Date.now();
const secs = () => +((Date.now() - t0) / 1000).toFixed(1);

const summary = { ok: false, pages: {}, alert: {}, overlay: {}, no_vendor: {}, reconnect: {}, screenshots: [] };
let server = null, browser = null, tmp = null, finished = false;
const token = crypto.randomBytes(16).toString("hex");

function log(...a) { process.stderr.write("e2e [" + secs() + " s] " + a.join(" ") + "\n"); }

function finish(code) {
  if (finished) return;
  finished = true;
  summary.duration_s = secs();
  Object.values(summary.pages).forEach((r) => { delete r.ignore; });
  const done = () => {
    if (server && server.exitCode === null) server.kill("SIGKILL");
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    process.stdout.write(JSON.stringify(summary) + "\n");
    process.exit(code);
  };
  Promise.race([
    Promise.all([browser ? browser.close().catch(() => {}) : null, stopServer()]),
    new Promise((r) => setTimeout(r, 8000)),
  ]).then(done, done);
}
setTimeout(() => { summary.error = "timed out after 120 s"; finish(1); }, 120000).unref();
process.on("SIGTERM", () => { summary.error = "terminated"; finish(1); });

/* Start `pitwall run`; resolves with its base URL once it prints it. */
function startServer(port) {
  return new Promise((resolve, reject) => {
    const args = ["run", "--port", String(port), "--data-dir", path.join(tmp, "data"), "--token", token,
      "--set", "sim.seed=" + SACK_SEED, "--set", "sim.rate_pps=" + RATE, "--set", "api.dashboards=" + path.join(tmp, "dashboards")];
    const p = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
    server = p;
    let out = "";
    const timer = setTimeout(() => reject(new Error("pitwall run printed no URL in 15 s: " + out.slice(-400))), 15000);
    const onData = (b) => {
      out += b.toString();
      const m = /dashboards at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    p.stdout.on("data", onData);
    p.stderr.on("data", onData);
    p.on("exit", (code) => { clearTimeout(timer); reject(new Error("pitwall run exited " + code + ": " + out.slice(-400))); });
    p.on("error", (e) => { clearTimeout(timer); reject(e); });
  });
}

function stopServer() {
  const p = server;
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => p.kill("SIGKILL"), 6000);
    p.once("exit", () => { clearTimeout(kill); resolve(); });
    p.kill("SIGINT");
  });
}

/* Serve a copy of dashboards/ with the chart library as `make` puts it. */
function prepareDashboards() {
  const dst = path.join(tmp, "dashboards");
  fs.cpSync(path.join(ROOT, "dashboards"), dst, { recursive: true });
  const vendor = path.join(dst, "vendor");
  fs.mkdirSync(vendor, { recursive: true });
  let copied = false;
  for (const f of ["uPlot.iife.min.js", "uPlot.min.css"]) {
    if (!fs.existsSync(path.join(vendor, f))) {
      fs.copyFileSync(path.join(ROOT, "node_modules/uplot/dist", f), path.join(vendor, f));
      copied = true;
    }
  }
  summary.vendor = copied ? "copied from node_modules" : "dashboards/vendor";
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Open a page, recording its console errors. */
async function open(name, url, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await ctx.newPage();
  const rec = { url: url.replace(/token=[^&]+/, "token=…"), console_errors: [], loaded: false, changed: false, ignore: opts.ignore };
  summary.pages[name] = rec;
  /* rec.ignore: a pattern of expected errors (connection refused while the
     server restarts; the 404s of the page without the chart library). */
  page.on("console", (m) => {
    if (m.type() === "error" && !(rec.ignore && rec.ignore.test(m.text()))) rec.console_errors.push(m.text());
  });
  page.on("pageerror", (e) => { rec.console_errors.push("pageerror: " + e.message); });
  if (opts.route) await opts.route(page);
  await page.goto(url, { waitUntil: "load", timeout: 15000 });
  rec.loaded = true;
  return { page, rec, ctx };
}

/* Wait until probe() returns something other than its first value. */
async function changes(page, rec, probe, within) {
  const first = await page.evaluate(probe);
  const end = Date.now() + within;
  while (Date.now() < end) {
    await sleep(400);
    const now = await page.evaluate(probe);
    if (now !== first && now !== "") { rec.changed = true; return true; }
  }
  rec.changed_detail = "no change in " + within / 1000 + " s: " + String(first).slice(0, 120);
  return false;
}

async function shot(page, name, transparent) {
  const file = path.join(SHOTS, name + ".png");
  const buf = await page.screenshot({ path: file, omitBackground: !!transparent });
  summary.screenshots.push(path.relative(ROOT, file));
  return buf;
}

async function waitLive(page, sel, within) {
  await page.waitForSelector(sel + '[data-state="live"]', { state: "attached", timeout: within });
}

/* Alpha of a few points of a PNG, read through a canvas in the browser. */
async function alphaAt(png, points) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const res = await page.evaluate(async ({ src, points }) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width; c.height = img.height;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    return points.map(([x, y]) => g.getImageData(x, y, 1, 1).data[3]);
  }, { src: "data:image/png;base64," + png.toString("base64"), points });
  await ctx.close();
  return res;
}

async function main() {
  const { chromium } = require(path.join(ROOT, "node_modules/playwright-core"));
  fs.mkdirSync(SHOTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pitwall-e2e-"));
  prepareDashboards();
  const base = await startServer(0);
  const port = +new URL(base).port;
  log("pitwall run at", base);
  const q = (p, extra) => base + "/" + p + "?token=" + token + (extra ? "&" + extra : "");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 20000,
  });

  /* The pressure alert: the page and the on-air bug, open before the sack
     (the machine may be small and busy: pages are opened one at a time). */
  const pr = await open("pressure", q("pressure.html"));
  const ov = await open("overlay-pressure", q("overlay-pressure.html", "hold=30"));
  await waitLive(pr.page, "#conn", 30000);
  await waitLive(ov.page, "body", 30000);
  log("pressure pages live; restarting the server");
  /* Restart the server (same port and data): the open pages must see it go
     down and reconnect on their own, and the new run's game starts again
     from play 1, whose sack comes about 11 s later (whatever the time the
     pages took to load on a busy machine). */
  /* Expected from now on: refused connections while the server is down, and
     the 400 of live.js's probe (a plain GET of /v1/live, made when a
     WebSocket did not open, to tell a refused token from a server away). */
  pr.rec.ignore = ov.rec.ignore = /ERR_CONNECTION_REFUSED|status of 400/;
  await stopServer();
  const down = await pr.page.waitForSelector('#conn[data-state="down"]', { state: "attached", timeout: 10000 }).then(() => true, () => false);
  const t1 = Date.now();
  await startServer(port);
  const back = await Promise.all([waitLive(pr.page, "#conn", 30000), waitLive(ov.page, "body", 30000)]).then(() => true, () => false);
  summary.reconnect = { saw_down: down, live_again: back, after_s: +((Date.now() - t1) / 1000).toFixed(1) };
  log("reconnect:", JSON.stringify(summary.reconnect));
  /* The players stand still while the teams are set before the snap (the
     simulator's play clock: 8 s or more), so allow for a whole presnap. */
  await changes(pr.page, pr.rec, () => Array.from(document.querySelectorAll(".pl")).map((g) => g.style.transform).join(";"), 25000);
  const seen = await Promise.all([
    pr.page.waitForSelector("#banner.on", { timeout: 40000 }).then(() => secs(), () => null),
    ov.page.waitForSelector("#bug.in", { timeout: 40000 }).then(() => secs(), () => null),
  ]);
  summary.alert = { page_at_s: seen[0], overlay_at_s: seen[1],
    text: seen[0] ? (await pr.page.textContent("#banner")).replace(/\s+/g, " ").trim() : null,
    rusher: seen[1] ? (await ov.page.textContent("#who")).trim() : null };
  log("alert:", JSON.stringify(summary.alert));
  ov.rec.changed = seen[1] !== null;
  await sleep(700); /* the bug's slide-in */
  pr.rec.chart = await pr.page.evaluate(() => !!document.querySelector("#chart canvas"));
  await shot(pr.page, "pressure");
  const png = await shot(ov.page, "overlay-pressure", true);
  const a = await alphaAt(png, [[5, 5], [960, 540], [1910, 1070], [1500, 150]]);
  summary.alert.overlay_alpha = a;
  summary.alert.overlay_transparent = a[0] === 0 && a[1] === 0 && a[2] === 0 && a[3] > 200;
  await ov.ctx.close();
  await pr.ctx.close();

  const pageTask = async (name, file, extra, sel, probe, within, after) => {
    const p = await open(name, q(file, extra));
    await waitLive(p.page, sel, 20000);
    await changes(p.page, p.rec, probe, within);
    if (after) await after(p);
    await shot(p.page, name, name.startsWith("overlay"));
    await p.ctx.close();
    log(name, "done");
  };

  await pageTask("burn", "burn.html", "", "#conn", () => document.getElementById("board").innerText, 8000);
  await pageTask("system", "system.html", "", "#conn", () => document.getElementById("v-rec").textContent + document.querySelector("#lat").innerText, 8000,
    async (p) => { p.rec.charts = await p.page.evaluate(() => document.querySelectorAll(".chart canvas").length); });
  await pageTask("moments", "moments.html", "", "#conn", () => document.getElementById("events").innerText + document.getElementById("timeline").innerHTML, 15000,
    async (p) => {
      await p.page.waitForSelector(".ev", { timeout: 20000 });
      p.rec.events = await p.page.$$eval(".ev", (e) => e.length);
      await p.page.click(".ev");
      await p.page.waitForFunction(() => /frames ·/.test(document.getElementById("vinfo").textContent), null, { timeout: 10000 });
      p.rec.frames = await p.page.evaluate(() => +document.getElementById("scrub").max + 1);
      p.rec.players_drawn = await p.page.$$eval("#vfield .pl", (e) => e.length);
      await sleep(800);
    });
  await pageTask("overlay-burn", "overlay-burn.html", "cars=1,7,24", "body", () => document.getElementById("rows").innerText, 8000,
    async (p) => {
      await p.page.waitForSelector("#l3.in", { timeout: 10000 });
      await sleep(900); /* the slide-in */
      p.rec.rows = await p.page.$$eval(".r", (e) => e.length);
      const img = await p.page.screenshot({ omitBackground: true });
      const al = await alphaAt(img, [[5, 5], [960, 300], [1910, 1070], [600, 940]]);
      summary.overlay = { alpha: al, transparent: al[0] === 0 && al[1] === 0 && al[2] === 0 && al[3] > 200,
        body_background: await p.page.evaluate(() => getComputedStyle(document.body).backgroundColor) };
    });

  /* Without the chart library: the page still loads and says so. */
  {
    const p = await open("pressure-no-vendor", q("pressure.html"), {
      route: (page) => page.route("**/vendor/**", (r) => r.fulfill({ status: 404, body: "not found" })),
      ignore: /status of 404/, /* the two 404s are the point */
    });
    await waitLive(p.page, "#conn", 20000);
    summary.no_vendor = { note: await p.page.isVisible(".chart-missing"), page_errors: p.rec.console_errors.length };
    delete summary.pages["pressure-no-vendor"];
    await p.ctx.close();
  }

  /* The index last: it shows the connection, and follows a restart. */
  const ix = await open("index", q("index.html"));
  await waitLive(ix.page, "#conn", 20000);
  await changes(ix.page, ix.rec, () => document.getElementById("rate").textContent + document.getElementById("clients").textContent, 10000);
  await shot(ix.page, "index");
  await ix.ctx.close();

  const pageOk = Object.values(summary.pages).every((r) => r.loaded && r.changed && r.console_errors.length === 0);
  summary.ok = pageOk && summary.alert.page_at_s !== null && summary.alert.overlay_at_s !== null &&
    summary.alert.overlay_transparent && summary.overlay.transparent && summary.no_vendor.note &&
    summary.no_vendor.page_errors === 0 && summary.reconnect.live_again;
  finish(summary.ok ? 0 : 1);
}

main().catch((e) => {
  summary.error = String(e && e.stack || e).slice(0, 2000);
  finish(1);
});
