// Builds the dashboard into OUTDIR: index.html, app.js (the bundle, Chart.js inside),
// app.css, favicon.svg. CMake (cmake/DrecWeb.cmake) then compiles them into drec.
//
//   node build.mjs [--outdir DIR] [--node-modules DIR]
//
// --node-modules lets the build use packages installed outside the source tree (CMake
// runs `npm ci` in its build directory, so several build directories never race).
import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    outdir: { type: 'string', default: path.join(here, 'dist') },
    'node-modules': { type: 'string', default: path.join(here, 'node_modules') },
  },
});
const outdir = path.resolve(values.outdir);
const nodeModules = path.resolve(values['node-modules']);
const require = createRequire(path.join(nodeModules, '..', 'build.mjs'));
const esbuild = require('esbuild');

await mkdir(outdir, { recursive: true });
await esbuild.build({
  entryPoints: [path.join(here, 'src', 'main.js')],
  outfile: path.join(outdir, 'app.js'),
  nodePaths: [nodeModules],
  bundle: true,
  format: 'iife',
  minify: true,
  target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
  legalComments: 'eof', // keeps Chart.js's license banner in the bundle
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css', 'favicon.svg']) {
  await copyFile(path.join(here, 'src', file), path.join(outdir, file));
}
console.log(`dashboard built into ${outdir}`);
