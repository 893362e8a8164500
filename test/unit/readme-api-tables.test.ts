// The README's option tables are checked against the public types, so that they cannot drift:
// the `$.ssh(target)` table row by row (field, declared type, @default), and the `poolConfig`
// reference (every key, and each default equal to DEFAULT_POOL_CONFIG).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POOL_CONFIG } from '../../src/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Row {
  readonly cells: string[];
}

/** The first table after a heading line, cells unescaped (`\|` → `|`), header and rule dropped. */
function tableAfter(heading: string): Row[] {
  const start = README.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no heading ${heading}`);
  const lines = README.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: Row[] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll('\\|', '|'));
    rows.push({ cells });
  }
  return rows;
}

interface Member {
  readonly name: string;
  readonly optional: boolean;
  readonly type: string;
  readonly default: string | undefined;
}

/**
 * The members of an interface exported by the package root, as declared in the source:
 * those of the interfaces it extends first, then its own.
 */
function exportedInterface(name: string): Member[] {
  const program = ts.createProgram([join(ROOT, 'src', 'index.ts')], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2023, strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const index = checker.getSymbolAtLocation(program.getSourceFile(join(ROOT, 'src', 'index.ts'))!)!;
  const symbol = checker.getExportsOfModule(index).find((s) => s.name === name);
  if (!symbol) throw new Error(`sshpool exports no ${name}`);
  return membersOf(checker, symbol);
}

function membersOf(checker: ts.TypeChecker, symbol: ts.Symbol): Member[] {
  const resolved = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  const declaration = resolved.declarations?.find(ts.isInterfaceDeclaration);
  if (!declaration) throw new Error(`${symbol.name} is not an interface`);
  const inherited = (declaration.heritageClauses ?? []).flatMap((clause) =>
    clause.types.flatMap((base) => membersOf(checker, checker.getSymbolAtLocation(base.expression)!)),
  );
  const own = declaration.members.filter(ts.isPropertySignature).map((member) => {
    const tag = ts.getJSDocTags(member).find((t) => t.tagName.text === 'default');
    const comment = tag ? ts.getTextOfJSDocComment(tag.comment) : undefined;
    return {
      name: member.name.getText(),
      optional: member.questionToken !== undefined,
      type: member.type!.getText().replace(/\s+/g, ' '),
      default: comment?.replace(/\s+/g, ' ').trim(),
    };
  });
  return [...inherited, ...own];
}

const unquote = (cell: string): string => cell.replace(/^`(.*)`$/, '$1');

describe('README API tables match the public types', () => {
  it('`$.ssh(target)`: one row per SSHTarget field, with its declared type and its @default', () => {
    const members = exportedInterface('SSHTarget');
    const rows = tableAfter('### `$.ssh(target)`');
    expect(rows.map((row) => unquote(row.cells[0]!)), 'fields, in declaration order').toEqual(members.map((m) => m.name));
    for (const [i, member] of members.entries()) {
      const [, type, defaultCell] = rows[i]!.cells;
      expect(unquote(type!), `type of ${member.name}`).toBe(member.type);
      const expected = !member.optional ? 'required' : (member.default ?? '–');
      // Code spans are the README's formatting: compare the words.
      const plain = (text: string): string => text.replaceAll('`', '');
      expect(plain(defaultCell!), `default of ${member.name}`).toBe(plain(expected));
    }
  });

  it('`poolConfig` reference: every PoolConfig key (nested ones dotted), defaults as DEFAULT_POOL_CONFIG', () => {
    const rows = tableAfter('### `poolConfig` reference');
    const documented = rows.map((row) => unquote(row.cells[0]!));
    const expected = Object.entries(DEFAULT_POOL_CONFIG).flatMap(([key, value]) => (value !== null && typeof value === 'object' ? Object.keys(value).map((inner) => `${key}.${inner}`) : [key]));
    expect([...documented].sort()).toEqual([...expected].sort());
    expect(exportedInterface('PoolConfig').map((m) => m.name).sort()).toEqual(
      [...new Set(expected.map((key) => key.split('.')[0]!))].sort(),
    );
    for (const row of rows) {
      const key = unquote(row.cells[0]!);
      const value = key.split('.').reduce<unknown>((at, part) => (at as Record<string, unknown>)[part], DEFAULT_POOL_CONFIG);
      expect(row.cells[1], `default of ${key}`).toBe(`\`${typeof value === 'string' ? `'${value}'` : String(value)}\``);
    }
  });
});
