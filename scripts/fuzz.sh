#!/usr/bin/env bash
# Runs every fuzz target (or those named as arguments) for FUZZTIME, one
# after the other: go test fuzzes one target per run. A crash is saved under the package's
# testdata/fuzz/<Target>/, where go test replays it from then on.
#
# FuzzUnpack unpacks archives onto the disk, so an escape it finds really
# writes outside its scratch directory: as root it runs as nobody, chrooted
# into a throwaway directory in its own mount namespace.
set -uo pipefail

GO=${GO:-go}
# Minimizing by count, not time: a timed-out minimization restarts the
# worker, which left the large-input targets with a few hundred runs a minute.
flags=(-fuzztime="${FUZZTIME:-30s}" -fuzzminimizetime="${FUZZMINIMIZETIME:-50x}" -parallel="${FUZZPARALLEL:-1}")
targets=(
	"./pkg/config FuzzNodeConfig"
	"./pkg/containerd FuzzContainerdConfig"
	"./pkg/eksd FuzzReleaseManifest"
	"./pkg/images FuzzImageArchive"
	"./pkg/host FuzzUnpack"
)

# jailed fuzzes target name of package pkg in a chroot as nobody and copies
# the inputs it saved back into the package's testdata.
jailed() {
	local pkg=$1 name=$2 jail rc
	jail=$(mktemp -d /tmp/eksd-kata-fuzz.XXXXXX)
	chmod 755 "$jail"
	mkdir -p "$jail"/{tmp,proc,dev,cache,testdata/fuzz/"$name"}
	chmod 1777 "$jail/tmp"
	touch "$jail/dev/null"
	if [ -d "$pkg/testdata/fuzz/$name" ]; then
		cp -r "$pkg/testdata/fuzz/$name/." "$jail/testdata/fuzz/$name/"
	fi
	chown -R 65534:65534 "$jail/cache" "$jail/testdata"
	if ! CGO_ENABLED=0 "$GO" test -c -fuzz "^$name\$" -o "$jail/fuzz.test" "$pkg"; then
		rm -rf "$jail"
		return 1
	fi
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --pid --fork --mount-proc="$jail/proc" sh -c \
		'mount --bind /dev/null "$1/dev/null" && j=$1 && shift && exec chroot --userspec=65534:65534 "$j" /fuzz.test "$@"' \
		sh "$jail" -test.run='^$' -test.fuzz="^$name\$" -test.fuzzcachedir=/cache "${flags[@]/#-/-test.}"
	rc=$?
	if [ -n "$(ls -A "$jail/testdata/fuzz/$name")" ]; then
		mkdir -p "$pkg/testdata/fuzz/$name"
		cp -rn "$jail/testdata/fuzz/$name/." "$pkg/testdata/fuzz/$name/"
	fi
	rm -rf "$jail"
	return $rc
}

failed=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
		continue
	fi
	echo "== $name ($pkg)"
	if [ "$name" = FuzzUnpack ] && [ "$(id -u)" = 0 ]; then
		jailed "$pkg" "$name" || failed+=("$name")
	else
		"$GO" test "$pkg" -run '^$' -fuzz "^$name\$" "${flags[@]}" || failed+=("$name")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: failed: ${failed[*]}" >&2
	exit 1
fi
