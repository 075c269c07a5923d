// Package ctrtest runs real containerd daemons for tests: Debian's 1.6 from
// PATH and a 2.x built from the module we depend on. Each daemon gets its
// own root, state, sockets and opt directory under a temporary directory,
// so tests never touch the host's containerd.
package ctrtest
