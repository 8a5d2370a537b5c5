// Import boundaries per runtime, as ESLint `no-restricted-imports` rules. Kept in their own module so
// the lint-boundary test can load exactly what `npm run lint` enforces.
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

const electronAndStores = [
  {
    name: 'electron',
    message: 'The engine is pure Node: Electron belongs to src/main/index.ts and platform/electron.',
  },
  { name: 'better-sqlite3', message: 'The engine never touches the database.' },
  { name: 'electron-store', message: 'The engine never touches the settings store.' },
  { name: 'conf', message: 'The engine never touches the settings store.' },
];

export const boundaryRules = [
  {
    files: ['src/main/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: electronAndStores,
          patterns: [
            { group: ['**/services/**', '@main/services/**'], message: 'The engine must not import services.' },
            { group: ['**/ipc/**', '@main/ipc/**'], message: 'The engine must not import the IPC layer.' },
            {
              group: ['**/platform/**', '@main/platform/**'],
              message: 'The engine must not import platform adapters.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/main/engine/**/*.ts'],
    ignores: ['src/main/engine/backend/ort.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...electronAndStores,
            { name: 'onnxruntime-node', message: 'Only engine/backend/ort.ts imports onnxruntime-node.' },
          ],
          patterns: [
            { group: ['**/services/**', '@main/services/**'], message: 'The engine must not import services.' },
            { group: ['**/ipc/**', '@main/ipc/**'], message: 'The engine must not import the IPC layer.' },
            {
              group: ['**/platform/**', '@main/platform/**'],
              message: 'The engine must not import platform adapters.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/main/services/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'Services get Electron things as injected ports, never by import.' }],
          patterns: [{ group: ['**/platform/electron/**'], message: 'Services never import Electron adapters.' }],
        },
      ],
    },
  },
  {
    files: ['src/main/web.ts', 'src/main/cli.ts', 'src/main/platform/node/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'The web host and the CLI run in plain Node: no Electron.' },
            { name: 'electron-store', message: 'The web host uses conf, not electron-store.' },
          ],
          patterns: [{ group: ['**/platform/electron/**'], message: 'The web host never loads Electron adapters.' }],
        },
      ],
    },
  },
  {
    files: ['src/renderer/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({
              name,
              message: 'The renderer has no Node: ask main through the contract.',
            })),
            { name: 'electron', message: 'The renderer talks to main only through window.studio (api/).' },
            { name: 'onnxruntime-node', message: 'The renderer never runs the engine.' },
            { name: 'better-sqlite3', message: 'The renderer never touches the database.' },
            { name: 'sharp', message: 'The renderer never touches sharp.' },
          ],
          patterns: [
            {
              group: ['**/main/**', '@main/*', '@engine/*'],
              message: 'The renderer imports only the contract from main’s side.',
            },
            { group: ['**/preload/index*'], message: 'The renderer imports only the contract, not the preload.' },
          ],
        },
      ],
    },
  },
];
