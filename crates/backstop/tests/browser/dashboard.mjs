// Drives backstop's dashboard in headless Chromium (Debian's, through
// playwright-core). Run by tests/dashboard.rs, which starts backstop on the
// quickstart and passes: BACKSTOP_URL, BACKSTOP_TOKEN, ARTIFACTS (a folder
// for screenshots), CHROMIUM (the browser). Every wait polls with a
// deadline; a failure throws with what the page showed.
import { chromium } from "playwright-core";
import process from "node:process";

const url = process.env.BACKSTOP_URL;
const token = process.env.BACKSTOP_TOKEN;
const artifacts = process.env.ARTIFACTS;
const WAIT = 30_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const step = (what) => console.log("step: " + what);
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error") problems.push("console error: " + m.text()); });

  const row = (name) => page.locator(`tr[data-service="${name}"]`);
  const cell = (name, c) => row(name).locator("td." + c);
  const word = (name, c) => cell(name, c).locator(".badge").getAttribute("data-word");
  async function until(what, test) {
    const deadline = Date.now() + WAIT;
    let last;
    while (Date.now() < deadline) {
      try { last = await test(); if (last === true) return; } catch (e) { last = e.message; }
      await page.waitForTimeout(100);
    }
    throw new Error(`timed out waiting for ${what} (last seen: ${JSON.stringify(last)})`);
  }

  step("the page shows both services without the token, read-only and saying why");
  await page.goto(url);
  await until("api and worker running", async () =>
    (await word("api", "state")) === "running" && (await word("worker", "state")) === "running");
  await until("the read-only banner", async () => await page.locator("#read-only").isVisible());
  const why = await page.locator("#read-only").textContent();
  if (!/token/.test(why)) throw new Error("the read-only banner does not say why: " + why);
  if (!(await row("api").locator("button.restart").isDisabled())) throw new Error("restart is enabled without the token");
  if ((await cell("api", "pid").textContent()).match(/\d/)) throw new Error("a pid is shown without the token");

  step("a wrong token is refused and said so");
  await page.fill("#token", "not-the-token");
  await page.click("#token-use");
  await until("the refusal", async () => /not accepted/.test(await page.locator("#read-only").textContent()));

  step("the right token unlocks the actions, the events and the log");
  await page.fill("#token", token);
  await page.press("#token", "Enter");
  await until("the actions enabled", async () =>
    !(await row("api").locator("button.restart").isDisabled()) && await page.locator("#read-only").isHidden());
  await until("events listed", async () => (await page.locator("#events li[data-kind]").count()) > 0);
  await until("api health healthy", async () => (await word("api", "health")) === "healthy");
  await until("a log tail", async () => /GET \/health|listening|serving/i.test(await page.locator("#log").textContent()));

  step("Restart, clicked, gives api a new process");
  const pidBefore = (await cell("api", "pid").textContent()).trim();
  if (!/^\d+$/.test(pidBefore)) throw new Error("no pid for api: " + pidBefore);
  await row("api").locator("button.restart").click();
  await until("a new pid for api, running", async () => {
    const pid = (await cell("api", "pid").textContent()).trim();
    return /^\d+$/.test(pid) && pid !== pidBefore && (await word("api", "state")) === "running";
  });
  await until("the restart in the result line", async () => /api: restart requested/.test(await page.locator("#action-result").textContent()));

  step("api killed from outside turns red, then green, without a reload");
  await until("api healthy again", async () => (await word("api", "health")) === "healthy");
  const restartsBefore = Number(await cell("api", "restarts").textContent());
  // Record every health word and its colour as the page shows them.
  await page.evaluate(() => {
    window.__seen = [];
    const badge = document.querySelector('tr[data-service="api"] td.health .badge');
    const note = () => window.__seen.push([badge.dataset.word, getComputedStyle(badge).backgroundColor]);
    new MutationObserver(note).observe(badge, { attributes: true, childList: true, characterData: true, subtree: true });
  });
  const navigations = [];
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
  const victim = Number((await cell("api", "pid").textContent()).trim());
  process.kill(victim, "SIGKILL");
  await until("api unhealthy (red)", async () => (await page.evaluate(() => window.__seen)).some(([w]) => w === "unhealthy"));
  await until("api running and healthy (green) again", async () =>
    (await word("api", "state")) === "running" && (await word("api", "health")) === "healthy");
  await until("the restart count risen", async () => Number(await cell("api", "restarts").textContent()) > restartsBefore);
  const seen = await page.evaluate(() => window.__seen);
  const colour = (w) => (seen.find(([x]) => x === w) || [])[1];
  if (!colour("unhealthy") || colour("unhealthy") === colour("healthy")) {
    throw new Error("unhealthy and healthy are not told apart by colour: " + JSON.stringify(seen));
  }
  if (navigations.length) throw new Error("the page reloaded: " + navigations.join(", "));
  await until("the kill in the events", async () =>
    (await page.locator("#events li").allTextContents()).some((t) => /api/.test(t) && /SIGKILL|signal|killed/i.test(t)));

  step("Diagnose now shows the verdict and the bundle");
  await row("api").locator("td.name button").click();
  await page.click("#diagnose");
  await until("the diagnosis of api", async () =>
    /api is healthy now[\s\S]*bundle: \//.test(await page.locator("#diagnosis-report").textContent()));

  step("the keyboard alone selects a service");
  await row("worker").locator("td.name button").focus();
  await page.keyboard.press("Enter");
  await until("worker's detail", async () => (await page.locator("#detail-title").textContent()) === "worker");

  await page.screenshot({ path: artifacts + "/dashboard.png", fullPage: true });

  step("on a phone the page fits its width");
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) throw new Error(`the page is ${overflow}px wider than a phone`);
  await page.screenshot({ path: artifacts + "/dashboard-phone.png", fullPage: true });

  if (problems.length) throw new Error(problems.join("\n"));
  console.log("dashboard: ok");
} catch (e) {
  if (page) await page.screenshot({ path: artifacts + "/dashboard-failure.png", fullPage: true }).catch(() => {});
  console.error(e.stack || String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
