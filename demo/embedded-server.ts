// The demo's SSH server is the in-process server the unit tests use: a real SSH protocol
// server (ssh2's) on 127.0.0.1 that runs commands with /bin/sh.
export { EmbeddedSshServer } from '../test/support/embedded-ssh-server.js';
