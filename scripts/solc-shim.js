#!/usr/bin/env node
// Answers py-solc-x like a native solc binary, backed by the npm solcjs module:
//   --version                  prints "solc, the solidity compiler commandline interface\nVersion: X"
//   --standard-json            reads Standard JSON on stdin, writes only the output JSON on stdout
// Flags native solc accepts and solcjs does not (--allow-paths, --base-path, --include-path, ...) are
// accepted; --base-path and --include-path are used to resolve imports.
'use strict';
const fs = require('fs');
const path = require('path');

function loadSolc() {
  const roots = [process.env.IPLEDGER_NODE_MODULES, path.join(__dirname, '..', 'node_modules'), process.cwd()];
  for (const root of roots) {
    if (!root) continue;
    try {
      return require(require.resolve('solc', { paths: [root] }));
    } catch (e) { /* try the next root */ }
  }
  process.stderr.write('solc-shim: the npm package "solc" is not installed (run npm ci)\n');
  process.exit(2);
}

const argv = process.argv.slice(2);
const takesValue = new Set(['--allow-paths', '--base-path', '--include-path', '--output-dir', '--evm-version']);
const opts = { includePaths: [] };
const flags = new Set();
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  let key = a, value;
  if (a.includes('=')) { [key, value] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]; }
  else if (takesValue.has(a)) { value = argv[++i]; }
  if (key === '--base-path') opts.basePath = value;
  else if (key === '--include-path') opts.includePaths.push(value);
  flags.add(key);
}

const solc = loadSolc();
if (flags.has('--version')) {
  process.stdout.write('solc, the solidity compiler commandline interface\nVersion: ' + solc.version() + '\n');
  process.exit(0);
}
if (!flags.has('--standard-json')) {
  process.stderr.write('solc-shim: only --version and --standard-json are supported\n');
  process.exit(2);
}

const roots = [opts.basePath, ...opts.includePaths].filter(Boolean);
function findImports(unitName) {
  for (const root of roots.length ? roots : [process.cwd()]) {
    const candidate = path.resolve(root, unitName);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, 'utf8') };
  }
  return { error: 'File not found: ' + unitName };
}

const input = fs.readFileSync(0, 'utf8');
// solcjs.compile returns the output JSON as a string; nothing else is printed.
process.stdout.write(solc.compile(input, { import: findImports }));
process.stdout.write('\n');
