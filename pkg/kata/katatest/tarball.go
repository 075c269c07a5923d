// Package katatest builds small kata-static-shaped tarballs for tests: the
// files the kata step and the readiness checks look at, with binaries that
// are ELF headers of a chosen architecture.
package katatest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// QemuConf is the configuration-qemu.toml of the tarballs.
const QemuConf = `[hypervisor.qemu]
path = "/opt/kata/bin/qemu-system-x86_64"
kernel = "/opt/kata/share/kata-containers/vmlinux.container"
`

// ELF is the 64-byte header of a little-endian ELF64 executable for arch
// (amd64, arm64): enough for an architecture check, not to run.
func ELF(t testing.TB, arch string) []byte {
	t.Helper()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if machine == 0 {
		t.Fatalf("katatest: no ELF machine for %q", arch)
	}
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Tarball is a kata-static tarball for arch, compressed with compress
// ("zst", "xz" or "gz"), with extra entries after its files.
func Tarball(t testing.TB, arch, compress string, extra ...tar.Header) []byte {
	t.Helper()
	bin := string(ELF(t, arch))
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, f := range []struct{ name, body string }{
		{"./opt/kata/bin/containerd-shim-kata-v2", bin},
		{"./opt/kata/bin/qemu-system-x86_64", bin},
		{"./opt/kata/share/defaults/kata-containers/configuration-qemu.toml", QemuConf},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	for _, hdr := range extra {
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var err error
	switch compress {
	case "zst":
		var zw *zstd.Encoder
		if zw, err = zstd.NewWriter(&out); err == nil {
			_, err = zw.Write(raw.Bytes())
			err = firstErr(err, zw.Close())
		}
	case "xz":
		var xw *xz.Writer
		if xw, err = xz.NewWriter(&out); err == nil {
			_, err = xw.Write(raw.Bytes())
			err = firstErr(err, xw.Close())
		}
	case "gz":
		gw := gzip.NewWriter(&out)
		_, err = gw.Write(raw.Bytes())
		err = firstErr(err, gw.Close())
	default:
		t.Fatalf("katatest: unknown compression %q", compress)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
