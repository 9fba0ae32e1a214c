/**
 * Enforces DESIGN.md's dependency directions on resolved import paths:
 * `http <- ingest|query|replay|sync|auth -> storage -> protocol`; capabilities
 * never import each other; `sdk` and `dashboard` import only `protocol`; the
 * core never imports a capability. Also: only `config.ts` reads `process.env`.
 *
 * Usage: node --import tsx scripts/lint-deps.ts
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SERVER = 'apps/server/src';
const CAPABILITIES = ['auth', 'ingest', 'query', 'replay', 'sync'];

/** The layer a repository file belongs to, or undefined for files outside the rules. */
export function layerOf(relativePath: string): string | undefined {
  const p = relativePath.split(path.sep).join('/');
  if (p.startsWith('packages/protocol/')) return 'protocol';
  if (p.startsWith('packages/sdk/')) return 'sdk';
  if (p.startsWith('apps/dashboard/')) return 'dashboard';
  if (!p.startsWith(`${SERVER}/`)) return undefined;
  const first = p.slice(SERVER.length + 1).split('/')[0] ?? '';
  if (first === 'http' || first === 'storage' || CAPABILITIES.includes(first)) return first;
  return 'root';
}

/** Which layers each layer may import (itself always allowed). */
const ALLOWED: Record<string, readonly string[]> = {
  protocol: [],
  sdk: ['protocol'],
  dashboard: ['protocol'],
  storage: ['protocol'],
  http: ['protocol'],
  ...Object.fromEntries(CAPABILITIES.map((c) => [c, ['http', 'storage', 'protocol']])),
  // The composition root (main.ts, cli.ts, config.ts…) wires everything.
  root: ['http', 'storage', 'protocol', ...CAPABILITIES, 'root'],
};

export type Violation = { file: string; line: number; message: string };

/**
 * Checks one file's imports (resolved the way TypeScript resolves them) and
 * its use of `process.env`.
 *
 * @example
 * checkFile('apps/server/src/ingest/writer.ts', source); // [] when clean
 */
export function checkFile(relativeFile: string, source: string, options: ts.CompilerOptions = compilerOptions()): Violation[] {
  const from = layerOf(relativeFile);
  const violations: Violation[] = [];
  const absolute = path.join(ROOT, relativeFile);
  const isTest =
    /\.(test|suite|contract)\.ts$/.test(relativeFile) ||
    /(^|\/)(testing\/|test-[^/]*\.ts$)/.test(relativeFile) ||
    relativeFile.startsWith('bench/') ||
    relativeFile.startsWith('e2e/');
  const info = ts.preProcessFile(source, true, true);
  const lineOf = (pos: number) => source.slice(0, pos).split('\n').length;
  for (const ref of info.importedFiles) {
    const resolved = ts.resolveModuleName(ref.fileName, absolute, options, ts.sys).resolvedModule;
    // A relative import of a file that does not exist yet is still judged by its path.
    const resolvedPath = resolved
      ? fs_realpath(resolved.resolvedFileName)
      : ref.fileName.startsWith('.') ? path.resolve(path.dirname(absolute), ref.fileName) : undefined;
    if (!resolvedPath) continue;
    const target = path.relative(ROOT, resolvedPath);
    if (target.split(path.sep).includes('node_modules')) continue;
    const to = layerOf(target);
    if (!from || !to || from === to) continue;
    // Tests may use the test harness, which composes the whole server.
    if (isTest && to === 'root') continue;
    if (!(ALLOWED[from] ?? []).includes(to)) {
      violations.push({
        file: relativeFile,
        line: lineOf(ref.pos),
        message: `${from} must not import ${to} (${ref.fileName} -> ${target})`,
      });
    }
  }
  const readsEnv = /process\.env\b/.exec(source);
  if (readsEnv && !isTest && relativeFile.startsWith('apps/') && !relativeFile.endsWith(`${SERVER}/config.ts`)) {
    violations.push({ file: relativeFile, line: lineOf(readsEnv.index), message: 'only config.ts reads process.env' });
  }
  return violations;
}

function fs_realpath(file: string): string {
  return ts.sys.realpath ? ts.sys.realpath(file) : file;
}

function compilerOptions(): ts.CompilerOptions {
  const configPath = path.join(ROOT, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  return ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT).options;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|tsx)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

function main(): void {
  const options = compilerOptions();
  const roots = ['apps', 'packages'].filter((d) => {
    try {
      readdirSync(path.join(ROOT, d));
      return true;
    } catch {
      return false;
    }
  });
  const files = roots.flatMap(sourceFiles);
  const violations = files.flatMap((file) => checkFile(file, readFileSync(path.join(ROOT, file), 'utf8'), options));
  for (const v of violations) console.error(`${v.file}:${v.line}: ${v.message}`);
  console.log(`lint-deps: ${files.length} files checked, ${violations.length} violation(s)`);
  if (violations.length > 0) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
