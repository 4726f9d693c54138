// Lists the public calls of the npm API (methods of the exported classes and of the Kms
// interface, exported functions) whose doc comment has no `@example`; with --fix FILE,
// inserts the examples FILE (JSON: name → one line) gives. The npm step fails when any
// public call lacks one (every call documented with a one-line example).
import ts from 'typescript';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const fix = process.argv.indexOf('--fix') > 0 ? JSON.parse(readFileSync(process.argv[process.argv.indexOf('--fix') + 1], 'utf8')) : undefined;
const missing = [];
let total = 0;
for (const f of ['src/api.ts', 'src/decrypt.ts', 'src/secrets.ts']) {
  const path = join(here, f);
  let text = readFileSync(path, 'utf8');
  const sf = ts.createSourceFile(f, text, ts.ScriptTarget.ES2022, true);
  const edits = [];
  const exported = (n) => n.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  const check = (n, name) => {
    total++;
    const docs = ts.getJSDocCommentsAndTags(n).filter(ts.isJSDoc);
    if (docs.some((d) => d.getText().includes('@example'))) return;
    missing.push(`${f}: ${name}`);
    const line = fix?.[name];
    if (!line) return;
    const d = docs[docs.length - 1];
    const indent = ' '.repeat(n.getStart(sf) - text.lastIndexOf('\n', n.getStart(sf)) - 1);
    if (d) edits.push([d.getEnd() - 2, `\n${indent} * @example ${line}\n${indent} `.replace(/ \n/g, '\n')]);
    else edits.push([n.getStart(sf), `/** @example ${line} */\n${indent}`]);
  };
  const visit = (n, cls) => {
    if (!cls && ts.isClassDeclaration(n) && n.name && exported(n)) return n.members.forEach((m) => visit(m, n.name.text));
    if (!cls && ts.isInterfaceDeclaration(n) && n.name.text === 'Kms') return n.members.forEach((m) => visit(m, 'Kms'));
    if (cls && (ts.isMethodDeclaration(n) || ts.isMethodSignature(n)) && n.name && ts.isIdentifier(n.name)) {
      const priv = n.modifiers?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword);
      if (!n.name.text.startsWith('_') && !priv) check(n, `${cls}.${n.name.text}`);
    }
    if (!cls && ts.isFunctionDeclaration(n) && n.name && exported(n) && !n.name.text.startsWith('_') && f !== 'src/secrets.ts') {
      const internal = ts.getJSDocTags(n).some((t) => t.tagName.text === 'internal') || /@internal/.test(ts.getJSDocCommentsAndTags(n).map((d) => d.getText()).join(''));
      if (!internal) check(n, n.name.text);
    }
  };
  sf.statements.forEach((s) => visit(s));
  if (fix && edits.length) {
    for (const [at, ins] of edits.sort((a, b) => b[0] - a[0])) text = text.slice(0, at) + ins + text.slice(at);
    writeFileSync(path, text);
  }
}
if (missing.length && !fix) {
  console.log(`${missing.length} of ${total} public calls have no @example:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
if (!fix) console.log(`every one of ${total} public calls has an @example`);
