import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderAuditHtml, runAudit } from '../../pipeline/audit/index.js';
import { writeNativeDataset } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) {
  // Said once, loudly: this is the only test that needs a browser.
  process.stderr.write(`skipping the HTML rendering test: ${CHROMIUM} is missing (apt-get install -y chromium)\n`);
}

/**
 * Runs in the page (as source text: the project's TypeScript has no DOM types): the share of pixels
 * of a PNG whose channels differ by more than 60, i.e. coloured rather than white, grey or black.
 */
const COUNT_COLOURED = `async (data) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + data;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const px = ctx.getImageData(0, 0, img.width, img.height).data;
  let coloured = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (Math.max(px[i], px[i + 1], px[i + 2]) - Math.min(px[i], px[i + 1], px[i + 2]) > 60) coloured++;
  }
  return coloured / (px.length / 4);
}`;

describe.skipIf(!HAS_CHROMIUM)('the HTML audit report in headless Chromium', () => {
  let dir: string;
  let page: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'audit-html-'));
    // A dataset with a planted length bias and a leaky query, so every chart and table has something to show.
    await writeNativeDataset(join(dir, 'data'), {
      longGold: true,
      leakQuery: { item: 5, query: 'Which vegan dinner can I cook tonight that keeps my diet strict?' },
    });
    const { report } = await runAudit(join(dir, 'data'));
    page = join(dir, 'report.html');
    await writeFile(page, renderAuditHtml(report));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('renders offline without console errors, and its charts are drawn', async () => {
    const context = await chromium.launchPersistentContext(await mkdtemp(join(dir, 'profile-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    try {
      const tab = await context.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      tab.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      tab.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      tab.on('request', (r) => requests.push(r.url()));
      await tab.setViewportSize({ width: 1200, height: 900 });
      await tab.goto(pathToFileURL(page).href, { waitUntil: 'load', timeout: 30_000 });
      expect(await tab.title()).toContain('personagen audit');
      await expect(tab.locator('#rule-query_leakage td.id').first().textContent()).resolves.toBe('questions.jsonl:6 (u1-p005)');

      for (const id of ['chart-bias', 'chart-blind']) {
        const chart = tab.locator(`#${id}`);
        const box = await chart.boundingBox();
        expect(box?.width ?? 0).toBeGreaterThan(400);
        const png = await chart.screenshot();
        // Decode the screenshot in the page and count strongly coloured pixels (the bars).
        const share = (await tab.evaluate(`(${COUNT_COLOURED})(${JSON.stringify(png.toString('base64'))})`)) as number;
        expect(share, `${id}: share of coloured pixels`).toBeGreaterThan(0.02);
      }
      expect(problems).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
