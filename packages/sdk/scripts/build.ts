/**
 * Builds the browser SDK with esbuild and checks its size budgets (minified + gzip):
 * the core (tracker, auto-capture, delivery, replay loader) ≤ 6 KB and the replay
 * recorder chunk ≤ 30 KB (DESIGN.md section 11).
 *
 *   dist/sightline.iife.js            <script> build, global `Sightline`
 *   dist/sightline-recorder.iife.js   recorder, injected by the IIFE build on demand
 *   dist/esm/index.js (+ chunks)      ESM build; the recorder is a chunk imported dynamically
 *
 * Usage: npm run build -w @sightline/sdk   (or: npm run sdk:build at the root)
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';

const PACKAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(PACKAGE, 'dist');

export const BUDGETS = { core: 6 * 1024, recorder: 30 * 1024 };

export type SdkSize = { file: string; minified: number; gzip: number; budget?: number };

const common: BuildOptions = {
  bundle: true,
  minify: true,
  target: 'es2021',
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: PACKAGE,
};

/**
 * Builds every output into `outDir` and returns the sizes, budgets attached.
 *
 * @example
 * const sizes = await buildSdk();
 */
export async function buildSdk(outDir: string = DIST): Promise<SdkSize[]> {
  rmSync(outDir, { recursive: true, force: true });
  await Promise.all([
    build({ ...common, entryPoints: ['src/iife.ts'], format: 'iife', outfile: path.join(outDir, 'sightline.iife.js') }),
    build({ ...common, entryPoints: ['src/recorder-iife.ts'], format: 'iife', outfile: path.join(outDir, 'sightline-recorder.iife.js') }),
    build({
      ...common,
      entryPoints: ['src/index.ts'],
      format: 'esm',
      splitting: true,
      outdir: path.join(outDir, 'esm'),
      chunkNames: 'chunk-[hash]',
    }),
  ]);
  const size = (files: string[], budget?: number): SdkSize => {
    const parts = files.map((relative) => readFileSync(path.join(outDir, relative)));
    return {
      file: files.join(' + '),
      minified: parts.reduce((sum, bytes) => sum + bytes.length, 0),
      // What a browser transfers: each file gzipped on its own.
      gzip: parts.reduce((sum, bytes) => sum + gzipSync(bytes, { level: 9 }).length, 0),
      budget,
    };
  };
  // ESM: the entry and the chunks it imports statically load at once (the core); the chunk it
  // imports dynamically is the recorder.
  const entry = readFileSync(path.join(outDir, 'esm/index.js'), 'utf8');
  const chunks = (pattern: RegExp) => [...entry.matchAll(pattern)].map((m) => `esm/${m[1]}`);
  const eager = chunks(/from\s*"\.\/(chunk-[\w-]+\.js)"/g);
  const lazy = chunks(/import\(\s*"\.\/(chunk-[\w-]+\.js)"\s*\)/g);
  return [
    size(['sightline.iife.js'], BUDGETS.core),
    size(['sightline-recorder.iife.js'], BUDGETS.recorder),
    size(['esm/index.js', ...eager], BUDGETS.core),
    size(lazy, BUDGETS.recorder),
  ];
}

/** Rows for the terminal, and whether every budget holds. */
export function formatSizes(sizes: SdkSize[]): { lines: string[]; ok: boolean } {
  const kb = (n: number) => `${(n / 1024).toFixed(2)} KB`;
  const lines = sizes.map((s) => {
    const verdict =
      s.budget === undefined ? '' : s.gzip <= s.budget ? `ok (budget ${kb(s.budget)}, ${s.budget - s.gzip} B left)` : `OVER BUDGET (${kb(s.budget)}) by ${s.gzip - s.budget} B`;
    return `${s.file.padEnd(40)} ${kb(s.minified).padStart(10)} min ${kb(s.gzip).padStart(9)} gzip  ${verdict}`;
  });
  return { lines, ok: sizes.every((s) => s.budget === undefined || s.gzip <= s.budget) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { lines, ok } = formatSizes(await buildSdk());
  console.log(`Sightline SDK → ${path.relative(process.cwd(), DIST) || DIST}`);
  for (const line of lines) console.log(`  ${line}`);
  if (!ok) {
    console.error('a bundle is over its size budget');
    process.exit(1);
  }
}
