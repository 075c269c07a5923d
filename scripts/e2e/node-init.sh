#!/usr/bin/env bash
# PID 1 of a throwaway e2e node until it execs systemd. Run by scripts/e2e.sh
# as: nsenter --net=NETNS unshare -fpmuiC --mount-proc=no node-init.sh DIR
# (own mount, pid, uts, ipc and cgroup namespaces, the node's network
# namespace, already moved into the node's own cgroups). It mounts what a
# booted system expects inside DIR, makes DIR the root of its mount
# namespace and execs systemd as PID 1.
set -euo pipefail
dir=$1

mount --make-rprivate /
mount --bind "$dir" "$dir"
mount -t proc proc "$dir/proc"
# sysfs mounted from inside the node's network namespace shows its own
# interfaces under /sys/class/net.
mount -t sysfs sysfs "$dir/sys"
# Cgroups: fresh mounts of the host's hierarchies, seen from this cgroup
# namespace, so the node's root cgroup is the one the e2e script made for
# it (its systemd and kubelet nest under that; cleanup kills and removes it).
mount -t tmpfs -o mode=0755,nosuid,nodev,noexec cgroup "$dir/sys/fs/cgroup"
while read -r _ mnt fstype opts _; do
	case $mnt in /sys/fs/cgroup/*) ;; *) continue ;; esac
	case $fstype in cgroup | cgroup2) ;; *) continue ;; esac
	sub=${mnt#/sys/fs/cgroup/}
	mkdir -p "$dir/sys/fs/cgroup/$sub"
	mount -t "$fstype" -o "$opts" cgroup "$dir/sys/fs/cgroup/$sub"
done </proc/mounts
mount --rbind /dev "$dir/dev"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$dir/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$dir/tmp"
# The node's root becomes its mount namespace's root (pivot_root, as
# systemd-nspawn does), not a chroot: a process that joins a container's
# mount namespace later (kubectl exec) must find the container's files
# there, never the machine's /. The old root is let go at once.
cd "$dir"
mkdir -p run/.oldroot
pivot_root . run/.oldroot
umount -l /run/.oldroot
rmdir /run/.oldroot
exec /usr/bin/env -i container=other /lib/systemd/systemd --system
