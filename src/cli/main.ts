// The `basin` command line: a registry of commands, each with --help.

import type { Command } from './command.js';
import { describeRuntime } from '../tensor/runtime.js';
import { UsageError } from './command.js';
import { demo } from './commands/demo.js';
import { inspect } from './commands/inspect.js';
import { generateCommand } from './commands/generate.js';
import { world } from './commands/world.js';
import { trainCommand } from './commands/train.js';
import { study } from './commands/study.js';
import { evalCommand } from './commands/eval.js';
import { serveCommand } from './commands/serve.js';
import { saeCommand } from './commands/sae.js';

const commands: Command[] = [world, study, trainCommand, evalCommand, saeCommand, serveCommand, inspect, generateCommand, demo];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'basin — persona representations, emergent misalignment and persona basins in language models',
    '',
    'usage: basin <command> [flags]     (basin <command> --help for each)',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name === undefined ? 1 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    console.error(`basin: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--verbose') || rest.includes('-v')) console.error(`basin: ${describeRuntime()}`);
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      console.error(`basin ${name}: ${(e as Error).message}\n\n${command.usage}`);
      return 2;
    }
    // Bad input (a missing file, a broken config, a NaN loss) is an Error whose message names
    // the problem and the fix: show that, and the stack only with --verbose.
    if (e instanceof Error && !rest.includes('--verbose')) {
      console.error(`basin ${name}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = await main(process.argv.slice(2));
