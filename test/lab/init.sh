#!/bin/busybox sh
# /init of the lab's initramfs: load the modules the Debian kernel has as modules (virtio,
# 9p, overlay, …), mount the host's root read-only over 9p with a tmpfs overlay on top, mount
# the lab's exchange directory at /run/isola-lab, and switch to stage2.sh there.
/bin/busybox mkdir -p /proc /sys /dev /bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do
  insmod "/modules/$m" 2>/dev/null || echo "isola-lab: insmod $m failed"
done
echo "isola-lab: booted"
if grep -q isola.probe /proc/cmdline; then echo o > /proc/sysrq-trigger; sleep 5; fi
mkdir -p /host /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host || { echo "isola-lab: cannot mount the host root"; echo o > /proc/sysrq-trigger; }
mount -t tmpfs -o mode=755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot || { echo "isola-lab: overlay mount failed"; echo o > /proc/sysrq-trigger; }
mount -t tmpfs -o mode=755 tmpfs /newroot/run
mkdir -p /newroot/run/isola-lab
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 labio /newroot/run/isola-lab
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /bin/sh /run/isola-lab/stage2.sh
