// GraphiQL at /graphql in headless Chromium, against a server that serves GET /graphql
// (web/graphiql/index.html), GET /graphql/assets/<file> (web/graphiql/<file>) and
// POST /graphql: the page must load nothing from another origin, break no rule of its
// Content-Security-Policy, render its editor even when introspection is refused to an
// anonymous caller, and run `{ __typename }` to `"__typename": "Query"`.
//
// Environment: MEDCHAIN_URL, CHROMIUM.

import { chromium } from 'playwright-core';

const base = process.env.MEDCHAIN_URL;
if (!base) {
  console.error('graphiql: MEDCHAIN_URL is not set');
  process.exit(1);
}
const origin = new URL(base).origin;
const host = new URL(base).host;

const problems = [];
const requests = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});

function step(text) {
  console.log(`- ${text}`);
}

/** The sources a CSP lets scripts come from: script-src, else default-src. */
function scriptSources(csp) {
  const directives = new Map(
    csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...v]) => [name.toLowerCase(), v]),
  );
  return directives.get('script-src') ?? directives.get('default-src') ?? null;
}

try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15000);

  // Every request the page (or anything it starts) makes; data: and blob: are no requests.
  context.on('request', (r) => {
    const url = r.url();
    if (url.startsWith('data:') || url.startsWith('blob:')) return;
    requests.push(`${r.method()} ${url}`);
    if (new URL(url).origin !== origin) problems.push(`a request to another origin: ${r.method()} ${url}`);
  });
  page.on('websocket', (ws) => {
    requests.push(`WEBSOCKET ${ws.url()}`);
    if (new URL(ws.url()).host !== host) problems.push(`a socket to another origin: ${ws.url()}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content[- ]Security[- ]Policy/i.test(m.text())) {
      problems.push(`a Content-Security-Policy violation: ${m.text().slice(0, 300)}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`an uncaught error in the page: ${e.message}`));
  await page.exposeFunction('__reportCspViolation', (v) => problems.push(`a Content-Security-Policy violation: ${v}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__reportCspViolation(`${e.effectiveDirective} blocked ${(e.blockedURI || 'inline').slice(0, 100)} (${e.sourceFile}:${e.lineNumber})`);
    });
  });

  step('GET /graphql serves GraphiQL under a Content-Security-Policy');
  const response = await page.goto(`${base}/graphql`);
  if (!response.ok()) throw new Error(`GET /graphql answered ${response.status()}`);
  const csp = response.headers()['content-security-policy'];
  if (!csp) {
    problems.push('GET /graphql carries no Content-Security-Policy header');
  } else {
    const sources = scriptSources(csp);
    const loose = (sources ?? ['(none: no script-src or default-src)']).filter((s) => !/^'(self|none|sha(256|384|512)-[^']+|nonce-[^']+)'$/.test(s));
    if (!sources || loose.length) problems.push(`the CSP's script-src allows more than this origin: ${loose.join(' ')} (in "${csp}")`);
  }

  step('GraphiQL renders its editor (introspection may be refused)');
  await page.locator('.graphiql-container').waitFor();
  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.waitFor();

  step('{ __typename } runs and answers "Query"');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type('{ __typename }');
  await page.keyboard.press('Escape'); // closes a hint list, if one opened
  const query = await editor.evaluate((cm) => cm.CodeMirror.getValue());
  if (query.replace(/\s+/g, '') !== '{__typename}') throw new Error(`the editor holds ${JSON.stringify(query)}, not { __typename }`);
  await page.locator('.graphiql-execute-button').click();
  await page.locator('.graphiql-response', { hasText: '"__typename": "Query"' }).waitFor();
} catch (error) {
  problems.push(`a step failed: ${error.stack ?? error}`);
} finally {
  await browser.close();
}

if (problems.length) {
  console.error(problems.join('\n'));
  console.error(`requests the page made:\n  ${requests.join('\n  ')}`);
  process.exit(1);
}
console.log('graphiql ok');
