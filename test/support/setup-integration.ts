// Loaded before every integration test file (vitest setupFiles): servers a
// file started are removed when that file finishes, even if a test forgot to.
import { afterAll } from 'vitest';
import { removeAllSshd } from './sshd.js';

afterAll(async () => {
  await removeAllSshd();
});
