package preflight

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
)

// pvmSupport is what a guest kernel image says of PVM guest support, which
// a Kata VM needs to boot where /dev/kvm comes from kvm_pvm.
type pvmSupport int

const (
	pvmUnknown   pvmSupport = iota
	pvmConfigYes            // its embedded config has CONFIG_PVM_GUEST=y
	pvmConfigNo             // its embedded config has not
	pvmCode                 // it carries the PVM guest's messages
)

func (s pvmSupport) String() string {
	switch s {
	case pvmConfigYes:
		return "built with CONFIG_PVM_GUEST=y (its embedded config)"
	case pvmConfigNo:
		return "built without PVM guest support (its embedded config has no CONFIG_PVM_GUEST=y)"
	case pvmCode:
		return "built with PVM guest support (it carries the PVM guest's \"pvm-guest: \" messages)"
	}
	return "its image does not say whether it was built with PVM guest support (no embedded config, no PVM guest code found; a compressed image cannot be read)"
}

// The marks read from an uncompressed kernel image (vmlinux, what Kata's
// qemu, clh and fc configurations boot): the embedded config of
// CONFIG_IKCONFIG (gzip data after "IKCFG_ST"), and the message prefix of
// the PVM guest code (arch/x86/kernel/pvm.c, built only with
// CONFIG_PVM_GUEST).
var (
	ikconfigStart = []byte("IKCFG_ST")
	pvmGuestMark  = []byte("pvm-guest: ")
)

// inspectPVM reads a kernel image once, up to the first mark it finds.
func inspectPVM(r io.Reader) (pvmSupport, error) {
	const chunk = 1 << 20
	keep := max(len(ikconfigStart), len(pvmGuestMark)) - 1 // a mark may straddle two reads
	buf := make([]byte, 0, keep+chunk)
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if i := bytes.Index(buf, ikconfigStart); i >= 0 {
			return embeddedConfig(io.MultiReader(bytes.NewReader(buf[i+len(ikconfigStart):]), r))
		}
		if bytes.Contains(buf, pvmGuestMark) {
			return pvmCode, nil
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return pvmUnknown, nil
		}
		if err != nil {
			return pvmUnknown, err
		}
		buf = buf[:copy(buf, buf[len(buf)-keep:])]
	}
}

// embeddedConfig reads the gzip'd kernel config that follows IKCFG_ST.
func embeddedConfig(r io.Reader) (pvmSupport, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return pvmUnknown, nil // a stray mark, not a config
	}
	zr.Multistream(false)
	sc := bufio.NewScanner(io.LimitReader(zr, 4<<20))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "CONFIG_PVM_GUEST=y" {
			return pvmConfigYes, nil
		}
	}
	if sc.Err() != nil {
		return pvmUnknown, nil
	}
	return pvmConfigNo, nil
}
