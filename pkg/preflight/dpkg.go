package preflight

import (
	"bufio"
	"bytes"
	"strings"
)

// maxDpkgStatus bounds dpkg's package database: a few MB on a full system.
const maxDpkgStatus = 64 << 20

// dpkgVersion returns the version of the Debian package that installed the
// file at host path p ("" when dpkg does not own it). Reading dpkg's
// database costs far less than starting the binary to ask it (tens of ms
// for containerd), and it works under --root on an offline image too.
func dpkgVersion(e *Env, p string, packages ...string) string {
	for _, pkg := range packages {
		if !dpkgOwns(e, pkg, p) {
			continue
		}
		b, err := e.Host.FS.ReadInput("/var/lib/dpkg/status", maxDpkgStatus)
		if err != nil {
			return ""
		}
		return dpkgStatusVersion(b, pkg)
	}
	return ""
}

// dpkgOwns reports whether package pkg's file list names p.
func dpkgOwns(e *Env, pkg, p string) bool {
	for _, list := range []string{pkg + ".list", pkg + ":amd64.list", pkg + ":arm64.list"} {
		b, err := e.Host.FS.ReadInput("/var/lib/dpkg/info/"+list, maxDpkgStatus)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if sc.Text() == p {
				return true
			}
		}
	}
	return false
}

// dpkgStatusVersion finds the Version of an installed package in
// /var/lib/dpkg/status (paragraphs of "Key: value" lines).
func dpkgStatusVersion(status []byte, pkg string) string {
	sc := bufio.NewScanner(bytes.NewReader(status))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	in, installed, version := false, false, ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if in && installed {
				return version
			}
			in, installed, version = false, false, ""
		case strings.HasPrefix(line, "Package: "):
			in = strings.TrimPrefix(line, "Package: ") == pkg
		case in && strings.HasPrefix(line, "Status: "):
			installed = strings.HasSuffix(line, " installed")
		case in && strings.HasPrefix(line, "Version: "):
			version = strings.TrimPrefix(line, "Version: ")
		}
	}
	if in && installed {
		return version
	}
	return ""
}
