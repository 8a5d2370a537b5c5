/**
 * The import boundaries are lint rules, and lint rules need tests: each case lints a one-line file
 * placed (virtually) in a folder and expects the boundary rule to fire, or not.
 */
import { ESLint } from 'eslint';
import { describe, expect, test } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function restrictedImports(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import boundaries', () => {
  test.each([
    ['src/main/engine/pipelines/x.ts', "import { app } from 'electron';", /Electron/],
    ['src/main/engine/pipelines/x.ts', "import Database from 'better-sqlite3';", /database/],
    ['src/main/engine/pipelines/x.ts', "import Store from 'electron-store';", /settings store/],
    ['src/main/engine/pipelines/x.ts', "import { a } from '../../services/settings/defaults';", /services/],
    ['src/main/engine/pipelines/x.ts', "import * as ort from 'onnxruntime-node';", /Only engine\/backend\/ort\.ts/],
    ['src/main/services/gallery/x.ts', "import { dialog } from 'electron';", /injected ports/],
    ['src/main/web.ts', "import { app } from 'electron';", /plain Node/],
    ['src/renderer/src/features/x.tsx', "import { readFileSync } from 'node:fs';", /no Node/],
    ['src/renderer/src/features/x.tsx', "import { readFileSync } from 'fs';", /no Node/],
    ['src/renderer/src/features/x.tsx', "import { ipcRenderer } from 'electron';", /window\.studio/],
    [
      'src/renderer/src/features/x.tsx',
      "import { AppServices } from '../../../../main/AppServices';",
      /only the contract/,
    ],
  ])('%s: %s is refused', async (file, code, message) => {
    const messages = await restrictedImports(file, `${code}\nexport const used = 1;\n`);
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.join('\n')).toMatch(message);
  });

  test.each([
    ['src/main/engine/backend/ort.ts', "import * as ort from 'onnxruntime-node';"],
    ['src/main/engine/pipelines/x.ts', "import { readFile } from 'node:fs/promises';"],
    ['src/main/index.ts', "import { app } from 'electron';"],
    ['src/renderer/src/features/x.tsx', "import { methods } from '@contract';"],
  ])('%s: %s is allowed', async (file, code) => {
    expect(await restrictedImports(file, `${code}\nexport const used = 1;\n`)).toEqual([]);
  });
});
