#!/usr/bin/env node
// The `basin` command. Run `npm run setup` once (npm start / npm test do it for you).
import { existsSync } from 'node:fs';
const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('basin is not built yet: run `npm run setup` in the basin folder');
  process.exit(1);
}
await import(main.href);
