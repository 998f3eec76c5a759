// Drives Debian's /usr/bin/chromium (headless) with Playwright for tests/browser/*.py.
//
//   node tests/browser/run.mjs JOB.json
//
// JOB: {scenario, userDataDir, extension?: path, agentPort?: n, url?, script?, pdf?,
//       profile?, downloadDir?, lang?, waitFor?, release?}. The result is printed as one JSON line on stdout;
// the browser's console goes to stderr. HOME must hold the NSS db that trusts the agent.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { chromium } from "playwright-core";

const EXTENSION_ID = "chipklpdnohojehnebdabndkaobocajj";
const job = JSON.parse(readFileSync(process.argv[2], "utf-8"));
const log = (...parts) => process.stderr.write(`${parts.join(" ")}\n`);

async function launch() {
  const args = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--lang=${job.lang ?? "vi"}`,
  ];
  if (job.extension) {
    args.push(`--disable-extensions-except=${job.extension}`, `--load-extension=${job.extension}`);
  }
  const context = await chromium.launchPersistentContext(job.userDataDir, {
    executablePath: process.env.KYSO_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args,
    acceptDownloads: true,
    locale: job.lang ?? "vi",
  });
  let worker = null;
  if (job.extension) {
    worker = context.serviceWorkers().find((w) => w.url().includes(EXTENSION_ID));
    if (!worker) {
      worker = await context.waitForEvent("serviceworker", {
        predicate: (w) => w.url().includes(EXTENSION_ID),
        timeout: 15000,
      });
    }
    worker.on("console", (message) => log("[extension]", message.text()));
    if (job.agentPort) {
      // The test's agent may not be the first on 8988-8998 of this machine: point the
      // extension's port cache at it (discovery then only confirms it).
      await worker.evaluate((port) => chrome.storage.local.set({ agentPort: port }), job.agentPort);
    }
  }
  return { context, worker };
}

async function openPage(context, url) {
  const page = await context.newPage();
  page.on("console", (message) => log("[page]", message.type(), message.text()));
  page.on("pageerror", (error) => log("[page error]", error.message));
  await page.goto(url);
  return page;
}

/** Resolves once `condition()` holds; fails after 60 s naming `what`. */
async function until(condition, what) {
  const deadline = Date.now() + 60000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within 60 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const scenarios = {
  /** Evaluate `script` (an async function body) in the page at `url`; its value is the result. */
  async eval(context) {
    const page = await openPage(context, job.url);
    return page.evaluate(`(async () => { ${job.script} })()`);
  },

  /** Run `script` in the page at `url` (it starts a request and returns), wait until the file
   *  `waitFor` has a line (the agent asked its question), then close the tab as a user does; the
   *  browser stays open (so that only the tab is gone) until the file `release` exists. */
  async closeTab(context) {
    const page = await openPage(context, job.url);
    await page.evaluate(`(async () => { ${job.script} })()`);
    await until(() => existsSync(job.waitFor) && readFileSync(job.waitFor, "utf-8").trim(), job.waitFor);
    await page.close();
    await until(() => existsSync(job.release), job.release);
    return { closed: true };
  },

  /** The demo portal: choose `pdf`, pick `profile`, sign, download, read the report. */
  async portal(context) {
    const page = await openPage(context, job.url);
    await page.waitForFunction(() => document.getElementById("status").dataset.state !== "checking");
    const status = await page.$eval("#status", (n) => ({ state: n.dataset.state, transport: n.dataset.transport ?? null, text: n.textContent }));
    await page.setInputFiles("#file", job.pdf);
    await page.selectOption("#profile", job.profile);
    await page.click("#sign");
    await page.waitForSelector("#result:not([hidden]), #error:not([hidden])", { timeout: 60000 });
    const error = await page.$eval("#error", (n) => (n.hidden ? null : { code: n.dataset.code, text: n.textContent }));
    if (error) return { status, error };
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    const saved = join(job.downloadDir, download.suggestedFilename());
    await download.saveAs(saved);
    return {
      status,
      error: null,
      download: saved,
      verdict: await page.$eval("#verdict", (n) => ({ valid: n.dataset.valid, text: n.textContent })),
      report: await page.textContent("#report"),
    };
  },

  /** The extension's popup. */
  async popup(context) {
    const page = await openPage(context, `chrome-extension://${EXTENSION_ID}/popup.html`);
    await page.waitForFunction(() => document.body.dataset.done === "true");
    return page.evaluate(() => ({
      state: document.getElementById("state").dataset.state,
      text: document.body.innerText,
      helpdesk: document.getElementById("helpdesk").href,
      lang: document.documentElement.lang,
    }));
  },
};

const { context, worker } = await launch();
let result;
try {
  result = {
    extensionUrl: worker ? worker.url() : null,
    value: await scenarios[job.scenario](context),
  };
} catch (error) {
  result = { failure: String(error && error.stack ? error.stack : error) };
} finally {
  await context.close();
}
writeFileSync(1, `${JSON.stringify(result)}\n`);
