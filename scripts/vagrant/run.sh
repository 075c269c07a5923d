#!/usr/bin/env bash
# Build eksd-kata, boot the test VM, and run check and bootstrap in it.
#   scripts/vagrant/run.sh                 check + bootstrap
#   scripts/vagrant/run.sh check           only the preflight
#   scripts/vagrant/run.sh destroy         remove the VM
# Bootstrap's flags are EKSD_KATA_FLAGS, by default "--install-kata 3.32.0"
# (Kata from its release); a tarball rsynced with the binary instead:
#   EKSD_KATA_FLAGS="--install-kata /eksd-kata/kata-static-3.21.0-amd64.tar.zst --kata-sha256 <sha256>"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

case "${1:-all}" in
destroy)
	cd "$here" && vagrant destroy -f
	exit 0
	;;
esac

make -C "$repo" build
cd "$here"
vagrant up --provider=libvirt
vagrant rsync
vagrant ssh -c "sudo install -m 0755 /eksd-kata/eksd-kata /usr/local/bin/eksd-kata"
vagrant ssh -c "sudo eksd-kata check" || true
if [ "${1:-all}" = check ]; then
	exit 0
fi
# shellcheck disable=SC2086 # EKSD_KATA_FLAGS is a list of flags on purpose
vagrant ssh -c "sudo eksd-kata bootstrap ${EKSD_KATA_FLAGS:---install-kata 3.32.0}"
vagrant ssh -c "sudo eksd-kata verify"
