#!/bin/sh
# Second stage, in the guest's root (the host's root read-only + a tmpfs overlay): a cgroup2-only
# /sys/fs/cgroup (the kernel was booted with cgroup_no_v1=all), or the v1 hierarchies alone when
# the host asked for them, the command from the host, its
# exit status written back to /run/isola-lab/status, then power off.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
if [ "$(cat /run/isola-lab/cgroups 2>/dev/null)" = v1 ]; then
	# a legacy host: each v1 controller in its hierarchy, as systemd mounted them, no cgroup2
	mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
	for h in cpu,cpuacct cpuset memory devices freezer blkio pids net_cls,net_prio hugetlb perf_event; do
		mkdir -p /sys/fs/cgroup/$h
		mount -t cgroup -o $h cgroup /sys/fs/cgroup/$h || rmdir /sys/fs/cgroup/$h
	done
	for l in cpu cpuacct net_cls net_prio; do
		for h in cpu,cpuacct net_cls,net_prio; do
			case ",$h," in *",$l,"*) [ -d /sys/fs/cgroup/$h ] && ln -s $h /sys/fs/cgroup/$l ;; esac
		done
	done
	mkdir -p /sys/fs/cgroup/systemd
	mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
else
	mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
fi
# A private /tmp, but the command's working directory stays reachable when it lives there
# (CI clones the repository under /tmp): keep it aside and bind it back.
cwd=$(cat /run/isola-lab/cwd)
mkdir -p /run/isola-lab-cwd
mount --bind "$cwd" /run/isola-lab-cwd 2>/dev/null
mount -t tmpfs tmpfs /tmp
case "$cwd" in
/tmp/*) mkdir -p "$cwd" && mount --bind /run/isola-lab-cwd "$cwd" ;;
esac
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
hostname isola-lab
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ISOLA_LAB=1
. /run/isola-lab/env
cd "$(cat /run/isola-lab/cwd)" || echo "isola-lab: no such directory: $(cat /run/isola-lab/cwd)"
sh /run/isola-lab/cmd < /dev/null > /dev/console 2>&1
echo $? > /run/isola-lab/status
sync
# Power off without exec'ing anything more (the exchange share may be gone after sysrq).
/usr/bin/busybox poweroff -f 2>/dev/null
echo o > /proc/sysrq-trigger
while :; do :; done
